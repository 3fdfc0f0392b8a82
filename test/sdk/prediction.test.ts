import { expect } from "chai";
import { AbiCoder, encodeBytes32String } from "ethers";

import { sha256Hex, type Sha256Hex } from "../../core/hash.js";
import { createEvaluator, encodeReading, loadModel, type Reading as FeatureReading } from "../../fhe/index.js";
import { scores as plainScores, probabilities as plainProbabilities } from "../../models/logistic.js";
import { createPatientIdentity } from "../../sdk/actions/createPatientIdentity.js";
import { getPredictionResult } from "../../sdk/actions/getPredictionResult.js";
import { ingestReadings } from "../../sdk/actions/ingestReadings.js";
import { registerPatient } from "../../sdk/actions/registerPatient.js";
import { requestPrediction } from "../../sdk/actions/requestPrediction.js";
import { waitForPrediction } from "../../sdk/actions/waitForPrediction.js";
import { Category, Purpose } from "../../protocol/codes.js";
import { createGatewayClient } from "../../sdk/gateway/client.js";
import { paramSetIdToBytes32 } from "../../sdk/predictions.js";
import { startFixture, type Fixture } from "./fixture.js";

async function code(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

describe("predictions: the oracle's gateway rights and the patient's request → fulfil → decrypt", function () {
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

  it("lets the oracle read only the request's input and keys, write its result, and the patient decrypt it", async function () {
    const patient = await fx.actor("patient");
    const oracle = await fx.actor("oracle");
    const { fhe: generated } = await createPatientIdentity({ paramSetId: model.paramSetId });
    const fhe = generated!;
    const evaluator = await createEvaluator();
    try {
      const evaluationKeys = fhe.evaluationKeys();
      const { keysHash } = await registerPatient(patient.client, { encryptionPublicKey: patient.encryptionKey.publicKey, evaluationKeys, paramSetId: paramSetIdToBytes32(model.paramSetId) });
      // Another blob of the patient that no prediction names.
      const { records } = await ingestReadings(patient.client, { patient: patient.wallet.address, readings: [{ time: "2026-03-01T00:00:00.000Z", metric: "heart_rate", value: 70 }] });

      const reading: FeatureReading = Object.fromEntries(model.encodingSpec.inputs.map((input) => [input.name, input.categories?.[0] ?? (input.min + input.max) / 2]));
      const modelId = Number(await fx.suite.models.modelIdOf(model.id, model.version));
      const request = await requestPrediction(patient.client, { modelId, fhe, readings: reading });

      // The oracle, through its own gateway client, names the request it serves.
      const gateway = createGatewayClient({ url: fx.service.url, signer: oracle.wallet, chainId: patient.client.chainId, gatewayAddress: fx.gatewayKey.address, session: true });
      const input = await gateway.get(request.inputHash, { purpose: Purpose.TREATDS, ref: request.requestId });
      const keys = await gateway.get(keysHash, { purpose: Purpose.TREATDS, ref: request.requestId });
      expect(await code(gateway.get(records[0]!.blobId, { purpose: Purpose.TREATDS, ref: request.requestId }))).to.equal("GATEWAY_FORBIDDEN");
      expect(await code(gateway.get(request.inputHash, { purpose: Purpose.TREATDS }))).to.equal("GATEWAY_FORBIDDEN");
      expect(await code(gateway.get(request.inputHash, { purpose: Purpose.TREATDS, ref: encodeBytes32String("no such request") }))).to.equal("GATEWAY_FORBIDDEN");
      // Results only, only for the pending request, only as PREDICTION.
      expect(await code(gateway.put(new Uint8Array([1, 2, 3]), { owner: patient.wallet.address, kind: "record", category: Category.VITAL_SIGNS, ref: request.requestId }))).to.equal("GATEWAY_FORBIDDEN");

      const result = await evaluator.evaluate(model, input, { evaluationKeys: keys, expectedKeysHash: keysHash as Sha256Hex });
      const resultHash = await gateway.put(result, { owner: patient.wallet.address, kind: "he-result", category: Category.PREDICTION, ref: request.requestId, purpose: Purpose.TREATDS });
      expect(resultHash).to.equal(sha256Hex(result));

      // Fulfil as the oracle daemon does: Operator.fulfillOracleRequest2 with the router's callback.
      const receipt = await fx.provider.getTransactionReceipt(request.transactionHash);
      const oracleRequest = receipt!.logs.map((log) => { try { return fx.suite.operator.interface.parseLog(log); } catch { return null; } }).find((parsed) => parsed?.name === "OracleRequest")!;
      const data = AbiCoder.defaultAbiCoder().encode(["bytes32", "uint16", "bytes32", "string", "bytes"], [request.requestId, 0, resultHash, `${fx.service.url}/v1/blobs/${resultHash}`, "0x"]);
      await (await fx.suite.operator.connect(oracle.wallet).fulfillOracleRequest2(
        oracleRequest.args.getValue("requestId"), oracleRequest.args.getValue("payment"), oracleRequest.args.getValue("callbackAddr"),
        oracleRequest.args.getValue("callbackFunctionId"), oracleRequest.args.getValue("cancelExpiration"), data, { gasLimit: 1_000_000 },
      )).wait();

      // Once fulfilled, the request no longer opens the input to the oracle.
      expect(await code(gateway.get(request.inputHash, { purpose: Purpose.TREATDS, ref: request.requestId }))).to.equal("GATEWAY_FORBIDDEN");

      const fulfilled = await waitForPrediction(patient.client, { requestId: request.requestId, timeoutMs: 10_000 });
      expect(fulfilled.resultHash).to.equal(resultHash);
      const { predictions } = await getPredictionResult(patient.client, { requestId: request.requestId, fhe, keysHash });
      const plain = plainProbabilities(plainScores(model.weights, encodeReading(model.encodingSpec, reading)));
      // (hardhat's chai matchers take over closeTo for bigints, so compare by hand.)
      const worst = Math.max(...predictions[0]!.probabilities.map((p, i) => Math.abs(p - plain[i]!)));
      expect(worst).to.be.lessThan(0.01);
      expect(predictions[0]!.label).to.equal(model.output.labels[plain.indexOf(Math.max(...plain))]);
    } finally {
      evaluator.dispose();
      fhe.dispose();
    }
  });
});
