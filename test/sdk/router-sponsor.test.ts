import { readdir } from "node:fs/promises";
import { join } from "node:path";

import { expect } from "chai";

import { loadModel } from "../../fhe/index.js";
import { createPatientIdentity } from "../../sdk/actions/createPatientIdentity.js";
import { registerPatient } from "../../sdk/actions/registerPatient.js";
import { requestPrediction } from "../../sdk/actions/requestPrediction.js";
import { ChainError } from "../../sdk/errors.js";
import { paramSetIdToBytes32 } from "../../sdk/predictions.js";
import { startFixture, type Fixture } from "./fixture.js";

describe("requestPrediction without a sponsor", function () {
  this.timeout(120_000);
  let fx: Fixture;
  const model = loadModel("maternal-risk-v1");

  before(async function () {
    fx = await startFixture();
    await (await fx.suite.models.registerModel({
      name: model.id, version: model.version, weightsHash: model.weightsHash, weightsUri: `file:models/${model.id}.json`,
      paramSetId: paramSetIdToBytes32(model.paramSetId), encodingSpecHash: model.encodingSpecHash,
      outputKind: model.output.kind === "sigmoid" ? 1 : 2, isPrivate: model.isPrivate,
    })).wait();
  });
  after(async function () {
    await fx?.close();
  });

  it("throws ChainError NoSponsor before anything is uploaded or sent, and works once governance sponsors the patient", async function () {
    const patient = await fx.actor("patient");
    const { fhe } = await createPatientIdentity({ paramSetId: model.paramSetId });
    try {
      await registerPatient(patient.client, { encryptionPublicKey: patient.encryptionKey.publicKey, evaluationKeys: fhe!.evaluationKeys(), paramSetId: paramSetIdToBytes32(model.paramSetId) });
      await (await fx.suite.router.sponsorPatients([patient.wallet.address], 0n)).wait();
      const modelId = Number(await fx.suite.models.modelIdOf(model.id, model.version));
      const reading = Object.fromEntries(model.encodingSpec.inputs.map((input) => [input.name, input.categories?.[0] ?? (input.min + input.max) / 2]));
      const nonce = await fx.provider.getTransactionCount(patient.wallet.address);
      const blobs = join(fx.dataDir, "gateway", "meta");
      const stored = (await readdir(blobs, { recursive: true })).length;

      const error = await requestPrediction(patient.client, { modelId, fhe: fhe!, readings: reading }).then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(ChainError);
      expect((error as ChainError).details).to.include({ action: "requestPrediction", reason: "NoSponsor" });
      expect(await fx.provider.getTransactionCount(patient.wallet.address)).to.equal(nonce);
      expect((await readdir(blobs, { recursive: true })).length, "no input ciphertext uploaded").to.equal(stored);

      await (await fx.suite.router.sponsorPatients([patient.wallet.address], 10n ** 18n)).wait();
      const { requestId } = await requestPrediction(patient.client, { modelId, fhe: fhe!, readings: reading });
      expect((await fx.suite.router.getRequest(requestId)).patient).to.equal(patient.wallet.address);
    } finally {
      fhe!.dispose();
    }
  });
});
