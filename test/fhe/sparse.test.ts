import { expect } from "chai";

import { sha256Hex } from "../../core/hash.js";
import { columnFeatureIndices, encodeReading } from "../../fhe/encoding.js";
import { ModelIntegrityError } from "../../fhe/errors.js";
import { createEvaluator, FheClient, FhePublicEncryptor, loadModel, verifyModel, type FheEvaluator, type ModelArtifact, type Prediction } from "../../fhe/index.js";
import { weightsHash } from "../../fhe/model.js";
import { getParameterSet, smallestWeight } from "../../fhe/params.js";
import { loadMaternalRisk } from "../../models/datasets.js";
import { scores } from "../../models/logistic.js";
import { snapTinyWeights } from "../../models/train.js";

const MASK_KEY = new Uint8Array(32).fill(0x5a);

/** maternal-risk-v1 with every other input weight of score 0 set to 0 and two weights below 2^-20 (as a sparse or tree-leaf model has). */
function sparseModel(): ModelArtifact {
  const base = loadModel("maternal-risk-v1");
  const travelling = columnFeatureIndices(base.encodingSpec);
  const weights = base.weights.map((row) => [...row]);
  travelling.forEach((f, j) => {
    if (j % 2 === 1) weights[0]![f] = 0;
  });
  weights[0]![travelling[0]!] = 1e-7;
  weights[1]![travelling[1]!] = -3e-7;
  const model = { ...base, id: "maternal-risk-sparse", weights };
  return verifyModel({ ...model, weightsHash: weightsHash(model) });
}

describe("fhe: sparse models (zero and tiny weights)", function () {
  this.timeout(60_000);
  const model = sparseModel();
  const rows = model.training.split.testRows.slice(0, 60).map((i) => loadMaternalRisk().rows[i]!);
  let evaluator: FheEvaluator;
  let client: FheClient;
  before(async function () {
    evaluator = await createEvaluator();
    client = await FheClient.generate(model.paramSetId);
  });
  after(function () {
    evaluator.dispose();
    client.dispose();
  });

  const expectPlaintextScores = (predictions: Prediction[], readings: readonly Record<string, number>[]) => {
    expect(predictions).to.have.length(readings.length);
    predictions.forEach((p, i) => {
      const plain = scores(model.weights, encodeReading(model.encodingSpec, readings[i]!));
      plain.forEach((s, k) => expect(Math.abs(s - p.scores[k]!), `reading ${i} score ${k}`).to.be.at.most(1e-3));
    });
  };

  it("evaluates a single request of a model with zero and tiny weights", async function () {
    const input = client.encrypt(model, rows[0]!);
    const result = await evaluator.evaluate(model, input, { maskKey: MASK_KEY });
    expectPlaintextScores(client.decrypt(model, result, { inputHash: sha256Hex(input) }), rows.slice(0, 1));
  });

  it("evaluates a column batch and a tiled batch of a model with zero and tiny weights", async function () {
    const columns = client.encrypt(model, rows, { layout: "columns" });
    expectPlaintextScores(client.decrypt(model, await evaluator.evaluate(model, columns)), rows);
    const tiled = rows.slice(0, model.encodingSpec.layout.readingsPerCiphertext);
    expectPlaintextScores(client.decrypt(model, await evaluator.evaluate(model, client.encrypt(model, tiled), { maskKey: MASK_KEY })), tiled);
  });

  it("evaluates a device's public-key inputs of a model with zero and tiny weights, tiled and columns", async function () {
    const device = await FhePublicEncryptor.fromEvaluationKeys(client.evaluationKeys(), model.paramSetId);
    try {
      expectPlaintextScores(client.decrypt(model, await evaluator.evaluate(model, device.encrypt(model, rows[0]!), { maskKey: MASK_KEY })), rows.slice(0, 1));
      expectPlaintextScores(client.decrypt(model, await evaluator.evaluate(model, device.encrypt(model, rows, { layout: "columns" }))), rows);
    } finally {
      device.dispose();
    }
  });

  it("refuses a model whose score has no encodable weight on any input feature", function () {
    const base = loadModel("maternal-risk-v1");
    const weights = base.weights.map((row, k) => (k === 1 ? row.map((w, f) => (f === row.length - 1 ? w : 1e-8)) : [...row]));
    const model = { ...base, weights };
    expect(() => verifyModel({ ...model, weightsHash: weightsHash(model) })).to.throw(ModelIntegrityError, /no non-zero weight/);
  });

  it("the trainer snaps weights below the smallest encodable weight (2^-20) to exactly 0", function () {
    const set = getParameterSet("ckks-2048-v1");
    expect(smallestWeight(set)).to.equal(2 ** -20);
    const snapped = snapTinyWeights([[0.5, 9e-7, -9e-7, 2 ** -20, -1e-3]], set);
    expect(snapped).to.deep.equal([[0.5, 0, 0, 2 ** -20, -1e-3]]);
    expect(Object.is(snapped[0]![2], 0)).to.equal(true);
  });
});
