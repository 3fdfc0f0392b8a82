/**
 * The errors of the gateway client (protocol/gatewayClient.ts), which the SDK and the oracle share.
 * They were the SDK's and keep the SDK's codes (the CLI maps codes to exit codes); sdk/errors.ts
 * re-exports them, so `instanceof` works whichever module a caller imports them from.
 */
import { BaseError } from "../core/errors.js";

/** The gateway refused a request; `code` is the gateway's (e.g. GATEWAY_FORBIDDEN), `status` its HTTP status. */
export class GatewayRequestError extends BaseError {
  override name = "GatewayRequestError";
  readonly status: number;
  constructor(status: number, code: string, message: string, details?: Record<string, unknown>) {
    super(message, { code, details: { status, ...details } });
    this.status = status;
  }
}

/** A response was not signed by the expected gateway key: forged, tampered or a wrong gateway. */
export class GatewaySignatureError extends BaseError {
  override name = "GatewaySignatureError";
  constructor(details: { expected: string; recovered?: string; url: string }) {
    super("Gateway response signature is missing or not from the registered gateway key.", { code: "SDK_GATEWAY_SIGNATURE", details });
  }
}

/** The gateway could not be reached or answered something that is not the protocol. */
export class GatewayUnavailableError extends BaseError {
  override name = "GatewayUnavailableError";
  constructor(url: string, cause?: unknown) {
    super(`Gateway at ${url} is unreachable or answered outside the protocol.`, { code: "SDK_GATEWAY_UNAVAILABLE", details: { url }, cause });
  }
}

/** Downloaded bytes do not hash to the id (or commitment) the chain names. */
export class IntegrityError extends BaseError {
  override name = "IntegrityError";
  constructor(what: string, details: Record<string, unknown>) {
    super(`${what} does not match its on-chain hash.`, { code: "SDK_INTEGRITY", details });
  }
}

/** The input does not meet what an action needs (unknown device, missing key …). */
export class InvalidInputError extends BaseError {
  override name = "InvalidInputError";
  constructor(message: string, details?: Record<string, unknown>) {
    super(message, { code: "SDK_INVALID_INPUT", details });
  }
}
