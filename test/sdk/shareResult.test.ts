import { expect } from "chai";
import { AbiCoder } from "ethers";

import { createEvaluator, FheClient, loadModel, type Reading as FeatureReading } from "../../fhe/index.js";
import { createPatientIdentity } from "../../sdk/actions/createPatientIdentity.js";
import { getPredictionResult } from "../../sdk/actions/getPredictionResult.js";
import { grantConsent } from "../../sdk/actions/grantConsent.js";
import { readSharedResult } from "../../sdk/actions/readSharedResult.js";
import { registerPatient } from "../../sdk/actions/registerPatient.js";
import { requestPrediction } from "../../sdk/actions/requestPrediction.js";
import { shareResult } from "../../sdk/actions/shareResult.js";
import { waitForPrediction } from "../../sdk/actions/waitForPrediction.js";
import { Category, Purpose } from "../../protocol/codes.js";
import { createGatewayClient } from "../../sdk/gateway/client.js";
import { paramSetIdToBytes32 } from "../../sdk/predictions.js";
import { floodingKey, floodingNoise, floodingSigma } from "../../sdk/results/release.js";
import { startFixture, type Fixture } from "./fixture.js";

async function code(promise: Promise<unknown>): Promise<string | undefined> {
  return promise.then(() => undefined, (error: unknown) => (error as { code?: string }).code);
}

describe("decryption hygiene: a shared result is flooded with noise at the model's precision and rounded (sdk/results/release.ts)", function () {
  this.timeout(120_000);
  const model = loadModel("maternal-risk-v1");

  it("floodingNoise: Gaussian with σ = 10^−scoreDecimals, the same for the same key and result, independent otherwise", function () {
    const sigma = floodingSigma(model.output);
    expect(sigma).to.equal(0.001);
    const key = floodingKey(globalThis.crypto.getRandomValues(new Uint8Array(32)));
    const noise = floodingNoise(key, `0x${"ab".repeat(32)}`, sigma);
    const draws = Array.from({ length: 20_000 }, (_, i) => noise(i));
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    const sd = Math.sqrt(draws.reduce((a, b) => a + (b - mean) ** 2, 0) / draws.length);
    expect(Math.abs(mean)).to.be.below(4 * sigma / Math.sqrt(draws.length));
    expect(sd / sigma).to.be.within(0.97, 1.03);
    // About 4.55% of a Gaussian lies beyond 2σ.
    expect(draws.filter((d) => Math.abs(d) > 2 * sigma).length / draws.length).to.be.within(0.04, 0.051);
    expect(floodingNoise(key, `0x${"ab".repeat(32)}`, sigma)(7)).to.equal(noise(7));
    expect(floodingNoise(key, `0x${"cd".repeat(32)}`, sigma)(7)).to.not.equal(noise(7));
    expect(floodingNoise(floodingKey(new Uint8Array(32)), `0x${"ab".repeat(32)}`, sigma)(7)).to.not.equal(noise(7));
  });

  it("FheClient.decrypt adds the noise to each raw score before rounding", async function () {
    const fhe = await FheClient.generate(model.paramSetId);
    const evaluator = await createEvaluator();
    try {
      const reading: FeatureReading = Object.fromEntries(model.encodingSpec.inputs.map((input) => [input.name, input.categories?.[0] ?? (input.min + input.max) / 2]));
      const result = await evaluator.evaluate(model, fhe.encrypt(model, [reading, reading]));
      const plain = fhe.decrypt(model, result);
      const indices: number[] = [];
      const shifted = fhe.decrypt(model, result, { noise: (i) => (indices.push(i), 0.25) });
      expect(indices).to.deep.equal([0, 1, 2, 3]); // 2 readings × 2 scores
      shifted.forEach((prediction, r) => prediction.scores.forEach((s, k) => expect(Math.abs(s - plain[r]!.scores[k]! - 0.25)).to.be.at.most(0.0011)));
    } finally {
      fhe.dispose();
      evaluator.dispose();
    }
  });

  describe("shareResult / readSharedResult on a real chain and gateway", function () {
    let fx: Fixture;
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

    it("the patient shares a fulfilled prediction: sealed to the clinician, scores flooded and rounded, the same values when shared again", async function () {
      const patient = await fx.actor("patient");
      const oracle = await fx.actor("oracle");
      const clinician = await fx.actor("clinician");
      const { fhe: generated } = await createPatientIdentity({ paramSetId: model.paramSetId });
      const fhe = generated!;
      const evaluator = await createEvaluator();
      try {
        const { keysHash } = await registerPatient(patient.client, { encryptionPublicKey: patient.encryptionKey.publicKey, evaluationKeys: fhe.evaluationKeys(), paramSetId: paramSetIdToBytes32(model.paramSetId) });
        const reading: FeatureReading = Object.fromEntries(model.encodingSpec.inputs.map((input) => [input.name, input.categories?.[0] ?? (input.min + input.max) / 2]));
        const modelId = Number(await fx.suite.models.modelIdOf(model.id, model.version));
        const request = await requestPrediction(patient.client, { modelId, fhe, readings: reading });

        // The oracle's part, as in test/sdk/prediction.test.ts: evaluate, store, fulfil.
        const gateway = createGatewayClient({ url: fx.service.url, signer: oracle.wallet, chainId: patient.client.chainId, gatewayAddress: fx.gatewayKey.address });
        const input = await gateway.get(request.inputHash, { purpose: Purpose.TREATDS, ref: request.requestId });
        const result = await evaluator.evaluate(model, input);
        const resultHash = await gateway.put(result, { owner: patient.wallet.address, kind: "he-result", category: Category.PREDICTION, ref: request.requestId, purpose: Purpose.TREATDS });
        const receipt = await fx.provider.getTransactionReceipt(request.transactionHash);
        const oracleRequest = receipt!.logs.map((log) => { try { return fx.suite.operator.interface.parseLog(log); } catch { return null; } }).find((parsed) => parsed?.name === "OracleRequest")!;
        const data = AbiCoder.defaultAbiCoder().encode(["bytes32", "uint16", "bytes32", "string", "bytes"], [request.requestId, 0, resultHash, `${fx.service.url}/v1/blobs/${resultHash}`, "0x"]);
        await (await fx.suite.operator.connect(oracle.wallet).fulfillOracleRequest2(
          oracleRequest.args.getValue("requestId"), oracleRequest.args.getValue("payment"), oracleRequest.args.getValue("callbackAddr"),
          oracleRequest.args.getValue("callbackFunctionId"), oracleRequest.args.getValue("cancelExpiration"), data, { gasLimit: 1_000_000 },
        )).wait();
        await waitForPrediction(patient.client, { requestId: request.requestId, timeoutMs: 10_000 });

        const own = await getPredictionResult(patient.client, { requestId: request.requestId, fhe, keysHash });
        const { shareId, shared } = await shareResult(patient.client, { requestId: request.requestId, fhe, keysHash, grantee: clinician.wallet.address, granteeEncryptionKey: clinician.encryptionKey.publicKey });
        expect(shared.release).to.deep.equal({ scheme: "gaussian-flooding-v1", scoreDecimals: 3, floodSigma: 0.001 });
        // Flooded then rounded: on the 0.001 grid, within a few σ (plus the CKKS error) of the patient's own view.
        shared.predictions[0]!.scores.forEach((s, k) => {
          expect(Math.abs(s * 1000 - Math.round(s * 1000))).to.be.below(1e-9);
          expect(Math.abs(s - own.predictions[0]!.scores[k]!)).to.be.at.most(6 * 0.001);
        });
        // The noise is the patient's own, applied to this result: what the grantee gets is exactly it.
        const noise = floodingNoise(floodingKey(patient.encryptionKey.privateKey), resultHash, 0.001);
        const expected = fhe.decrypt(model, result, { noise });
        expect(shared.predictions).to.deep.equal(expected);

        // Consent for PREDICTION decision support opens the blob; the sealed box opens only for the clinician.
        expect(await code(readSharedResult(clinician.client, { shareId, purpose: Purpose.TREATDS }))).to.equal("GATEWAY_FORBIDDEN");
        await grantConsent(patient.client, { grantee: clinician.wallet.address, purpose: Purpose.TREATDS, categories: [Category.PREDICTION], validUntil: Math.floor(Date.now() / 1000) + 86_400 });
        const read = await readSharedResult(clinician.client, { shareId, purpose: Purpose.TREATDS });
        expect(read.predictions).to.deep.equal(shared.predictions);
        const stored = await patient.client.gateway!.get(shareId, { purpose: Purpose.PATRQT });
        expect(new TextDecoder().decode(stored.subarray(0, 4))).to.equal("MCS1");

        // Shared again (to the same or another grantee): the same released values, nothing to average away.
        const again = await shareResult(patient.client, { requestId: request.requestId, fhe, keysHash, grantee: clinician.wallet.address, granteeEncryptionKey: clinician.encryptionKey.publicKey });
        expect(again.shareId).to.not.equal(shareId);
        expect(again.shared.predictions).to.deep.equal(shared.predictions);
      } finally {
        evaluator.dispose();
        fhe.dispose();
      }
    });
  });
});
