import { expect } from "chai";
import { hexlify, randomBytes, Transaction, Wallet } from "ethers";

import { signEip1559, type Eip1559Fields } from "../../oracle/chain/eip1559.js";

describe("oracle: EIP-1559 signing without ethers' Transaction", function () {
  const wallet = Wallet.createRandom();

  function viaEthers(fields: Eip1559Fields) {
    const tx = Transaction.from({ type: 2, value: 0n, ...fields });
    tx.signature = wallet.signingKey.sign(tx.unsignedHash);
    return { raw: tx.serialized, hash: tx.hash! };
  }

  it("produces ethers' exact bytes and hash, recoverable to the signer, across RLP length boundaries", function () {
    const cases: Eip1559Fields[] = [];
    for (const nonce of [0, 1, 127, 128, 255, 256, 65_536]) {
      for (const dataLength of [0, 1, 55, 56, 600]) {
        cases.push({
          chainId: nonce % 2 === 0 ? 31_337n : 11_155_111n, nonce, to: Wallet.createRandom().address,
          data: dataLength === 1 ? "0x7f" : hexlify(randomBytes(dataLength)),
          gasLimit: 600_000n, maxFeePerGas: 3n * 10n ** 9n + BigInt(nonce), maxPriorityFeePerGas: nonce === 0 ? 0n : 10n ** 9n,
        });
      }
    }
    for (const fields of cases) {
      const mine = signEip1559(fields, wallet.signingKey);
      expect(mine).to.deep.equal(viaEthers(fields));
      const parsed = Transaction.from(mine.raw);
      expect(parsed.from).to.equal(wallet.address);
      expect(parsed.nonce).to.equal(fields.nonce);
      expect(parsed.data).to.equal(fields.data);
    }
  });

  it("refuses malformed hex and negative integers instead of signing something else", function () {
    const fields: Eip1559Fields = { chainId: 1n, nonce: 0, to: wallet.address, data: "0x", gasLimit: 21_000n, maxFeePerGas: 1n, maxPriorityFeePerGas: 1n };
    expect(() => signEip1559({ ...fields, data: "0xabc" }, wallet.signingKey)).to.throw(TypeError);
    expect(() => signEip1559({ ...fields, to: "0xzz" }, wallet.signingKey)).to.throw(TypeError);
    expect(() => signEip1559({ ...fields, maxFeePerGas: -1n }, wallet.signingKey)).to.throw(RangeError);
  });
});
