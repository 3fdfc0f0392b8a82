import { expect } from "chai";

import { loadModel, MODEL_IDS, type ModelArtifact } from "../../fhe/index.js";
import { PRECISION_PATHS, type PrecisionPath } from "../../fhe/model.js";
import { loadHeartDisease, loadMaternalRisk } from "../../models/datasets.js";
import { mulberry32 } from "../../models/logistic.js";
import { scoreDecimalsFor } from "../../models/train.js";
import { createPrecisionRig, disposePrecisionRig, ENCRYPTIONS, maxScoreError, randomReading, type PrecisionRig } from "../../scripts/bench/precision.js";

/** Random readings per path: every reading is one request on the single path, so fewer there. */
const READINGS: Record<PrecisionPath, number> = { single: 400, tiledBatch: 2048, columns: 2048 };
const heldOut = { "heart-disease-lr-v1": loadHeartDisease(), "maternal-risk-v1": loadMaternalRisk() };

describe("fhe: stated precision (ckks-2048-v1)", function () {
  this.timeout(120_000);

  for (const id of MODEL_IDS) {
    describe(id, function () {
      const model: ModelArtifact = loadModel(id);
      let rig: PrecisionRig;
      before(async function () {
        rig = await createPrecisionRig(model.paramSetId);
      });
      after(function () {
        disposePrecisionRig(rig);
      });

      it("keeps the scores' decimals from the single-request noise bound (rounding step ≥ noise)", function () {
        expect(Object.keys(model.output.scoreNoise).sort()).to.deep.equal([...PRECISION_PATHS].sort());
        expect(model.output.scoreDecimals).to.equal(scoreDecimalsFor(model.output.scoreNoise));
        expect(10 ** -model.output.scoreDecimals).to.be.at.least(model.output.scoreNoise.single);
      });

      for (const path of PRECISION_PATHS) {
        for (const encryption of ENCRYPTIONS) {
          it(`keeps |decrypted − plaintext score| within the stated ${path} bound over random readings (${encryption} encryption)`, async function () {
            // A seed other than the measurement's, plus every held-out row.
            const random = mulberry32(0xc0ffee ^ path.length);
            const data = heldOut[id];
            const readings = [
              ...model.training.split.testRows.map((i) => data.rows[i]!),
              ...Array.from({ length: READINGS[path] }, () => randomReading(model.encodingSpec, random)),
            ];
            const bound = model.output.scoreNoise[path];
            expect(await maxScoreError(rig, model, path, encryption, readings, true), "noise before rounding").to.be.at.most(bound);
            expect(await maxScoreError(rig, model, path, encryption, readings, false), "after rounding").to.be.at.most(bound + 0.5 * 10 ** -model.output.scoreDecimals);
          });
        }
      }
    });
  }
});
