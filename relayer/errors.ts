import { BaseError } from "../core/errors.js";
import { RELAYER_ERROR_STATUS, type RelayerErrorCode } from "../protocol/relayer.js";

/** A refusal of the relayer: its code (protocol/relayer.ts) decides the HTTP status. */
export class RelayerRefusal extends BaseError {
  override name = "RelayerRefusal";
  readonly status: number;
  constructor(code: RelayerErrorCode, message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(message, { code, details, cause });
    this.status = RELAYER_ERROR_STATUS[code];
  }
}

/** The relayer's settings are unusable; every problem is listed. */
export class RelayerConfigError extends BaseError {
  override name = "RelayerConfigError";
  constructor(message: string, problems: string[]) {
    super(message, { code: "RELAYER_CONFIG", details: { problems } });
  }
}
