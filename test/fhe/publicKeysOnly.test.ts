import { expect } from "chai";

import { FheClient, FhePublicEncryptor, loadModel, NotPublicKeysError } from "../../fhe/index.js";
import { checkPublicKeysOnly, openSecretKey, readEvaluationKeysBlob, writeEvaluationKeysBlob } from "../../fhe/keys.js";
import { getParameterSet, PARAMETER_SET_IDS } from "../../fhe/params.js";
import { parameterContext } from "../../fhe/seal.js";
import { loadMaternalRisk } from "../../models/datasets.js";

const model = loadModel("maternal-risk-v1");
const reading = loadMaternalRisk().rows[3]!;

/** The secret key's SEAL bytes, as a caller who mixed up the two would hold them. */
async function secretKeyBytesOf(fhe: FheClient): Promise<Uint8Array> {
  return (await openSecretKey(await fhe.exportSecretKey("pass"), "pass")).secretKeyBytes;
}

function refusal(run: () => unknown): NotPublicKeysError {
  try {
    run();
  } catch (error) {
    expect(error).to.be.instanceOf(NotPublicKeysError);
    expect((error as NotPublicKeysError).code).to.equal("FHE_NOT_PUBLIC_KEYS");
    return error as NotPublicKeysError;
  }
  return expect.fail("expected NotPublicKeysError");
}

describe("fhe: an evaluation-keys blob must load as public keys only", function () {
  this.timeout(120_000);

  it("the pinned key-level parms_id of every parameter set is the one SEAL computes", async function () {
    for (const id of PARAMETER_SET_IDS) {
      const ctx = await parameterContext(id);
      const keyLevel = ctx.context.keyContextData();
      const parmsId = keyLevel.parmsId();
      const hex = Buffer.from((parmsId.values() as BigUint64Array).buffer.slice(0)).toString("hex");
      parmsId.delete();
      keyLevel.delete();
      expect(getParameterSet(id).keyParmsIdHex, id).to.equal(hex);
    }
  });

  it("accepts what FheClient publishes, at N=2048 (public key only) and N=8192 (with key switching)", async function () {
    const small = await FheClient.generate("ckks-2048-v1");
    const large = await FheClient.generate("ckks-8192-v1");
    try {
      expect(checkPublicKeysOnly(small.evaluationKeys()).paramSetId).to.equal("ckks-2048-v1");
      const withSwitching = checkPublicKeysOnly(large.evaluationKeys({ relinKeys: true, galoisSteps: [1, 2] }), "ckks-8192-v1");
      expect(withSwitching.sections.relinKeys).to.not.equal(undefined);
      expect(withSwitching.sections.galoisKeys?.steps).to.deep.equal([1, 2]);
    } finally {
      small.dispose();
      large.dispose();
    }
  });

  it("refuses a secret key saved where the public key goes, though the structural reader takes it", async function () {
    const fhe = await FheClient.generate(model.paramSetId);
    try {
      const mistaken = writeEvaluationKeysBlob(model.paramSetId, { publicKey: await secretKeyBytesOf(fhe) });
      // What let it through before: the section checks see valid SEAL data of an allowed size.
      expect(readEvaluationKeysBlob(mistaken, model.paramSetId).publicKey).to.not.equal(undefined);
      const error = refusal(() => checkPublicKeysOnly(mistaken));
      expect(error.details.reason).to.match(/size of no public key|not a SEAL public key/);
      // A device handed it refuses it too.
      let deviceError: unknown;
      await FhePublicEncryptor.fromEvaluationKeys(mistaken, model.paramSetId).catch((e: unknown) => (deviceError = e));
      expect(deviceError).to.be.instanceOf(NotPublicKeysError);
    } finally {
      fhe.dispose();
    }
  });

  it("refuses the exported (encrypted) secret key, an input ciphertext, a blob without public key, and junk", async function () {
    const fhe = await FheClient.generate(model.paramSetId);
    try {
      const keys = fhe.evaluationKeys();
      const cases: [string, Uint8Array][] = [
        ["exported secret key", await fhe.exportSecretKey("pass")],
        ["input ciphertext", fhe.encrypt(model, reading)],
        ["no public key section", writeEvaluationKeysBlob(model.paramSetId, {})],
        ["random bytes", globalThis.crypto.getRandomValues(new Uint8Array(4096))],
        ["truncated", keys.subarray(0, keys.length - 1)],
      ];
      for (const [what, blob] of cases) expect(() => checkPublicKeysOnly(blob), what).to.throw(NotPublicKeysError);
      // One byte of the public key's metadata changed (its size field, 2 → 3): refused at that offset.
      const altered = keys.slice();
      const publicKeyStart = 96 + 1 + 2 + 4;
      altered[publicKeyStart + 49] = 3;
      expect(refusal(() => checkPublicKeysOnly(altered)).details).to.include({ offset: 49 });
      // Another parameter set's name: refused when the caller says which set it expects.
      refusal(() => checkPublicKeysOnly(keys, "ckks-8192-v1"));
    } finally {
      fhe.dispose();
    }
  });
});
