/**
 * Trains the two shipped models (see scripts/train-models.ts for the procedure). Deterministic:
 * a fixed seed decides the split and the folds, Newton's method does the rest, so the test suite
 * can check that the committed artifacts are exactly what this code produces.
 */
import { readFileSync } from "node:fs";

import { sha256Hex } from "../core/hash.js";
import { evaluateExpression, slotLayout, type EncodingSpec, type FeatureExpression, type InputFeature, type TupleFeature } from "../fhe/encoding.js";
import { encodingSpecHash, weightsHash, type ModelArtifact, type ModelMetrics, type OutputSpec, type PrecisionPath } from "../fhe/model.js";
import { getParameterSet, slotCount, smallestWeight, type ParameterSet } from "../fhe/params.js";
import { loadHeartDisease, loadMaternalRisk, MATERNAL_CLASSES, type Dataset } from "./datasets.js";
import { evaluateMetrics, fitLogistic, scores, stratifiedFolds, type Weights } from "./logistic.js";

const SEED = 20_261_122;
const round = (v: number, digits = 4) => Number(v.toFixed(digits));
const LAMBDAS = [0.01, 0.1, 0.3, 1, 3, 10, 30, 100];
const PARAM_SET_ID = "ckks-2048-v1";

type Expressions = { name: string; expression: FeatureExpression }[];
/** A feature set; centres of derived features come from the rows it is fitted on. */
type Candidate = { name: string; build: (rows: readonly Record<string, number>[]) => Expressions };
const fixed = (name: string, expressions: Expressions): Candidate => ({ name, build: () => expressions });
const mean = (rows: readonly Record<string, number>[], name: string) => round(rows.reduce((s, r) => s + (r[name] as number), 0) / rows.length, 2);

const input = (name: string) => ({ name, expression: { op: "input", input: name } as FeatureExpression });
const square = (name: string, center: number) => ({ name: `(${name}-${center})^2`, expression: { op: "square", input: name, center } as FeatureExpression });
const oneHot = (name: string, value: number) => ({ name: `${name}=${value}`, expression: { op: "oneHot", input: name, value } as FeatureExpression });
const bias = { name: "bias", expression: { op: "constant", value: 1 } as FeatureExpression };

// ---------------------------------------------------------------------------------------------
// Heart disease
const HEART_INPUTS: InputFeature[] = [
  { name: "age", description: "Age", unit: "a", loinc: "30525-0", kind: "continuous", min: 18, max: 100 },
  { name: "sex", description: "Sex (1 = male, 0 = female)", unit: "1", loinc: "76689-9", kind: "binary", categories: [0, 1], min: 0, max: 1 },
  { name: "cp", description: "Chest pain type (1 typical angina, 2 atypical angina, 3 non-anginal pain, 4 asymptomatic)", unit: "1", kind: "categorical", categories: [1, 2, 3, 4], min: 1, max: 4 },
  { name: "trestbps", description: "Resting systolic blood pressure on admission", unit: "mm[Hg]", loinc: "8480-6", kind: "continuous", min: 60, max: 250 },
  { name: "chol", description: "Serum total cholesterol", unit: "mg/dL", loinc: "2093-3", kind: "continuous", min: 80, max: 700 },
  { name: "fbs", description: "Fasting blood glucose > 120 mg/dL (1 = true); from LOINC 1558-6", unit: "1", kind: "binary", categories: [0, 1], min: 0, max: 1 },
  { name: "restecg", description: "Resting ECG (0 normal, 1 ST-T wave abnormality, 2 left ventricular hypertrophy)", unit: "1", kind: "categorical", categories: [0, 1, 2], min: 0, max: 2 },
  { name: "thalach", description: "Maximum heart rate achieved (exercise test)", unit: "/min", kind: "continuous", min: 50, max: 230 },
  { name: "exang", description: "Exercise-induced angina (1 = yes)", unit: "1", kind: "binary", categories: [0, 1], min: 0, max: 1 },
  { name: "oldpeak", description: "ST depression induced by exercise relative to rest", unit: "mm", kind: "continuous", min: 0, max: 10 },
  { name: "slope", description: "Slope of the peak exercise ST segment (1 up, 2 flat, 3 down)", unit: "1", kind: "categorical", categories: [1, 2, 3], min: 1, max: 3 },
  { name: "ca", description: "Major vessels coloured by fluoroscopy (0-3)", unit: "1", kind: "categorical", categories: [0, 1, 2, 3], min: 0, max: 3 },
  { name: "thal", description: "Thallium stress test (3 normal, 6 fixed defect, 7 reversible defect)", unit: "1", kind: "categorical", categories: [3, 6, 7], min: 3, max: 7 },
];

const HEART_RAW = fixed("raw-13", [...HEART_INPUTS.map((i) => input(i.name)), bias]);
const HEART_ONE_HOT = fixed("one-hot-categoricals", [
    ...["age", "sex", "trestbps", "chol", "fbs", "thalach", "exang", "oldpeak", "ca"].map(input),
    ...[1, 2, 3, 4].map((v) => oneHot("cp", v)),
    ...[0, 1, 2].map((v) => oneHot("restecg", v)),
    ...[1, 2, 3].map((v) => oneHot("slope", v)),
    ...[3, 6, 7].map((v) => oneHot("thal", v)),
    bias,
]);

// ---------------------------------------------------------------------------------------------
// Maternal risk
const MATERNAL_INPUTS: InputFeature[] = [
  { name: "age", description: "Age", unit: "a", loinc: "30525-0", kind: "continuous", min: 10, max: 70 },
  { name: "systolicBP", description: "Systolic blood pressure", unit: "mm[Hg]", loinc: "8480-6", kind: "continuous", min: 60, max: 200 },
  { name: "diastolicBP", description: "Diastolic blood pressure", unit: "mm[Hg]", loinc: "8462-4", kind: "continuous", min: 40, max: 130 },
  { name: "bloodGlucose", description: "Blood glucose", unit: "mmol/L", loinc: "15074-8", kind: "continuous", min: 3, max: 25 },
  { name: "bodyTemp", description: "Body temperature", unit: "[degF]", loinc: "8310-5", kind: "continuous", min: 95, max: 105 },
  { name: "heartRate", description: "Heart rate", unit: "/min", loinc: "8867-4", kind: "continuous", min: 40, max: 160 },
];
const M = MATERNAL_INPUTS.map((i) => i.name);
const MATERNAL_RAW = fixed("raw-6", [...M.map(input), bias]);
const MATERNAL_SQUARES: Candidate = {
  name: "raw-6+centred-squares",
  build: (rows) => [...M.map(input), ...M.map((n) => square(n, mean(rows, n))), bias],
};
const MATERNAL_FLAGS: Candidate = {
  name: "raw-6+centred-squares+flags",
  build: (rows) => [
    ...M.map(input),
    ...M.map((n) => square(n, mean(rows, n))),
    { name: "bloodGlucose>=8", expression: { op: "atLeast", input: "bloodGlucose", threshold: 8 } },
    { name: "bodyTemp>=100", expression: { op: "atLeast", input: "bodyTemp", threshold: 100 } },
    { name: "systolicBP>=140", expression: { op: "atLeast", input: "systolicBP", threshold: 140 } },
    bias,
  ],
};
const MATERNAL_LOG = fixed("raw-6+log-glucose+flags", [
    ...M.map(input),
    { name: "log(bloodGlucose)", expression: { op: "log", input: "bloodGlucose" } },
    { name: "bloodGlucose>=8", expression: { op: "atLeast", input: "bloodGlucose", threshold: 8 } },
    { name: "bodyTemp>=100", expression: { op: "atLeast", input: "bodyTemp", threshold: 100 } },
    { name: "systolicBP>=140", expression: { op: "atLeast", input: "systolicBP", threshold: 140 } },
    bias,
]);

// ---------------------------------------------------------------------------------------------
type Fitted = { features: TupleFeature[]; weights: Weights };

function normalise(candidate: Candidate, rows: readonly Record<string, number>[]): TupleFeature[] {
  const expressions = candidate.build(rows);
  const values = rows.map((row) => expressions.map((e) => evaluateExpression(e.expression, (n) => row[n] as number)));
  return expressions.map((e, f) => {
    if (e.expression.op === "constant") return { ...e, mean: 0, std: 1 };
    const column = values.map((v) => v[f] as number);
    const mean = column.reduce((a, b) => a + b, 0) / column.length;
    const variance = column.reduce((a, b) => a + (b - mean) ** 2, 0) / column.length;
    return { ...e, mean, std: variance > 0 ? Math.sqrt(variance) : 1 };
  });
}

function tuples(features: readonly TupleFeature[], rows: readonly Record<string, number>[]): Float64Array[] {
  return rows.map((row) => Float64Array.from(features, (f) => (evaluateExpression(f.expression, (n) => row[n] as number) - f.mean) / f.std));
}

function fit(candidate: Candidate, rows: readonly Record<string, number>[], labels: readonly number[], classes: number, lambda: number): Fitted {
  const features = normalise(candidate, rows);
  return { features, weights: fitLogistic(tuples(features, rows), labels, classes, lambda) };
}

function predict(model: Fitted, rows: readonly Record<string, number>[]): number[][] {
  return tuples(model.features, rows).map((x) => scores(model.weights, x));
}

type CvResult = { accuracy: number; accuracyStd: number; auc?: number; macroF1: number };

function crossValidate(candidate: Candidate, data: Dataset, indices: readonly number[], classes: number, lambda: number, seed: number): CvResult {
  const labels = indices.map((i) => data.labels[i] as number);
  const folds = stratifiedFolds(labels, 10, seed);
  const accuracies: number[] = [];
  const aucs: number[] = [];
  const f1s: number[] = [];
  for (let k = 0; k < 10; k++) {
    const train = indices.filter((_, j) => folds[j] !== k);
    const test = indices.filter((_, j) => folds[j] === k);
    const model = fit(candidate, train.map((i) => data.rows[i]!), train.map((i) => data.labels[i]!), classes, lambda);
    const metrics = evaluateMetrics(predict(model, test.map((i) => data.rows[i]!)), test.map((i) => data.labels[i]!), classes);
    accuracies.push(metrics.accuracy);
    f1s.push(metrics.macroF1);
    if (metrics.auc !== undefined) aucs.push(metrics.auc);
  }
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const accuracy = mean(accuracies);
  const accuracyStd = Math.sqrt(mean(accuracies.map((a) => (a - accuracy) ** 2)));
  const result: CvResult = { accuracy, accuracyStd, macroF1: mean(f1s) };
  if (aucs.length > 0) result.auc = mean(aucs);
  return result;
}

/**
 * Bounds over the allowed input box (extremes of each expression lie at its range ends):
 * `slot` = max |w_f · x_f| (a tiled result slot), `score` = max over scores of Σ_f max |w_f · x_f|
 * (a column result slot).
 */
function bounds(features: readonly TupleFeature[], weights: Weights, inputs: readonly InputFeature[]): { slot: number; score: number } {
  const range = (name: string) => {
    const spec = inputs.find((i) => i.name === name)!;
    return [spec.min, spec.max] as const;
  };
  const extremes = features.map((feature) => {
    const e = feature.expression;
    switch (e.op) {
      case "input": return [...range(e.input)];
      case "square": {
        const [lo, hi] = range(e.input);
        return [(lo - e.center) ** 2, (hi - e.center) ** 2, lo <= e.center && e.center <= hi ? 0 : (lo - e.center) ** 2];
      }
      case "log": return range(e.input).map(Math.log);
      case "product": return range(e.inputs[0]).flatMap((a) => range(e.inputs[1]).map((b) => a * b));
      case "oneHot": case "atLeast": return [0, 1];
      case "constant": return [e.value];
    }
  });
  let slot = 0;
  let score = 0;
  for (const row of weights) {
    let sum = 0;
    features.forEach((feature, f) => {
      const largest = Math.max(...extremes[f]!.map((v) => Math.abs(((row[f] as number) * (v - feature.mean)) / feature.std)));
      slot = Math.max(slot, largest);
      sum += largest;
    });
    score = Math.max(score, sum);
  }
  return { slot, score };
}

function train(options: {
  id: string;
  description: string;
  data: Dataset;
  classes: number;
  candidates: Candidate[];
  baseline: Candidate;
  inputs: InputFeature[];
  output: OutputSpec;
  isPrivate: boolean;
  dataset: string;
  datasetFile: string;
  citation: string;
  log?: (line: string) => void;
}): ModelArtifact {
  const { data, classes } = options;
  const all = data.labels.map((_, i) => i);
  const split = stratifiedFolds(data.labels, 5, SEED);
  const trainRows = all.filter((i) => split[i] !== 0);
  const testRows = all.filter((i) => split[i] === 0);

  // Selection on the training part only.
  let best: { candidate: Candidate; lambda: number; cv: CvResult } | undefined;
  for (const candidate of options.candidates) {
    for (const lambda of LAMBDAS) {
      const cv = crossValidate(candidate, data, trainRows, classes, lambda, SEED + 1);
      // Candidates come smallest tuple first; a tie keeps the smaller tuple (more readings per ciphertext).
      if (best === undefined || cv.accuracy > best.cv.accuracy + 1e-9) best = { candidate, lambda, cv };
      options.log?.(`  ${options.id} ${candidate.name.padEnd(26)} λ=${String(lambda).padEnd(5)} cv acc ${cv.accuracy.toFixed(4)} macroF1 ${cv.macroF1.toFixed(4)}`);
    }
  }
  if (best === undefined) throw new Error("no candidate");

  const model = fit(best.candidate, trainRows.map((i) => data.rows[i]!), trainRows.map((i) => data.labels[i]!), classes, best.lambda);
  const heldOut = evaluateMetrics(predict(model, testRows.map((i) => data.rows[i]!)), testRows.map((i) => data.labels[i]!), classes);
  const fullCv = crossValidate(best.candidate, data, all, classes, best.lambda, SEED + 2);
  let baseline = { lambda: 0, accuracy: 0 };
  for (const lambda of LAMBDAS) {
    const cv = crossValidate(options.baseline, data, all, classes, lambda, SEED + 2);
    if (cv.accuracy > baseline.accuracy) baseline = { lambda, accuracy: cv.accuracy };
  }

  const set = getParameterSet(PARAM_SET_ID);
  const layout = slotLayout(model.features.length, classes - 1, slotCount(set));
  const encodingSpec: EncodingSpec = { specVersion: 1, inputs: options.inputs, features: model.features, layout };
  const weights = snapTinyWeights(model.weights.map((row) => row.map((w) => round(w, 8))), set);
  const bound = bounds(model.features, weights, options.inputs);
  if (bound.slot > set.slotBudget / 4) throw new Error(`${options.id}: slot bound ${bound.slot} leaves no room for the mask`);
  if (bound.score > set.slotBudget) throw new Error(`${options.id}: score bound ${bound.score} exceeds the slot budget`);

  const metrics: ModelMetrics = {
    heldOut: { rows: testRows.length, accuracy: round(heldOut.accuracy), macroF1: round(heldOut.macroF1), confusion: heldOut.confusion },
    crossValidation: { folds: 10, accuracy: round(fullCv.accuracy), accuracyStd: round(fullCv.accuracyStd), macroF1: round(fullCv.macroF1) },
    baseline: {
      description: `plain L2 logistic regression on the raw inputs (${options.baseline.name}), best λ=${baseline.lambda} of ${LAMBDAS.join("/")}, 10-fold CV on all rows`,
      crossValidationAccuracy: round(baseline.accuracy),
    },
  };
  if (heldOut.auc !== undefined) metrics.heldOut.auc = round(heldOut.auc);
  if (fullCv.auc !== undefined) metrics.crossValidation.auc = round(fullCv.auc);

  const partial = { id: options.id, paramSetId: PARAM_SET_ID, weights };
  return {
    id: options.id,
    version: "1.0.0",
    description: options.description,
    paramSetId: PARAM_SET_ID,
    isPrivate: options.isPrivate,
    output: options.output,
    encodingSpec,
    encodingSpecHash: encodingSpecHash(encodingSpec),
    weights,
    weightsHash: weightsHash(partial),
    slotBound: round(bound.slot, 6),
    scoreBound: round(bound.score, 6),
    metrics,
    training: {
      dataset: options.dataset,
      datasetSha256: sha256Hex(readFileSync(new URL(`../data/${options.datasetFile}`, import.meta.url))),
      citation: options.citation,
      rows: data.rows.length,
      split: { method: "stratified by class, seeded shuffle (mulberry32), fold 0 of 5 held out", seed: SEED, testFraction: 0.2, testRows },
      lambda: best.lambda,
      featureSet: best.candidate.name,
      notes: [
        ...data.notes,
        `selection: feature set and λ by 10-fold CV on the ${trainRows.length} training rows (accuracy; ties keep the smaller tuple)`,
        `selection CV on the training rows: accuracy ${best.cv.accuracy.toFixed(4)}, macro-F1 ${best.cv.macroF1.toFixed(4)}`,
      ],
    },
  };
}

/**
 * Stated noise bounds per model and path: max |decrypted − plaintext score| before rounding,
 * measured by scripts/bench/precision.ts (two runs, 4,096 and 8,192 random readings) from each input's allowed
 * domain, client and device encryption alike, × 1.5 and rounded up to two digits. The column
 * bounds cover inputs behind the ingestion firewall too (fhe/firewall.ts: one public-key
 * encryption's noise more, which dominates a column batch; re-measured with it: heart 3.05e-4,
 * maternal 1.11e-3 → 4.6e-4 and 1.7e-3, from 3.9e-4 and 1.2e-3). The single and tiled paths are
 * dominated by the weights' encoding error, and the firewall moves them by no more than a run's spread. Tiled slots
 * carry the weight plaintext's encoding error at 2^19 times |feature|, which grows towards the
 * domain's corners (maternal's centred squares reach |x| ≈ 30): a tiled batch is the least
 * precise path, a single request averages its blocks, a column batch multiplies by constants.
 * test/fhe/precision.test.ts checks them on fresh random readings.
 */
const SCORE_NOISE: Record<string, Record<PrecisionPath, number>> = {
  "heart-disease-lr-v1": { single: 1.8e-4, tiledBatch: 1.7e-3, columns: 4.6e-4 },
  "maternal-risk-v1": { single: 6.7e-4, tiledBatch: 1.2e-2, columns: 1.7e-3 },
};

/**
 * Decimals the client keeps of a score: the most whose rounding step is at least the noise bound
 * of a single request (the path `requestPrediction` takes for one reading), so rounding there
 * removes the noise bits (IND-CPA-D, docs/fhe.md). Batches are noisier; docs/fhe.md says by how much.
 */
export function scoreDecimalsFor(noise: Record<PrecisionPath, number>): number {
  return Math.floor(-Math.log10(noise.single));
}

function outputSpec(id: string, output: Omit<OutputSpec, "scoreDecimals" | "scoreNoise">): OutputSpec {
  const noise = SCORE_NOISE[id];
  if (noise === undefined) throw new Error(`${id}: no measured noise bound (run scripts/bench/precision.ts)`);
  return { ...output, scoreDecimals: scoreDecimalsFor(noise), scoreNoise: noise };
}

/**
 * Weights too small for the parameter set's weight scale become exactly 0: they would encode to
 * the zero plaintext anyway, and a zero weight is what the plaintext reference must then use.
 */
export function snapTinyWeights(weights: readonly (readonly number[])[], set: ParameterSet): number[][] {
  const smallest = smallestWeight(set);
  return weights.map((row) => row.map((w) => (Math.abs(w) < smallest ? 0 : w)));
}

/** Trains both models from data/ and returns their artifacts (heart disease, maternal risk). */
export function trainModels(log?: (line: string) => void): ModelArtifact[] {
  const heart = train({
    id: "heart-disease-lr-v1",
    description: "Heart disease (angiographic, > 50 % narrowing in any major vessel) from 13 clinical inputs; logistic regression.",
    data: loadHeartDisease(),
    classes: 2,
    candidates: [HEART_RAW, HEART_ONE_HOT],
    baseline: HEART_RAW,
    inputs: HEART_INPUTS,
    output: outputSpec("heart-disease-lr-v1", { kind: "sigmoid", labels: ["no heart disease", "heart disease"], probabilityDecimals: 3 }),
    isPrivate: true,
    log,
    dataset: "UCI Heart Disease, Cleveland subset (processed.cleveland.data)",
    datasetFile: "processed.cleveland.data",
    citation: "Janosi, A., Steinbrunn, W., Pfisterer, M., & Detrano, R. (1989). Heart Disease [Dataset]. UCI Machine Learning Repository. https://doi.org/10.24432/C52P4X",
  });

  const maternal = train({
    id: "maternal-risk-v1",
    description: "Maternal health risk (low / mid / high) from six vital signs a wearable or home device measures; multinomial logistic regression on client-derived features.",
    data: loadMaternalRisk(),
    classes: 3,
    candidates: [MATERNAL_RAW, MATERNAL_SQUARES, MATERNAL_FLAGS, MATERNAL_LOG],
    baseline: MATERNAL_RAW,
    inputs: MATERNAL_INPUTS,
    output: outputSpec("maternal-risk-v1", { kind: "softmax", labels: [...MATERNAL_CLASSES], probabilityDecimals: 3 }),
    isPrivate: false,
    log,
    dataset: "Maternal Health Risk (maternal-health-risk.csv), de-duplicated",
    datasetFile: "maternal-health-risk.csv",
    citation: "Ahmed, M. (2023). Maternal Health Risk [Dataset]. UCI Machine Learning Repository. https://doi.org/10.24432/C5DP5D",
  });

  return [heart, maternal];
}
