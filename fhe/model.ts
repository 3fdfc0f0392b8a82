/**
 * Model artifacts (models/<id>.json) and the two hashes the model registry stores on-chain.
 *
 * Both hashes are SHA-256 over canonical JSON (object keys sorted, no whitespace, numbers in
 * ECMAScript's shortest round-trip form), so the training script, the deploy script, the oracle
 * and the client compute the same bytes32 from the same artifact:
 * - `encodingSpecHash = sha256(canonicalJson(encodingSpec))`
 * - `weightsHash = sha256(canonicalJson({ modelId, paramSetId, weights }))` — the id and the
 *   parameter set are bound in so the same numbers registered for another model or parameter set
 *   hash differently.
 *
 * Browser-safe: an artifact arrives as JSON (fetched by its on-chain URI, or given by the caller)
 * and `parseModel` checks it. Reading models/<id>.json from disk is Node-only (fhe/modelFile.ts).
 */
import { BaseError } from "../core/errors.js";
import { sha256Hex, type Sha256Hex } from "../core/hash.js";
import { columnFeatureIndices, encodeReading, type EncodingSpec, type Reading } from "./encoding.js";
import { getParameterSet, PARAMETER_SET_IDS, smallestWeight } from "./params.js";

export type OutputSpec = {
  /** `sigmoid` for a binary model (one score), `softmax` over `[0, ...scores]` for a multinomial one. */
  kind: "sigmoid" | "softmax";
  /** Class labels; index 0 is the reference class whose score is 0. */
  labels: string[];
  /**
   * Decimals the client keeps of each decrypted score (see docs/fhe.md, IND-CPA-D): the most whose
   * rounding step is at least twice the largest `scoreNoise`, so rounding removes the noise bits.
   */
  scoreDecimals: number;
  /**
   * Stated bound on |decrypted score − plaintext score| before rounding, per path, for client
   * (secret-key) and device (public-key) inputs alike: measured noise × 1.5, rounded up
   * (scripts/bench/precision.ts; checked by test/fhe/precision.test.ts). An application's error
   * is at most this plus half a rounding step.
   */
  scoreNoise: Record<PrecisionPath, number>;
  /** Decimals the client keeps of each probability. */
  probabilityDecimals: number;
};

/** How a result was computed: one reading per request (tiled, replicated), a tiled batch, a column batch. */
export type PrecisionPath = "single" | "tiledBatch" | "columns";
export const PRECISION_PATHS: readonly PrecisionPath[] = ["single", "tiledBatch", "columns"];

export type ModelMetrics = {
  heldOut: { rows: number; accuracy: number; auc?: number; macroF1: number; confusion: number[][] };
  crossValidation: { folds: number; accuracy: number; accuracyStd: number; auc?: number; macroF1: number };
  baseline: { description: string; crossValidationAccuracy: number };
};

export type ModelArtifact = {
  id: string;
  version: string;
  description: string;
  /** Parameter-set id (see fhe/params.ts), ≤ 32 ASCII bytes so it fits a bytes32. */
  paramSetId: string;
  /** Private models get a zero-sum mask on their partial products (see fhe/evaluate.ts). */
  isPrivate: boolean;
  output: OutputSpec;
  encodingSpec: EncodingSpec;
  encodingSpecHash: Sha256Hex;
  /** One row per score, each `encodingSpec.layout.tupleLength` long (last entry: bias). */
  weights: number[][];
  weightsHash: Sha256Hex;
  /** Largest |weight × feature| over every allowed reading (a tiled result slot; ≤ budget / 4). */
  slotBound: number;
  /** Largest Σ_f |weight × feature| of a score over every allowed reading (a column result slot; ≤ budget). */
  scoreBound: number;
  metrics: ModelMetrics;
  training: {
    dataset: string;
    datasetSha256: string;
    citation: string;
    rows: number;
    split: { method: string; seed: number; testFraction: number; testRows: number[] };
    lambda: number;
    featureSet: string;
    notes: string[];
  };
};

export class ModelIntegrityError extends BaseError {
  override name = "ModelIntegrityError";
  constructor(reason: string, details: Record<string, unknown>) {
    super(`Model artifact rejected: ${reason}`, { code: "FHE_MODEL_INTEGRITY", details });
  }
}

export class UnknownModelError extends BaseError {
  override name = "UnknownModelError";
  constructor(modelId: string) {
    super(`No model artifact with id "${modelId}"`, { code: "FHE_UNKNOWN_MODEL", details: { modelId } });
  }
}

/** JSON with sorted object keys and no whitespace; rejects values JSON cannot carry exactly. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError("canonicalJson: non-finite number");
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  throw new TypeError(`canonicalJson: unsupported ${typeof value}`);
}

export function encodingSpecHash(spec: EncodingSpec): Sha256Hex {
  return sha256Hex(new TextEncoder().encode(canonicalJson(spec)));
}

export function weightsHash(model: Pick<ModelArtifact, "id" | "paramSetId" | "weights">): Sha256Hex {
  const body = { modelId: model.id, paramSetId: model.paramSetId, weights: model.weights };
  return sha256Hex(new TextEncoder().encode(canonicalJson(body)));
}

/**
 * The plaintext model: scores of one reading (logits against class 0), as the encrypted circuit
 * computes them. For tests, demos and the client's own checks; never run on a server.
 */
export function scoreReading(model: Pick<ModelArtifact, "encodingSpec" | "weights">, reading: Reading): number[] {
  const tuple = encodeReading(model.encodingSpec, reading);
  return model.weights.map((row) => row.reduce((sum, w, f) => sum + w * (tuple[f] as number), 0));
}

/** The ids of the artifacts shipped in models/. */
export const MODEL_IDS = ["heart-disease-lr-v1", "maternal-risk-v1"] as const;

/**
 * An artifact from its JSON text (or the parsed value), checked by `verifyModel`. Throws
 * `ModelIntegrityError` for text that is not JSON or an artifact whose hashes or shape are wrong.
 * Comparing its hashes with the ones registered on-chain is the caller's step.
 */
export function parseModel(json: string | object): ModelArtifact {
  let value: unknown = json;
  if (typeof json === "string") {
    try {
      value = JSON.parse(json);
    } catch (error) {
      throw new ModelIntegrityError("not JSON", { cause: error instanceof Error ? error.message : String(error) });
    }
  }
  const artifact = value as Partial<ModelArtifact> | null;
  const looksLikeArtifact = typeof artifact === "object" && artifact !== null && typeof artifact.id === "string" &&
    typeof artifact.paramSetId === "string" && typeof artifact.encodingSpec === "object" && artifact.encodingSpec !== null &&
    Array.isArray(artifact.weights) && typeof artifact.output === "object" && artifact.output !== null;
  if (!looksLikeArtifact) throw new ModelIntegrityError("not a model artifact (id, paramSetId, encodingSpec, weights, output expected)", {});
  try {
    return verifyModel(artifact as ModelArtifact);
  } catch (error) {
    if (error instanceof ModelIntegrityError) throw error;
    // A field of the wrong type deeper down (canonicalJson or the shape checks threw).
    throw new ModelIntegrityError("malformed model artifact", { modelId: artifact.id, cause: error instanceof Error ? error.message : String(error) });
  }
}

/** Checks an artifact obtained elsewhere (e.g. fetched, then compared with the on-chain hashes). */
export function verifyModel(model: ModelArtifact): ModelArtifact {
  const specHash = encodingSpecHash(model.encodingSpec);
  if (specHash !== model.encodingSpecHash) {
    throw new ModelIntegrityError("encodingSpecHash does not match the encoding spec", { modelId: model.id, expected: model.encodingSpecHash, actual: specHash });
  }
  const wHash = weightsHash(model);
  if (wHash !== model.weightsHash) {
    throw new ModelIntegrityError("weightsHash does not match the weights", { modelId: model.id, expected: model.weightsHash, actual: wHash });
  }
  const { layout } = model.encodingSpec;
  const shaped =
    model.weights.length === layout.scoreCount &&
    model.weights.every((row) => row.length === layout.tupleLength && row.every(Number.isFinite)) &&
    model.encodingSpec.features.length === layout.tupleLength &&
    layout.blockWidth === layout.tupleLength * layout.scoreCount &&
    model.output.labels.length === layout.scoreCount + 1;
  if (!shaped) throw new ModelIntegrityError("weights, features and slot layout disagree", { modelId: model.id });
  if (PARAMETER_SET_IDS.includes(model.paramSetId)) {
    // A score with no weight the set can encode on a travelling feature is a constant: the column
    // circuit would have no ciphertext term to add its bias to.
    const smallest = smallestWeight(getParameterSet(model.paramSetId));
    const travelling = columnFeatureIndices(model.encodingSpec);
    const score = model.weights.findIndex((row) => travelling.every((f) => Math.abs(row[f] as number) < smallest));
    if (score >= 0) throw new ModelIntegrityError("a score has no non-zero weight on any input feature", { modelId: model.id, score });
  }
  return model;
}
