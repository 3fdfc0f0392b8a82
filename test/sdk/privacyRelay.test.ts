/**
 * sdk/privacy's relayed private consent, against a real HTTP relayer stand-in on loopback that
 * records what it is asked to send: the commitment on grant, (consentHash, secret) on revoke, and
 * that the revocation opens the commitment the grant published.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

import { expect } from "chai";
import { AbiCoder, getAddress, keccak256, Wallet } from "ethers";

import { hexToBytes } from "../../core/hex.js";
import { Category, Purpose } from "../../protocol/codes.js";
import { privateCommitment } from "../../protocol/privateConsent.js";
import { grantConsentPrivate, relay, RelayerError, revokeConsentPrivate } from "../../sdk/privacy/index.js";

describe("sdk/privacy: private consent through a relayer", function () {
  let server: Server;
  let url: string;
  const received: { method: string; args: unknown[] }[] = [];
  let refuse = false;

  before(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        if (request.url !== "/relay" || request.method !== "POST") { response.writeHead(404).end(); return; }
        received.push(JSON.parse(Buffer.concat(chunks).toString("utf8")) as { method: string; args: unknown[] });
        response.writeHead(refuse ? 400 : 200, { "content-type": "application/json" });
        response.end(JSON.stringify(refuse ? { code: "RELAYER_SELECTOR", message: "not allowed" } : { transactionHash: `0x${"12".repeat(32)}` }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("grant publishes only the commitment; revoke sends the consent hash and the secret that open it", async () => {
    const patient = Wallet.createRandom();
    const patientSecret = hexToBytes(patient.privateKey);
    const consent = { grantee: Wallet.createRandom().address, groupId: 0n, purpose: Purpose.TREAT, categories: 1 << Category.VITAL_SIGNS, validFrom: 1_764_633_600, validUntil: 1_767_225_600, epoch: 0 };
    const { grant, transactionHash } = await grantConsentPrivate({ signer: patient, patientSecret, chainId: 31337, consentManager: getAddress("0xdc64a140aa3e981100a9beca4e685f962f0cf6c9"), consent, relayerUrl: url });
    expect(transactionHash).to.equal(`0x${"12".repeat(32)}`);
    expect(received.at(-1)).to.deep.equal({ method: "grantConsentPrivate", args: [grant.commitment] });
    expect(JSON.stringify(received.at(-1))).not.to.contain(patient.address.slice(2).toLowerCase());

    await revokeConsentPrivate({ opening: grant.opening, patientSecret, relayerUrl: url });
    const revoke = received.at(-1)!;
    expect(revoke.method).to.equal("revokeConsentPrivate");
    const [consentHash, secret] = revoke.args as [string, string];
    expect(privateCommitment(consentHash, keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32"], [secret])))).to.equal(grant.commitment);
  });

  it("a refusal is SDK_RELAYER with the relayer's code", async () => {
    refuse = true;
    try {
      await relay({ relayerUrl: url, method: "grantConsentPrivate", args: [`0x${"00".repeat(32)}`] });
      expect.fail("relay should have thrown");
    } catch (error) {
      expect(error).to.be.instanceOf(RelayerError);
      expect((error as RelayerError).details).to.include({ status: 400, code: "RELAYER_SELECTOR" });
    } finally {
      refuse = false;
    }
  });
});
