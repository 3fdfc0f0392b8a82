/**
 * Every way the gateway refuses a request. Each error has a stable `code` (sent to the client in
 * the signed JSON error body) and the HTTP status it maps to. The SDK's gateway client turns a
 * code back into the same class, so callers on both sides tell cases apart with `instanceof`.
 */
import { BaseError } from "../core/errors.js";

export abstract class GatewayError extends BaseError {
  abstract readonly httpStatus: number;
}

/** Stored or uploaded bytes do not hash to their address. Nothing is stored or served. */
export class BlobIntegrityError extends GatewayError {
  override name = "BlobIntegrityError";
  readonly httpStatus = 422;
  constructor(details: { blobId: string; actual?: string; where: "upload" | "store" | "response" }) {
    super(`Blob bytes do not match their SHA-256 address ${details.blobId}.`, { code: "GATEWAY_BLOB_INTEGRITY", details });
  }
}

export class BlobNotFoundError extends GatewayError {
  override name = "BlobNotFoundError";
  readonly httpStatus = 404;
  constructor(blobId: string) {
    super(`No blob ${blobId}.`, { code: "GATEWAY_BLOB_NOT_FOUND", details: { blobId } });
  }
}

export class BlobTooLargeError extends GatewayError {
  override name = "BlobTooLargeError";
  readonly httpStatus = 413;
  constructor(details: { kind: string; maxBytes: number; bytes?: number }) {
    super(`Blob of kind "${details.kind}" exceeds ${details.maxBytes} bytes.`, { code: "GATEWAY_BLOB_TOO_LARGE", details });
  }
}

/** The blob already exists under another owner, kind or category. */
export class BlobConflictError extends GatewayError {
  override name = "BlobConflictError";
  readonly httpStatus = 409;
  constructor(blobId: string) {
    super(`Blob ${blobId} already exists with different metadata.`, { code: "GATEWAY_BLOB_CONFLICT", details: { blobId } });
  }
}

/**
 * An `he-keys` upload that does not load as public keys only (fhe/keys.ts checkPublicKeysOnly):
 * a secret key sent by mistake, a ciphertext, junk. Nothing is stored; `reason` says what failed.
 */
export class NotPublicKeysError extends GatewayError {
  override name = "NotPublicKeysError";
  readonly httpStatus = 422;
  constructor(details: { blobId: string; reason: string; engineCode?: string }) {
    super(`An evaluation-keys blob must hold public keys only: ${details.reason}.`, { code: "GATEWAY_NOT_PUBLIC_KEYS", details });
  }
}

/**
 * The ingestion firewall (gateway/firewall.ts) refused an input: each case has its own code (see
 * FIREWALL_CODES). A malformed ciphertext keeps the engine's code (`engineCode`, e.g.
 * FHE_COEFFICIENT_NOT_REDUCED) beside its own. Nothing is stored.
 */
export class FirewallError extends GatewayError {
  override name = "FirewallError";
  readonly httpStatus: number;
  constructor(code: FirewallCode, message: string, details?: Record<string, unknown>) {
    super(message, { code, details });
    this.httpStatus = FIREWALL_CODES[code];
  }
}

/** Every FirewallError code and its HTTP status. */
export const FIREWALL_CODES = {
  /** The input is not what an honest encryptor of the owner's parameter set writes (details.engineCode says how). */
  GATEWAY_FIREWALL_MALFORMED_INPUT: 422,
  /** The input's parameter set is not that of the owner's key set. */
  GATEWAY_FIREWALL_WRONG_PARAMETER_SET: 422,
  /** The request names a key set (`ref`) that is not the owner's current one on-chain. */
  GATEWAY_FIREWALL_KEY_MISMATCH: 409,
  /** The owner has no key set on-chain (not a registered patient). */
  GATEWAY_FIREWALL_NO_KEY_SET: 409,
  /** The owner's evaluation keys (the blob named by keySetOf) are not stored here, or not public keys. */
  GATEWAY_FIREWALL_KEYS_UNAVAILABLE: 409,
  /** This gateway requires the firewall: a direct `he-input` upload is refused (POST /v1/firewall/he-input/:id instead). */
  GATEWAY_FIREWALL_REQUIRED: 403,
  /** This gateway runs no firewall. */
  GATEWAY_FIREWALL_UNAVAILABLE: 404,
} as const;

export type FirewallCode = keyof typeof FIREWALL_CODES;

/** The request is malformed (bad id, bad header, unknown kind). */
export class BadRequestError extends GatewayError {
  override name = "BadRequestError";
  readonly httpStatus = 400;
  constructor(message: string, details?: Record<string, unknown>) {
    super(message, { code: "GATEWAY_BAD_REQUEST", details });
  }
}

/** Missing or invalid request signature. */
export class AuthenticationError extends GatewayError {
  override name = "AuthenticationError";
  readonly httpStatus = 401;
  constructor(message: string, details?: Record<string, unknown>) {
    super(message, { code: "GATEWAY_AUTH_INVALID", details });
  }
}

/** The request's timestamp is outside the accepted window. */
export class ExpiredRequestError extends GatewayError {
  override name = "ExpiredRequestError";
  readonly httpStatus = 401;
  constructor(details: { timestamp: number; now: number; windowSeconds: number }) {
    super("Request timestamp is outside the accepted window.", { code: "GATEWAY_AUTH_EXPIRED", details });
  }
}

/** The request's nonce was already used by this signer. */
export class ReplayedRequestError extends GatewayError {
  override name = "ReplayedRequestError";
  readonly httpStatus = 401;
  constructor(details: { signer: string; nonce: string }) {
    super("Request nonce was already used (replay).", { code: "GATEWAY_AUTH_REPLAY", details });
  }
}

/** The request was signed for another chain or another gateway. */
export class WrongDomainError extends GatewayError {
  override name = "WrongDomainError";
  readonly httpStatus = 401;
  constructor(details: { expectedChainId: number; chainId: number; expectedGateway: string; gateway: string }) {
    super("Request was signed for another chain id or gateway.", { code: "GATEWAY_AUTH_WRONG_DOMAIN", details });
  }
}

/** Authenticated, but the chain does not allow this signer this access. */
export class ForbiddenError extends GatewayError {
  override name = "ForbiddenError";
  readonly httpStatus = 403;
  constructor(reason: string, details?: Record<string, unknown>) {
    super(`Access refused: ${reason}`, { code: "GATEWAY_FORBIDDEN", details: { reason, ...details } });
  }
}

/**
 * A read under a private or group consent (gateway/privateAccess.ts) refused before the chain's
 * consent answer: a malformed or forged grant, a malformed proof, a proof bound to another request
 * or consent, a proof PrivacyGroups does not accept, a nullifier already used. Each case has its
 * own code (see PRIVATE_ACCESS_CODES); the chain saying "no live consent" is a ForbiddenError.
 */
export class PrivateAccessError extends GatewayError {
  override name = "PrivateAccessError";
  readonly httpStatus: number;
  constructor(code: PrivateAccessCode, message: string, details?: Record<string, unknown>) {
    super(message, { code, details });
    this.httpStatus = PRIVATE_ACCESS_CODES[code];
  }
}

/** Every PrivateAccessError code and its HTTP status. */
export const PRIVATE_ACCESS_CODES = {
  /** The private-consent header does not parse (protocol/privateConsent.ts strict parser). */
  GATEWAY_PRIVATE_CONSENT_MALFORMED: 400,
  /** The grant's signature is not its patient's (or not canonical). */
  GATEWAY_PRIVATE_CONSENT_SIGNATURE: 403,
  /** The group-access header does not parse, or a group read carries a signed-request header too. */
  GATEWAY_ZK_PROOF_MALFORMED: 400,
  /** The proof's timestamp is outside the clock-skew window. */
  GATEWAY_ZK_STALE: 401,
  /** The proof's scope is not this consent's with the header's nonce on this deployment. */
  GATEWAY_ZK_SCOPE_MISMATCH: 401,
  /** The proof's message is not this request's (method, path, body, time, this gateway). */
  GATEWAY_ZK_MESSAGE_MISMATCH: 401,
  /** The proof does not verify (tampered, or made for other public inputs). */
  GATEWAY_ZK_PROOF_INVALID: 403,
  /** The proof's root was never the group's (not a member when it was made, or a made-up group). */
  GATEWAY_ZK_ROOT_UNKNOWN: 403,
  /** The proof's root was replaced longer ago than PrivacyGroups.rootWindow(). */
  GATEWAY_ZK_ROOT_EXPIRED: 403,
  /** The proof's root predates a removal from the group: a removed member's proof. */
  GATEWAY_ZK_ROOT_BEFORE_REMOVAL: 403,
  /** The consent names a group that does not exist or has no members. */
  GATEWAY_ZK_GROUP_UNKNOWN: 403,
  /** This nullifier was already accepted once: a replayed proof. */
  GATEWAY_ZK_NULLIFIER_REPLAY: 401,
} as const;

export type PrivateAccessCode = keyof typeof PRIVATE_ACCESS_CODES;

/**
 * A record upload refused for its device signature (gateway/recordSignatures.ts): the codes of
 * protocol/signedRecord.ts's RecordSignatureError with GATEWAY_ before them. Nothing is stored;
 * `details.reason` says exactly what failed.
 */
export class RecordSignatureRefusedError extends GatewayError {
  override name = "RecordSignatureRefusedError";
  readonly httpStatus: number;
  constructor(code: RecordSignatureRefusalCode, message: string, details?: Record<string, unknown>) {
    super(message, { code, details });
    this.httpStatus = RECORD_SIGNATURE_REFUSALS[code];
  }
}

/** Every RecordSignatureRefusedError code and its HTTP status. */
export const RECORD_SIGNATURE_REFUSALS = {
  /** Not the signed-record layout: bad magic or version, truncated, a non-canonical header. */
  GATEWAY_RECORD_SIGNATURE_MALFORMED: 400,
  /** The ML-DSA-65 signature does not verify over the header (forged or altered). */
  GATEWAY_RECORD_SIGNATURE_INVALID: 403,
  /** The signature is for another envelope than the one uploaded (lifted onto other bytes). */
  GATEWAY_RECORD_SIGNATURE_BODY_MISMATCH: 422,
  /** The signing key is not the one the device's current binding commits to. */
  GATEWAY_RECORD_SIGNATURE_WRONG_KEY: 403,
  /** The signing device is not bound to the upload's owner now. */
  GATEWAY_RECORD_SIGNATURE_DEVICE_NOT_BOUND: 403,
  /** Signed for another chain, registry, patient, category or device than this upload's. */
  GATEWAY_RECORD_SIGNATURE_WRONG_CONTEXT: 403,
  /** Signed outside the freshness window (limits.recordSignatureMaxAgeSeconds back, the timestamp window ahead). */
  GATEWAY_RECORD_SIGNATURE_STALE: 401,
  /** An unsigned record from a device bound with an ML-DSA key. */
  GATEWAY_RECORD_SIGNATURE_MISSING: 403,
} as const;

export type RecordSignatureRefusalCode = keyof typeof RECORD_SIGNATURE_REFUSALS;

export class RateLimitedError extends GatewayError {
  override name = "RateLimitedError";
  readonly httpStatus = 429;
  constructor(details: { signer: string; retryAfterMs: number }) {
    super("Too many requests from this signer.", { code: "GATEWAY_RATE_LIMITED", details });
  }
}

export class GatewayTimeoutError extends GatewayError {
  override name = "GatewayTimeoutError";
  readonly httpStatus = 503;
  constructor(timeoutMs: number) {
    super(`Request not served within ${timeoutMs} ms.`, { code: "GATEWAY_TIMEOUT", details: { timeoutMs } });
  }
}

/** Too many upload bytes in flight at once (`limits.maxInFlightUploadBytes`): retry shortly. */
export class GatewayBusyError extends GatewayError {
  override name = "GatewayBusyError";
  readonly httpStatus = 503;
  constructor(details: { inFlightBytes: number; requestedBytes: number; budgetBytes: number; retryAfterMs: number }) {
    super("The gateway is receiving as many upload bytes as it allows at once; retry shortly.", { code: "GATEWAY_BUSY", details });
  }
}

/**
 * The disk under the data directory is full (ENOSPC, EDQUOT or SQLite's "database or disk is
 * full"). The request changed nothing: no blob, metadata, nonce or audit entry was half-written.
 */
export class InsufficientStorageError extends GatewayError {
  override name = "InsufficientStorageError";
  readonly httpStatus = 507;
  constructor(cause?: unknown) {
    super("The gateway's disk is full: nothing of this request was stored. Retry once the operator has freed space.", { code: "GATEWAY_STORAGE_FULL", cause });
  }
}

/**
 * The Postgres replicas share (DATABASE_URL) did not answer or dropped the connection. Nonces,
 * metadata and audit entries are written in single statements or transactions, so none is
 * half-written; a blob the store already took is unreferenced until the retry records it.
 */
export class DatabaseUnavailableError extends GatewayError {
  override name = "DatabaseUnavailableError";
  readonly httpStatus = 503;
  constructor(details: { reason: string }, cause?: unknown) {
    super(`The gateway's database is unavailable (${details.reason}); the request was not completed. Retry shortly.`, { code: "GATEWAY_DATABASE_UNAVAILABLE", details, cause });
  }
}

/** True for the errors a full disk raises in node:fs and node:sqlite. */
export function isDiskFullError(error: unknown): boolean {
  const e = error as { code?: unknown; errcode?: unknown; errors?: unknown[] } | undefined;
  if (!e || typeof e !== "object") return false;
  if (e.code === "ENOSPC" || e.code === "EDQUOT") return true;
  // SQLITE_FULL is primary result code 13 (extended codes keep it in the low byte).
  if (e.code === "ERR_SQLITE_ERROR" && typeof e.errcode === "number" && (e.errcode & 0xff) === 13) return true;
  return Array.isArray(e.errors) && e.errors.some(isDiskFullError);
}

/** Anything unexpected; details stay in the gateway's log, never in the response. */
export class GatewayInternalError extends GatewayError {
  override name = "GatewayInternalError";
  readonly httpStatus = 500;
  constructor(cause?: unknown) {
    super("Internal gateway error.", { code: "GATEWAY_INTERNAL", cause });
  }
}

/** The data directory cannot be used (read-only file system, no permission): raised at start-up. */
export class DataDirectoryError extends BaseError {
  override name = "DataDirectoryError";
  constructor(details: { path: string; errno: string; problem: string }, cause?: unknown) {
    super(`Gateway data directory ${details.path} is unusable: ${details.problem} (${details.errno}).`, { code: "GATEWAY_DATA_DIR_UNUSABLE", details, cause });
  }
}

/**
 * Raised at start-up with a shared database: this replica's clock differs from the database's by
 * more than the shared nonce cache tolerates, so a request this replica still accepts could have
 * had its nonce forgotten already (a replay) or be refused as expired while others take it.
 */
export class ClockSkewError extends BaseError {
  override name = "ClockSkewError";
  constructor(details: { skewSeconds: number; toleratedSeconds: number }) {
    super(`This gateway's clock is ${details.skewSeconds.toFixed(1)} s off the shared database's (at most ${details.toleratedSeconds} s is tolerated): synchronise it (NTP) before starting a replica.`, { code: "GATEWAY_CLOCK_SKEW", details });
  }
}

/**
 * The blob store (an S3-compatible endpoint) did not answer or refused the request. The request
 * changed nothing: an upload is either wholly in the store or not at all. Retry shortly.
 */
export class BlobStoreUnavailableError extends GatewayError {
  override name = "BlobStoreUnavailableError";
  readonly httpStatus = 503;
  constructor(details: { operation: "put" | "get" | "has" | "delete" | "ready"; blobId?: string; reason: string }, cause?: unknown) {
    super(`The blob store is unavailable (${details.operation}: ${details.reason}); nothing was half-written. Retry shortly.`, { code: "GATEWAY_BLOB_STORE_UNAVAILABLE", details, cause });
  }
}
