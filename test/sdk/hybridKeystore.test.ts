import { expect } from "chai";
import { hexlify } from "ethers";

import { generateHybridKeyPair, isHybridKeyPair } from "../../sdk/crypto/hybrid.js";
import { generateEncryptionKeyPair } from "../../sdk/crypto/x25519.js";
import { decryptKeystore, encryptKeystore, type KeystoreSecrets } from "../../sdk/keystore/format.js";
import { recipientKeyFromSecrets, withHybridEncryptionKey } from "../../sdk/keystore/hybridEncryptionKey.js";

const FAST = { N: 1 << 4, r: 8, p: 1 };

describe("sdk: the hybrid encryption key in the keystore", function () {
  it("adds the ML-KEM seed beside the X25519 pair, survives encryption, and rebuilds the same hybrid pair; older keystores give the X25519 pair", async function () {
    const x25519 = await generateEncryptionKeyPair();
    const old: KeystoreSecrets = { encryption: { publicKey: hexlify(x25519.publicKey), privateKey: hexlify(x25519.privateKey) } };
    expect(await recipientKeyFromSecrets(old), "a keystore written before: X25519 only").to.deep.equal(x25519);

    const hybrid = await generateHybridKeyPair(x25519);
    const { secrets, added } = withHybridEncryptionKey(old, hybrid);
    expect(added).to.equal(true);
    expect(secrets.encryption).to.deep.equal(old.encryption);
    expect(withHybridEncryptionKey(secrets, await generateHybridKeyPair(x25519)).added, "one hybrid key kept; replace swaps it").to.equal(false);

    const address = "0x" + "11".repeat(20);
    const opened = await decryptKeystore(await encryptKeystore(address, secrets, "pw", FAST), "pw");
    const rebuilt = await recipientKeyFromSecrets(opened.secrets);
    expect(rebuilt && isHybridKeyPair(rebuilt)).to.equal(true);
    expect(rebuilt).to.deep.equal(hybrid);
  });

  it("refuses a hybrid key whose X25519 half is not the keystore's, and a damaged or mismatched entry (KeystoreError)", async function () {
    const x25519 = await generateEncryptionKeyPair();
    const secrets: KeystoreSecrets = { encryption: { publicKey: hexlify(x25519.publicKey), privateKey: hexlify(x25519.privateKey) } };
    expect(() => withHybridEncryptionKey(secrets, { x25519: { publicKey: new Uint8Array(32).fill(9), privateKey: new Uint8Array(32) }, mlkem: { publicKey: new Uint8Array(1184), seed: new Uint8Array(64) } })).to.throw(/X25519 half/);
    const { secrets: withKey } = withHybridEncryptionKey(secrets, await generateHybridKeyPair(x25519));
    const otherSeed = { ...withKey, hybridEncryption: { ...withKey.hybridEncryption!, mlkemSeed: withKey.hybridEncryption!.mlkemSeed.replace(/^./, (c) => (c === "A" ? "B" : "A")) } };
    const mismatched = await recipientKeyFromSecrets(otherSeed).then(() => undefined, (e: { code?: string }) => e.code);
    expect(mismatched).to.equal("SDK_KEYSTORE");
    const damaged = await recipientKeyFromSecrets({ ...withKey, hybridEncryption: { ...withKey.hybridEncryption!, mlkemSeed: "AAAA" } }).then(() => undefined, (e: { code?: string }) => e.code);
    expect(damaged).to.equal("SDK_KEYSTORE");
  });
});
