import { readFileSync } from "node:fs";

import { expect } from "chai";

import { ModelIntegrityError, UnknownModelError } from "../../fhe/errors.js";
import { encodingSpecHash, MODEL_IDS, verifyModel, weightsHash, type ModelArtifact } from "../../fhe/model.js";
import { loadModel } from "../../fhe/modelFile.js";
import { getParameterSet } from "../../fhe/params.js";
import { trainModels } from "../../models/train.js";

const committed = (id: string) => JSON.parse(readFileSync(new URL(`../../models/${id}.json`, import.meta.url), "utf8")) as ModelArtifact;

describe("fhe: model artifacts", function () {
  it("are exactly what the training script produces (fixed seed, deterministic)", function () {
    this.timeout(120_000);
    const trained = trainModels();
    expect(trained.map((m) => m.id)).to.deep.equal([...MODEL_IDS]);
    for (const model of trained) expect(JSON.parse(JSON.stringify(model))).to.deep.equal(committed(model.id));
  });

  it("load by id with both hashes verified", function () {
    for (const id of MODEL_IDS) {
      const model = loadModel(id);
      expect(model.encodingSpecHash).to.equal(encodingSpecHash(model.encodingSpec)).and.match(/^0x[0-9a-f]{64}$/);
      expect(model.weightsHash).to.equal(weightsHash(model)).and.match(/^0x[0-9a-f]{64}$/);
      expect(new TextEncoder().encode(model.paramSetId).length).to.be.at.most(32);
    }
  });

  it("meet the accuracy of a plain, well-regularised logistic regression", function () {
    const heart = loadModel("heart-disease-lr-v1");
    expect(heart.metrics.heldOut.accuracy).to.be.at.least(0.83);
    expect(heart.metrics.crossValidation.accuracy).to.be.at.least(0.83);
    expect(heart.metrics.heldOut.auc).to.be.at.least(0.85);
    const maternal = loadModel("maternal-risk-v1");
    expect(maternal.metrics.heldOut.accuracy).to.be.at.least(0.67);
    expect(maternal.metrics.crossValidation.accuracy).to.be.at.least(maternal.metrics.baseline.crossValidationAccuracy);
    for (const model of [heart, maternal]) {
      expect(model.metrics.crossValidation.accuracy).to.be.at.least(model.metrics.baseline.crossValidationAccuracy - 0.005);
    }
  });

  it("keep every tiled slot within a quarter of the slot budget (room for the mask) and every score within it", function () {
    for (const id of MODEL_IDS) {
      const model = loadModel(id);
      const { slotBudget } = getParameterSet(model.paramSetId);
      expect(model.slotBound).to.be.below(slotBudget / 4);
      expect(model.scoreBound).to.be.below(slotBudget).and.at.least(model.slotBound);
    }
  });

  it("rejects an artifact whose weights or encoding spec were altered", function () {
    const model = loadModel("heart-disease-lr-v1");
    const weights = structuredClone(model);
    weights.weights[0]![0]! += 0.001;
    expect(() => verifyModel(weights)).to.throw(ModelIntegrityError).with.property("code", "FHE_MODEL_INTEGRITY");
    const spec = structuredClone(model);
    spec.encodingSpec.features[0]!.mean += 1;
    expect(() => verifyModel(spec)).to.throw(ModelIntegrityError);
    expect(() => loadModel("no-such-model")).to.throw(UnknownModelError).with.property("code", "FHE_UNKNOWN_MODEL");
    expect(() => loadModel("../package")).to.throw(UnknownModelError);
  });
});
