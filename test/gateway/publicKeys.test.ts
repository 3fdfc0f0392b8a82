import { readdir } from "node:fs/promises";
import { join } from "node:path";

import { expect } from "chai";
import { Wallet } from "ethers";

import { sha256Hex } from "../../core/hash.js";
import { FheClient } from "../../fhe/client.js";
import { openSecretKey, writeEvaluationKeysBlob } from "../../fhe/keys.js";
import { createGatewayClient } from "../../sdk/gateway/client.js";
import { signedPut, startTestGateway, type TestGateway } from "./helpers.js";

const PARAM_SET = "ckks-2048-v1";

/** Every file under the gateway's blob directory (the store writes one per blob). */
async function storedBlobFiles(dir: string): Promise<string[]> {
  const entries = await readdir(join(dir, "blobs"), { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => entry.name);
}

describe("gateway: evaluation-keys uploads must hold public keys only", function () {
  this.timeout(60_000);
  let gw: TestGateway;
  let fhe: FheClient;
  const patient = Wallet.createRandom();

  before(async function () {
    fhe = await FheClient.generate(PARAM_SET);
  });
  after(() => fhe.dispose());
  beforeEach(async function () {
    gw = await startTestGateway();
  });
  afterEach(async function () {
    await gw.close();
  });

  it("stores a real key set, and refuses a secret key in its place: 422 GATEWAY_NOT_PUBLIC_KEYS, nothing stored, refusal audited", async function () {
    const client = createGatewayClient({ url: gw.url, signer: patient, chainId: 31337, gatewayAddress: gw.key.address });
    const keys = fhe.evaluationKeys();
    expect(await client.put(keys, { owner: patient.address, kind: "he-keys", category: 7 })).to.equal(sha256Hex(keys));
    const before = await storedBlobFiles(gw.dir);
    expect(before).to.have.length(1);

    const { secretKeyBytes } = await openSecretKey(await fhe.exportSecretKey("pass"), "pass");
    const mistaken = writeEvaluationKeysBlob(PARAM_SET, { publicKey: secretKeyBytes });
    const response = await signedPut(gw.url, gw.key.address, patient, mistaken, { owner: patient.address, kind: "he-keys", category: 7 })();
    expect(response.status).to.equal(422);
    const body = (await response.json()) as { error: { code: string; details: { reason: string } } };
    expect(body.error.code).to.equal("GATEWAY_NOT_PUBLIC_KEYS");
    expect(body.error.details.reason).to.be.a("string").and.not.equal("");

    expect(await storedBlobFiles(gw.dir)).to.deep.equal(before);
    let missing: unknown;
    await client.get(sha256Hex(mistaken), { purpose: 1 }).catch((error: unknown) => (missing = error));
    expect((missing as { code?: string }).code).to.equal("GATEWAY_BLOB_NOT_FOUND");
    const refusals = (await gw.audit.entries()).filter((entry) => entry.outcome === "refused");
    expect(refusals.map((entry) => [entry.blobId, entry.reason])).to.deep.include([sha256Hex(mistaken), "GATEWAY_NOT_PUBLIC_KEYS"]);
    client.close();
  });

  it("refuses an exported (encrypted) secret key and junk uploaded as he-keys; other kinds are not parsed", async function () {
    const client = createGatewayClient({ url: gw.url, signer: patient, chainId: 31337, gatewayAddress: gw.key.address });
    for (const bytes of [await fhe.exportSecretKey("pass"), globalThis.crypto.getRandomValues(new Uint8Array(2048))]) {
      let refused: unknown;
      await client.put(bytes, { owner: patient.address, kind: "he-keys", category: 7 }).catch((error: unknown) => (refused = error));
      expect((refused as { code?: string }).code).to.equal("GATEWAY_NOT_PUBLIC_KEYS");
    }
    expect(await storedBlobFiles(gw.dir)).to.deep.equal([]);
    const record = globalThis.crypto.getRandomValues(new Uint8Array(2048));
    expect(await client.put(record, { owner: patient.address, kind: "record", category: 1 })).to.equal(sha256Hex(record));
    client.close();
  });
});
