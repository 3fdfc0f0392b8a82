/**
 * The SDK's typed errors. Each failure kind has its own class and stable `code`, so callers
 * (and the CLI's exit codes) can tell them apart without reading messages.
 */
import { BaseError } from "../core/errors.js";
import { describeRevert, type JsonValue } from "../protocol/revert.js";

// The gateway client's errors live with it in protocol/ (the oracle uses the client too).
export { GatewayRequestError, GatewaySignatureError, GatewayUnavailableError, IntegrityError, InvalidInputError } from "../protocol/errors.js";
// A sealed record or share whose size-bucket padding is not exact (core/padding.ts).
export { PaddingError } from "../core/padding.js";

/** The gateway's key is not registered on-chain (no GATEWAY_ROLE): its signatures prove nothing. */
export class UntrustedGatewayError extends BaseError {
  override name = "UntrustedGatewayError";
  constructor(details: { gateway: string; url: string }) {
    super(`Gateway ${details.gateway} at ${details.url} does not hold GATEWAY_ROLE on this chain.`, { code: "SDK_GATEWAY_UNTRUSTED", details });
  }
}

/**
 * Decryption failed: wrong key, or ciphertext altered (AES-GCM authentication). `reason` replaces
 * the generic "wrong key or altered ciphertext" when the cause is known (e.g. a hybrid wrap given
 * only an X25519 key pair: `details.reason` "mlkem-key-needed").
 */
export class DecryptionError extends BaseError {
  override name = "DecryptionError";
  constructor(what: string, cause?: unknown, known?: { reason: string; explanation: string }) {
    super(`Could not decrypt ${what}: ${known?.explanation ?? "wrong key or altered ciphertext"}.`, { code: "SDK_DECRYPTION", cause, details: known ? { reason: known.reason } : undefined });
  }
}

/** Keystore password wrong or keystore file damaged. */
export class KeystoreError extends BaseError {
  override name = "KeystoreError";
  constructor(message: string, cause?: unknown) {
    super(message, { code: "SDK_KEYSTORE", cause });
  }
}

/** A readings file has rows that cannot be ingested; `rows` says which line and why. */
export class ReadingsParseError extends BaseError {
  override name = "ReadingsParseError";
  readonly rows: readonly { line: number; problem: string }[];
  constructor(rows: readonly { line: number; problem: string }[]) {
    super(`${rows.length} malformed reading row(s): ${rows.slice(0, 5).map((r) => `line ${r.line}: ${r.problem}`).join("; ")}${rows.length > 5 ? "; …" : ""}`, {
      code: "SDK_READINGS_MALFORMED",
      details: { rows: rows.slice(0, 100) },
    });
    this.rows = rows;
  }
}

/**
 * A contract call or transaction failed on-chain. `details.reason` is the decoded custom error's
 * name (`NoSponsor`, `AccessControlUnauthorizedAccount`, `Error`, `Panic`, `OutOfGas`,
 * `InsufficientFunds` …) and `details.args` its arguments by name, JSON-safe (bigints as strings).
 */
export class ChainError extends BaseError {
  override name = "ChainError";
  readonly reason: string;
  readonly args: Record<string, JsonValue>;
  constructor(action: string, reason: string, cause?: unknown, options: { args?: Record<string, JsonValue>; message?: string } = {}) {
    const args = options.args ?? {};
    super(options.message ?? `${action} failed on-chain: ${describeRevert({ reason, args })}.`, { code: "SDK_CHAIN_REVERT", details: { action, reason, args }, cause });
    this.reason = reason;
    this.args = args;
  }
}

/** Waiting for something on-chain took longer than allowed. */
export class TimeoutError extends BaseError {
  override name = "TimeoutError";
  constructor(what: string, timeoutMs: number) {
    super(`Timed out after ${timeoutMs} ms waiting for ${what}.`, { code: "SDK_TIMEOUT", details: { what, timeoutMs } });
  }
}

/** A prediction request ended without a result (Failed, Refused or Cancelled), with its reason code. */
export class PredictionNotFulfilledError extends BaseError {
  override name = "PredictionNotFulfilledError";
  constructor(requestId: string, status: number, reasonCode: number) {
    super(`Prediction ${requestId} was not fulfilled (status ${status}, reason ${reasonCode}).`, { code: "SDK_PREDICTION_NOT_FULFILLED", details: { requestId, status, reasonCode } });
  }
}

/**
 * The CKKS key set at hand is not the one the chain names: decrypting with it would give a
 * confident wrong answer (noise, e.g. "p = 1.0"), so nothing is decrypted. `expected` is the
 * on-chain keysHash (the request's, or the patient's current `keySetOf`), `actual` the one given.
 */
export class KeySetMismatchError extends BaseError {
  override name = "KeySetMismatchError";
  constructor(details: { expected: string; actual: string; requestId?: string; patient?: string }) {
    super(
      `The CKKS key set ${details.actual} is not the one the chain names (${details.expected})${details.requestId ? ` for request ${details.requestId}` : ""}: use the key set it was made under.`,
      { code: "SDK_KEY_SET_MISMATCH", details },
    );
  }
}
