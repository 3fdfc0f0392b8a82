/**
 * The one error base for every MedCipher package (fhe, sdk, gateway, oracle, cli).
 *
 * Modelled on viem's BaseError: a short message for people, a stable `code` for programs, and
 * optional details and cause. Callers tell cases apart with `instanceof` on the subclasses or
 * with `code`; never by parsing messages.
 */
export type BaseErrorOptions = {
  /** Stable, machine-readable identifier, e.g. "FHE_WRONG_PARAMETER_SET". */
  code: string;
  /** Extra facts that explain the failure (never secrets, never plaintext health data). */
  details?: Record<string, unknown>;
  cause?: unknown;
};

export class BaseError extends Error {
  override name = "MedCipherError";
  readonly shortMessage: string;
  readonly code: string;
  readonly details: Record<string, unknown>;

  constructor(shortMessage: string, options: BaseErrorOptions) {
    const detailText = options.details && Object.keys(options.details).length > 0
      ? `\n\nDetails: ${JSON.stringify(options.details, bigintSafe)}`
      : "";
    super(shortMessage + detailText, options.cause === undefined ? undefined : { cause: options.cause });
    this.shortMessage = shortMessage;
    this.code = options.code;
    this.details = options.details ?? {};
  }
}

function bigintSafe(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}
