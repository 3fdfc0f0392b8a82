/**
 * Trains the two shipped models and writes models/<id>.json. Deterministic: a fixed seed decides
 * the split and the folds, Newton's method does the rest; running it twice gives identical files.
 *
 *   npm run train
 *
 * Per model: a stratified 80/20 split (seed below); on the 80 % part, 10-fold cross-validation
 * chooses the feature set and the L2 strength; the chosen model is refitted on the 80 % part and
 * scored once on the 20 % part (held-out). For comparison with the literature, 10-fold CV on the
 * whole (de-duplicated) set is reported for the chosen configuration and for a plain logistic
 * regression on the raw inputs.
 */
import { writeFileSync } from "node:fs";

import { trainModels } from "../models/train.js";

for (const model of trainModels((line) => console.log(line))) {
  writeFileSync(new URL(`../models/${model.id}.json`, import.meta.url), `${JSON.stringify(model, null, 2)}\n`);
  const m = model.metrics;
  console.log(
    `${model.id}: features ${model.training.featureSet} (${model.encodingSpec.layout.tupleLength} slots), λ=${model.training.lambda}, ` +
      `held-out acc ${m.heldOut.accuracy}${m.heldOut.auc === undefined ? "" : ` AUC ${m.heldOut.auc}`} macroF1 ${m.heldOut.macroF1}; ` +
      `10-fold CV acc ${m.crossValidation.accuracy} ± ${m.crossValidation.accuracyStd} (baseline ${m.baseline.crossValidationAccuracy}); slotBound ${model.slotBound}, scoreBound ${model.scoreBound}`,
  );
}
