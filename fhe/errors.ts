/**
 * Typed errors of the CKKS engine. Each has a stable `code`; details never carry plaintext
 * health data or key material.
 */
import { BaseError } from "../core/errors.js";

export { InvalidReadingError } from "./encoding.js";
export { ModelIntegrityError, UnknownModelError } from "./model.js";
export { UnknownParameterSetError } from "./params.js";

/** The blob is larger than any blob of its kind may be; nothing of it was parsed. */
export class BlobTooLargeError extends BaseError {
  override name = "BlobTooLargeError";
  constructor(details: { bytes: number; maxBytes: number; kind?: string }) {
    super("Blob exceeds the size limit", { code: "FHE_BLOB_TOO_LARGE", details });
  }
}

/** Bad magic, truncated, reserved bytes set, length mismatch, or SEAL metadata not the one expected. */
export class MalformedBlobError extends BaseError {
  override name = "MalformedBlobError";
  constructor(reason: string, details: Record<string, unknown> = {}) {
    super(`Malformed blob: ${reason}`, { code: "FHE_MALFORMED_BLOB", details: { reason, ...details } });
  }
}

export class UnsupportedBlobVersionError extends BaseError {
  override name = "UnsupportedBlobVersionError";
  constructor(version: number) {
    super(`Unsupported blob format version ${version}`, { code: "FHE_UNSUPPORTED_VERSION", details: { version } });
  }
}

export class WrongBlobKindError extends BaseError {
  override name = "WrongBlobKindError";
  constructor(expected: string, actual: string) {
    super(`Expected a ${expected} blob, got ${actual}`, { code: "FHE_WRONG_KIND", details: { expected, actual } });
  }
}

export class WrongParameterSetError extends BaseError {
  override name = "WrongParameterSetError";
  constructor(expected: string, actual: string) {
    super(`Blob is for parameter set "${actual}", expected "${expected}"`, { code: "FHE_WRONG_PARAMETER_SET", details: { expected, actual } });
  }
}

/** Level, scale, ciphertext size, codec form or reading count differ from what the model expects. */
export class WrongCiphertextShapeError extends BaseError {
  override name = "WrongCiphertextShapeError";
  constructor(field: string, expected: unknown, actual: unknown) {
    super(`Ciphertext ${field} is ${String(actual)}, expected ${String(expected)}`, { code: "FHE_WRONG_SHAPE", details: { field, expected, actual } });
  }
}

/**
 * A ciphertext coefficient is not below its prime (a word ≥ q_j): SEAL would refuse it on load,
 * a crafted one could carry bits no honest encryptor writes. Checked by the ingestion firewall
 * (fhe/firewall.ts) before SEAL parses anything; the value itself is not echoed.
 */
export class CoefficientNotReducedError extends BaseError {
  override name = "CoefficientNotReducedError";
  constructor(details: { ciphertext: number; polynomial: number; prime: number; coefficient: number }) {
    super("Ciphertext coefficient is not reduced modulo its prime", { code: "FHE_COEFFICIENT_NOT_REDUCED", details });
  }
}

/** The input was encoded for another model (its binding is not this model's encodingSpecHash). */
export class WrongModelError extends BaseError {
  override name = "WrongModelError";
  constructor(details: { modelId: string; expected: string; actual: string }) {
    super(`Input was not encoded for model "${details.modelId}"`, { code: "FHE_WRONG_MODEL", details });
  }
}

export class KeysHashMismatchError extends BaseError {
  override name = "KeysHashMismatchError";
  constructor(expected: string, actual: string) {
    super("Evaluation keys do not match the committed hash", { code: "FHE_KEYS_HASH_MISMATCH", details: { expected, actual } });
  }
}

export class MissingEvaluationKeysError extends BaseError {
  override name = "MissingEvaluationKeysError";
  constructor(what: string) {
    super(`Evaluation keys missing: ${what}`, { code: "FHE_MISSING_EVALUATION_KEYS", details: { what } });
  }
}

export class MaskKeyRequiredError extends BaseError {
  override name = "MaskKeyRequiredError";
  constructor(modelId: string) {
    super(`Model "${modelId}" is private: a 32-byte mask key is required`, { code: "FHE_MASK_KEY_REQUIRED", details: { modelId } });
  }
}

/** A result does not answer the input the client sent (its binding is another input's hash). */
export class ResultBindingError extends BaseError {
  override name = "ResultBindingError";
  constructor(expected: string, actual: string) {
    super("Result was computed from another input", { code: "FHE_RESULT_BINDING", details: { expected, actual } });
  }
}

/**
 * An evaluation-keys blob that does not load as public keys only: not an evaluation-keys blob at
 * all (an exported secret key, a ciphertext), no public key, or a public-key section whose SEAL
 * object is not a public key of the blob's parameter set (a secret key saved in its place).
 * `reason` says which; nothing of the offending bytes is echoed.
 */
export class NotPublicKeysError extends BaseError {
  override name = "NotPublicKeysError";
  constructor(reason: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(`Not a public-keys-only evaluation-keys blob: ${reason}`, { code: "FHE_NOT_PUBLIC_KEYS", details: { reason, ...details }, cause });
  }
}

export class WrongPassphraseError extends BaseError {
  override name = "WrongPassphraseError";
  constructor() {
    super("Wrong passphrase, or the exported key was altered", { code: "FHE_WRONG_PASSPHRASE" });
  }
}

/** SEAL refused an object that passed every check before it (e.g. a coefficient ≥ its modulus). */
export class SealOperationError extends BaseError {
  override name = "SealOperationError";
  constructor(operation: string, cause: unknown) {
    super(`SEAL failed during ${operation}`, { code: "FHE_SEAL_FAILURE", details: { operation }, cause });
  }
}
