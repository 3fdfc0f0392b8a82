/**
 * The client side of MedCipher's CKKS engine: what a patient's or clinician's app needs, in a
 * browser or in Node — key generation, encryption, decryption, parameter sets, encoding specs,
 * blob formats, sealed secret keys, model artifacts from JSON, errors. Nothing here imports a
 * Node built-in (test/architecture/imports.test.ts walks it). The oracle-side evaluator and the
 * private-model mask, and reading model files from disk, are Node-only: fhe/index.ts.
 */
export { FheClient, FhePublicEncryptor, predictionFromScores, type DecryptOptions, type EncryptOptions, type GaloisRequirements, type Prediction } from "./client.js";
export {
  canonicalJson,
  encodingSpecHash,
  MODEL_IDS,
  parseModel,
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
export { checkPublicKeysOnly, openSecretKey, readEvaluationKeysBlob, sealSecretKey, SCRYPT_DEFAULTS, type ScryptCost } from "./keys.js";
export * from "./errors.js";
