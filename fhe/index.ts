/**
 * MedCipher's CKKS engine (node-seal), shared by the client (SDK) and the evaluator (oracle).
 * See docs/fhe.md for parameter sets, blob formats, encoding specs and the threat model.
 */
export { FheClient, FhePublicEncryptor, predictionFromScores, type EncryptOptions, type GaloisRequirements, type Prediction } from "./client.js";
export { createEvaluator, type EvaluateOptions, type EvaluateTimings, type FheEvaluator } from "./evaluate.js";
export { MASK_KEY_BYTES } from "./mask.js";
export {
  canonicalJson,
  encodingSpecHash,
  loadModel,
  MODEL_IDS,
  scoreReading,
  verifyModel,
  weightsHash,
  type ModelArtifact,
  type ModelMetrics,
  type OutputSpec,
} from "./model.js";
export { encodeReading, type EncodingSpec, type FeatureExpression, type InputFeature, type Reading, type SlotLayout, type TupleFeature } from "./encoding.js";
export { getParameterSet, PARAMETER_SET_IDS, type ParameterSet } from "./params.js";
export { readBlobHeader, ABSOLUTE_MAX_BLOB_BYTES, type BlobHeader, type BlobKindName } from "./blob.js";
export { readEvaluationKeysBlob } from "./keys.js";
export * from "./errors.js";
