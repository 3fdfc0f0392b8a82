import { BaseError, type BaseErrorOptions } from "../core/errors.js";
import { PredictionCodes } from "../protocol/codes.js";

/**
 * The oracle's error classes. Every failure is either retryable (the world may change: an RPC
 * node or the gateway is down, a queue is full) or not (the request itself is bad and retrying
 * cannot help). Callers branch on the class, never on message text.
 */
export abstract class OracleError extends BaseError {
  abstract readonly retryable: boolean;
}

/** Transient: back off and try again (RPC timeout, refused connection, gateway 5xx). */
export class RetryableError extends OracleError {
  override name = "RetryableError";
  readonly retryable = true;
}

/** Permanent: retrying gives the same answer. */
export class NonRetryableError extends OracleError {
  override name = "NonRetryableError";
  readonly retryable = false;
}

export class ConfigError extends NonRetryableError {
  override name = "ConfigError";
  constructor(shortMessage: string, details?: Record<string, unknown>) {
    super(shortMessage, { code: "ORACLE_CONFIG_INVALID", ...(details ? { details } : {}) });
  }
}

/**
 * Why a request could not be served, as reported on-chain in `fulfilPrediction(failureCode)`.
 * The oracle's range (1–999) of `PredictionCodes` (sdk/codes.ts, mirroring
 * contracts/libraries/PredictionCodes.sol), under the names the daemon logs.
 */
export const FailureReason = {
  InputUnavailable: PredictionCodes.INPUT_UNAVAILABLE,
  InputHashMismatch: PredictionCodes.INPUT_HASH_MISMATCH,
  KeysUnavailable: PredictionCodes.KEYS_UNAVAILABLE,
  KeysHashMismatch: PredictionCodes.KEYS_HASH_MISMATCH,
  ModelUnavailable: PredictionCodes.MODEL_UNAVAILABLE,
  ParameterSetMismatch: PredictionCodes.PARAMETER_SET_MISMATCH,
  EvaluationFailed: PredictionCodes.EVALUATION_FAILED,
  StorageFailed: PredictionCodes.STORAGE_FAILED,
  Expired: PredictionCodes.EXPIRED,
  OracleInternal: PredictionCodes.ORACLE_INTERNAL,
} as const;
export type FailureReason = (typeof FailureReason)[keyof typeof FailureReason];

export function failureReasonName(code: number): string {
  for (const [name, value] of Object.entries(FailureReason)) if (value === code) return name;
  return `Unknown(${code})`;
}

/** The request cannot be served; the daemon reports `reason` on-chain and carries on. */
export class BadRequestInputError extends NonRetryableError {
  override name = "BadRequestInputError";
  readonly reason: FailureReason;
  constructor(reason: FailureReason, shortMessage: string, options: Omit<BaseErrorOptions, "code"> = {}) {
    super(shortMessage, { ...options, code: `ORACLE_BAD_INPUT_${failureReasonName(reason).toUpperCase()}` });
    this.reason = reason;
  }
}

/**
 * The gateway answered with an authorisation or conflict status (401, 403, 409). It judged
 * against its own view of the chain, which may be a dropped branch right after a reorg, or the
 * request was a retry it had already processed: retried with backoff, never a failure at once.
 * `reason` is what the daemon reports if a read is still refused after GATEWAY_REFUSAL_WINDOW_MS
 * and the chain still shows the request pending with the same input.
 */
export class GatewayRefusalError extends RetryableError {
  override name = "GatewayRefusalError";
  readonly reason: FailureReason;
  readonly status: number;
  constructor(reason: FailureReason, status: number, shortMessage: string, options: Omit<BaseErrorOptions, "code"> = {}) {
    super(shortMessage, { ...options, code: "ORACLE_GATEWAY_REFUSED", details: { ...options.details, status } });
    this.reason = reason;
    this.status = status;
  }
}

/** Raised when an API caller offers a field that could hold a secret key or plaintext. */
export class ForbiddenFieldError extends NonRetryableError {
  override name = "ForbiddenFieldError";
  constructor(field: string) {
    super(`Field "${field}" is not accepted: the oracle takes no secret keys and no plaintext`, {
      code: "ORACLE_FORBIDDEN_FIELD",
      details: { field },
    });
  }
}

export class QueueFullError extends RetryableError {
  override name = "QueueFullError";
  constructor(limit: number) {
    super("Evaluation queue is full", { code: "ORACLE_QUEUE_FULL", details: { limit } });
  }
}

export class ShutdownError extends RetryableError {
  override name = "ShutdownError";
  constructor() {
    super("The daemon is shutting down", { code: "ORACLE_SHUTTING_DOWN" });
  }
}

const RETRYABLE_NODE_CODES = new Set([
  "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH",
  "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT",
]);

/** Classifies anything thrown: our own classes say so; network-level failures are retryable. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof OracleError) return error.retryable;
  if (error instanceof BaseError) return false;
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    const e = current as { name?: string; code?: string; cause?: unknown };
    if (e.name === "AbortError" || e.name === "TimeoutError") return true;
    if (typeof e.code === "string" && RETRYABLE_NODE_CODES.has(e.code)) return true;
    if (e instanceof TypeError && /fetch failed/i.test(String((e as Error).message))) return true;
    current = e.cause;
  }
  return false;
}

export function errorMessage(error: unknown): string {
  if (error instanceof BaseError) return error.shortMessage;
  if (error instanceof Error) return error.message;
  return String(error);
}
