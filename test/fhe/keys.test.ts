import { expect } from "chai";

import { sha256Hex } from "../../core/hash.js";
import { HEADER_BYTES, readBlobHeader } from "../../fhe/blob.js";
import { createEvaluator, FheClient, loadModel, MalformedBlobError, WrongPassphraseError } from "../../fhe/index.js";
import { openSecretKey, readEvaluationKeysBlob, sealSecretKey } from "../../fhe/keys.js";
import { loadMaternalRisk } from "../../models/datasets.js";

const model = loadModel("maternal-risk-v1");
const reading = loadMaternalRisk().rows[3]!;

async function rejects(promise: Promise<unknown>, type: new (...args: never[]) => Error): Promise<void> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(type);
    return;
  }
  expect.fail(`expected ${type.name}`);
}

describe("fhe: keys", function () {
  this.timeout(60_000);

  it("exports the secret key only encrypted, and an imported key set decrypts the original's results", async function () {
    const original = await FheClient.generate(model.paramSetId);
    const evaluator = await createEvaluator();
    try {
      const exported = await original.exportSecretKey("correct horse battery staple");
      const header = readBlobHeader(exported, "secretKey");
      expect(header.paramSetId).to.equal(model.paramSetId);
      // The plaintext key must not appear in the export: look for any 32-byte window of it.
      const { secretKeyBytes } = await openSecretKey(exported, "correct horse battery staple");
      const haystack = Buffer.from(exported);
      for (let offset = 200; offset < secretKeyBytes.length - 32; offset += 997) {
        expect(haystack.indexOf(Buffer.from(secretKeyBytes.subarray(offset, offset + 32)))).to.equal(-1);
      }
      const input = original.encrypt(model, reading);
      const result = await evaluator.evaluate(model, input);
      const restored = await FheClient.importSecretKey(exported, "correct horse battery staple");
      try {
        expect(restored.decrypt(model, result)).to.deep.equal(original.decrypt(model, result));
        // The restored set also encrypts for the same key: the original decrypts it.
        const again = await evaluator.evaluate(model, restored.encrypt(model, reading));
        expect(original.decrypt(model, again)[0]!.classIndex).to.equal(original.decrypt(model, result)[0]!.classIndex);
      } finally {
        restored.dispose();
      }
    } finally {
      original.dispose();
      evaluator.dispose();
    }
  });

  it("wrong passphrase or an altered export → WrongPassphraseError; out-of-range scrypt cost → MalformedBlobError", async function () {
    const client = await FheClient.generate(model.paramSetId);
    try {
      const exported = await client.exportSecretKey("right");
      await rejects(FheClient.importSecretKey(exported, "wrong"), WrongPassphraseError);
      const headerFlip = Uint8Array.from(exported);
      headerFlip[44] = 1; // authenticated header (readings field)
      await rejects(FheClient.importSecretKey(headerFlip, "right"), WrongPassphraseError);
      const bodyFlip = Uint8Array.from(exported);
      bodyFlip[bodyFlip.length - 100]! ^= 1;
      await rejects(FheClient.importSecretKey(bodyFlip, "right"), WrongPassphraseError);
      const costly = Uint8Array.from(exported);
      costly[HEADER_BYTES] = 30; // N = 2^30 would exhaust memory: refused before scrypt runs
      await rejects(FheClient.importSecretKey(costly, "right"), MalformedBlobError);
      const e = await openSecretKey(await sealSecretKey("ckks-2048-v1", Uint8Array.from({ length: 64 }, (_, i) => i), "p", { logN: 14, r: 8, p: 1 }), "p");
      expect([...e.secretKeyBytes]).to.deep.equal(Array.from({ length: 64 }, (_, i) => i));
    } finally {
      client.dispose();
    }
  });

  it("evaluation keys at N=2048: the public key only, naming the parameter set; hash is over the published bytes", async function () {
    const client = await FheClient.generate("ckks-2048-v1");
    try {
      const keys = client.evaluationKeys();
      expect(readBlobHeader(keys, "evaluationKeys").paramSetId).to.equal("ckks-2048-v1");
      const sections = readEvaluationKeysBlob(keys, "ckks-2048-v1");
      expect(Object.keys(sections)).to.deep.equal(["publicKey"]);
      expect(keys.length).to.be.below(20_000);
      expect(sha256Hex(keys)).to.equal(sha256Hex(Uint8Array.from(keys)));
    } finally {
      client.dispose();
    }
  });

  it("evaluation keys at N=8192: relinearisation keys and exactly the Galois steps asked for", async function () {
    const client = await FheClient.generate("ckks-8192-v1");
    try {
      const keys = client.evaluationKeys({ relinKeys: true, galoisSteps: [1, 2, 4, 8] });
      const sections = readEvaluationKeysBlob(keys, "ckks-8192-v1");
      expect(sections.galoisKeys?.steps).to.deep.equal([1, 2, 4, 8]);
      expect(sections.relinKeys?.[5]).to.equal(2); // zstd
      expect(sections.publicKey?.length).to.be.greaterThan(0);
      const fewer = readEvaluationKeysBlob(client.evaluationKeys({ galoisSteps: [1] }), "ckks-8192-v1");
      expect(fewer.relinKeys).to.equal(undefined);
      expect(fewer.galoisKeys!.bytes.length).to.be.below(sections.galoisKeys!.bytes.length / 2);
    } finally {
      client.dispose();
    }
  });
});
