import { readFile } from "node:fs/promises";

import { expect } from "chai";
import { AbiCoder } from "ethers";

import { sha256Hex, type Sha256Hex } from "../../core/hash.js";
import { modelRegistration } from "../../deploy/models.js";
import { createEvaluator, encodeReading, FheClient, MalformedBlobError, type ModelArtifact, type Reading as FeatureReading } from "../../fhe/index.js";
import { canonicalJson, weightsHash as computeWeightsHash } from "../../fhe/model.js";
import { scores as plainScores, probabilities as plainProbabilities } from "../../models/logistic.js";
import { Category, Purpose } from "../../protocol/codes.js";
import { getPredictionResult } from "../../sdk/actions/getPredictionResult.js";
import { registerPatient } from "../../sdk/actions/registerPatient.js";
import { requestPrediction, type RequestPredictionReturnType } from "../../sdk/actions/requestPrediction.js";
import { waitForPrediction } from "../../sdk/actions/waitForPrediction.js";
import { createMedCipherClient, type MedCipherClient } from "../../sdk/client.js";
import { IntegrityError, InvalidInputError, KeySetMismatchError } from "../../sdk/errors.js";
import { createGatewayClient } from "../../sdk/gateway/client.js";
import { resolveRegisteredModel } from "../../sdk/predictions.js";
import { serveStatic, type StaticSite } from "../browser/harness.js";
import { startFixture, type Actor, type Fixture } from "./fixture.js";

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string; details?: Record<string, unknown> }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string; details?: Record<string, unknown> };
  }
  return expect.fail("expected a rejection") as never;
}

/**
 * The browser path: the client is the browser entry's (sdk/client.ts, no disk), the model comes
 * from its registered weightsUri (`models/<id>.json`, as deploy registers it) over HTTP.
 */
describe("sdk: models by their on-chain URI, and decryption only under the request's key set", function () {
  this.timeout(120_000);
  let fx: Fixture;
  let site: StaticSite;
  let model: ModelArtifact;
  let modelId: number;
  let patient: Actor;
  let client: MedCipherClient;
  let fhe: FheClient;
  let keysHash: string;
  let request: RequestPredictionReturnType;
  const reading: FeatureReading = {};

  before(async function () {
    const text = await readFile(new URL("../../models/maternal-risk-v1.json", import.meta.url), "utf8");
    model = JSON.parse(text) as ModelArtifact;
    Object.assign(reading, Object.fromEntries(model.encodingSpec.inputs.map((input) => [input.name, input.categories?.[0] ?? (input.min + input.max) / 2])));
    // One weight changed: with the file's own hash left alone (caught by the artifact's own check),
    // and re-hashed so the file is self-consistent (caught only by the registry's hash).
    const altered = { ...model, weights: model.weights.map((row, i) => (i === 0 ? row.map((w, f) => (f === 0 ? w + 0.5 : w)) : row)) };
    const rehashed = { ...altered, weightsHash: computeWeightsHash(altered) };
    site = await serveStatic({
      files: {
        "/models/maternal-risk-v1.json": text,
        "/altered/models/maternal-risk-v1.json": canonicalJson(altered),
        "/rehashed/models/maternal-risk-v1.json": canonicalJson(rehashed),
      },
    });
    fx = await startFixture();
    const registration = modelRegistration(model);
    expect(registration.weightsUri).to.equal("models/maternal-risk-v1.json");
    await (await fx.suite.models.registerModel(registration)).wait();
    modelId = Number(await fx.suite.models.modelIdOf(model.id, model.version));

    patient = await fx.actor("patient");
    client = await createMedCipherClient({ account: patient.wallet, addresses: fx.addresses, gatewayUrl: fx.service.url, encryptionKey: patient.encryptionKey, models: { modelBaseUrl: `${site.url}/` } });
    fhe = await FheClient.generate(model.paramSetId);
    ({ keysHash } = await registerPatient(client, { encryptionPublicKey: patient.encryptionKey.publicKey, evaluationKeys: fhe.evaluationKeys(), paramSetId: registration.paramSetId }));
    request = await requestPrediction(client, { modelId, fhe, keysHash, readings: reading });
    await fulfilAsOracle(fx, request, keysHash, model);
    await waitForPrediction(client, { requestId: request.requestId, timeoutMs: 10_000 });
  });
  after(async function () {
    fhe?.dispose();
    await fx?.close();
    await site?.close();
  });

  it("decrypts with the key set the request was made under (model fetched from its weightsUri), equal to the plaintext model", async function () {
    const result = await getPredictionResult(client, { requestId: request.requestId, fhe, keysHash });
    expect(result.keysHash).to.equal(keysHash.toLowerCase());
    const plain = plainProbabilities(plainScores(model.weights, encodeReading(model.encodingSpec, reading)));
    const worst = Math.max(...result.predictions[0]!.probabilities.map((p, i) => Math.abs(p - plain[i]!)));
    expect(worst).to.be.lessThan(0.01);
  });

  it("refuses another key set with KeySetMismatchError (expected/actual) instead of a confident wrong answer", async function () {
    const other = await FheClient.generate(model.paramSetId);
    try {
      const otherKeysHash = sha256Hex(other.evaluationKeys());
      const error = await rejection(getPredictionResult(client, { requestId: request.requestId, fhe: other, keysHash: otherKeysHash }));
      expect(error).to.be.instanceOf(KeySetMismatchError);
      expect(error.code).to.equal("SDK_KEY_SET_MISMATCH");
      expect(error.details).to.deep.include({ expected: keysHash.toLowerCase(), actual: otherKeysHash, requestId: request.requestId });
      expect(error.message).to.include(otherKeysHash);

      // What the check prevents: the other key "decrypts" the very same result into noise — its
      // scores, and the encrypted reading count too (uniform over the slot's ±128 range: about
      // one time in seven it lands in 1..39 and noise comes back as predictions; otherwise the
      // client refuses it as out of range). Only the key-set check above makes this safe.
      const result = await createGatewayClient({ url: fx.service.url, signer: patient.wallet, chainId: client.chainId, gatewayAddress: fx.gatewayKey.address }).get(
        (await fx.suite.router.getRequest(request.requestId)).resultHash, { purpose: Purpose.TREATDS, ref: request.requestId });
      const [right] = fhe.decrypt(model, result, { inputHash: request.inputHash });
      try {
        const [noise] = other.decrypt(model, result, { inputHash: request.inputHash });
        process.stdout.write(`      (scores under the request's key set ${right!.scores.join(", ")}; under another key set ${noise!.scores.join(", ")})\n`);
        expect(Math.max(...noise!.scores.map((score, i) => Math.abs(score - right!.scores[i]!)))).to.be.greaterThan(1);
      } catch (error) {
        expect(error).to.be.instanceOf(MalformedBlobError);
        expect((error as Error).message).to.include("encrypted reading count");
      }

      // Requesting under a key set that is not the patient's current one is refused before anything is sent.
      const nonce = await fx.provider.getTransactionCount(patient.wallet.address);
      const refused = await rejection(requestPrediction(client, { modelId, fhe: other, keysHash: otherKeysHash, readings: reading }));
      expect(refused).to.be.instanceOf(KeySetMismatchError);
      expect(refused.details).to.deep.include({ expected: keysHash.toLowerCase(), actual: otherKeysHash, patient: patient.wallet.address });
      expect(await fx.provider.getTransactionCount(patient.wallet.address)).to.equal(nonce);
    } finally {
      other.dispose();
    }
  });

  it("checks every model source against the registry: altered weights, a self-consistent substitute, no source, a 404", async function () {
    const altered = await rejection(resolveRegisteredModel(client, modelId, { modelBaseUrl: `${site.url}/altered/` }));
    expect(altered).to.be.instanceOf(IntegrityError);
    expect(String(altered.details?.reason)).to.match(/weightsHash/);
    const substitute = await rejection(resolveRegisteredModel(client, modelId, { modelBaseUrl: `${site.url}/rehashed/` }));
    expect(substitute).to.be.instanceOf(IntegrityError);
    expect(substitute.details?.weightsHash).to.deep.include({ registered: model.weightsHash });
    const noSource = await rejection(resolveRegisteredModel(client, modelId, {}));
    expect(noSource).to.be.instanceOf(InvalidInputError);
    expect(noSource.message).to.match(/modelBaseUrl/);
    const missing = await rejection(resolveRegisteredModel(client, modelId, { modelBaseUrl: `${site.url}/nowhere/` }));
    expect(missing).to.be.instanceOf(InvalidInputError);
    expect(missing.message).to.include("HTTP 404");
    // The caller's own copy, matched by weightsHash; and a fetchModel of its own.
    expect((await resolveRegisteredModel(client, modelId, { artifacts: [model] })).artifact.weightsHash).to.equal(model.weightsHash);
    const asked: string[] = [];
    const fetched = await resolveRegisteredModel(client, modelId, { fetchModel: async (spec) => { asked.push(spec.weightsUri); return model; } });
    expect(fetched).to.deep.include({ modelId, name: model.id, weightsUri: "models/maternal-risk-v1.json", paramSetId: model.paramSetId, active: true });
    expect(asked).to.deep.equal(["models/maternal-risk-v1.json"]);
  });
});

/** Fulfils a request as the oracle daemon does: evaluates, stores the result, Operator.fulfillOracleRequest2. */
async function fulfilAsOracle(fx: Fixture, request: RequestPredictionReturnType, keysHash: string, model: ModelArtifact): Promise<void> {
  const oracle = await fx.actor("oracle");
  const chainId = Number((await fx.provider.getNetwork()).chainId);
  const gateway = createGatewayClient({ url: fx.service.url, signer: oracle.wallet, chainId, gatewayAddress: fx.gatewayKey.address, session: true });
  const input = await gateway.get(request.inputHash, { purpose: Purpose.TREATDS, ref: request.requestId });
  const keys = await gateway.get(keysHash, { purpose: Purpose.TREATDS, ref: request.requestId });
  const evaluator = await createEvaluator();
  try {
    const result = await evaluator.evaluate(model, input, { evaluationKeys: keys, expectedKeysHash: keysHash as Sha256Hex });
    const patient = (await fx.suite.router.getRequest(request.requestId)).patient;
    const resultHash = await gateway.put(result, { owner: patient, kind: "he-result", category: Category.PREDICTION, ref: request.requestId, purpose: Purpose.TREATDS });
    const receipt = await fx.provider.getTransactionReceipt(request.transactionHash);
    const oracleRequest = receipt!.logs.map((log) => { try { return fx.suite.operator.interface.parseLog(log); } catch { return null; } }).find((parsed) => parsed?.name === "OracleRequest")!;
    const data = AbiCoder.defaultAbiCoder().encode(["bytes32", "uint16", "bytes32", "string", "bytes"], [request.requestId, 0, resultHash, `${fx.service.url}/v1/blobs/${resultHash}`, "0x"]);
    await (await fx.suite.operator.connect(oracle.wallet).fulfillOracleRequest2(
      oracleRequest.args.getValue("requestId"), oracleRequest.args.getValue("payment"), oracleRequest.args.getValue("callbackAddr"),
      oracleRequest.args.getValue("callbackFunctionId"), oracleRequest.args.getValue("cancelExpiration"), data, { gasLimit: 1_000_000 },
    )).wait();
  } finally {
    evaluator.dispose();
  }
}
