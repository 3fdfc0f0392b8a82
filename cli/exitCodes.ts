/**
 * Exit codes: one per failure kind, so scripts can react without parsing messages.
 * Documented in docs/cli.md; keep the two in step.
 */
export const ExitCode = {
  OK: 0,
  /** Anything unexpected (a bug, or an error without a code). */
  INTERNAL: 1,
  /** Bad command line (commander's own usage errors use 1; ours use this). */
  USAGE: 2,
  /** Invalid input: malformed readings file, unknown record, wrong parameter. */
  INVALID_INPUT: 3,
  /** Keystore missing, wrong password or damaged. */
  KEYSTORE: 4,
  /** Refused: no live consent, not the owner, not a bound device, unauthenticated request. */
  FORBIDDEN: 5,
  /** Integrity: tampered blob, forged gateway signature, commitment or hash mismatch, decryption failure. */
  INTEGRITY: 6,
  /** A transaction reverted on-chain. */
  CHAIN_REVERT: 7,
  /** The chain RPC or the gateway is unreachable. */
  UNAVAILABLE: 8,
  /** Waited too long (e.g. for a prediction). */
  TIMEOUT: 9,
  /** The prediction ended without a result (failed, refused, cancelled). */
  PREDICTION_FAILED: 10,
  /** The gateway rate-limited the request or a size limit was hit. */
  LIMITED: 11,
} as const;

const byCode: Record<string, number> = {
  SDK_INVALID_INPUT: ExitCode.INVALID_INPUT,
  SDK_READINGS_MALFORMED: ExitCode.INVALID_INPUT,
  GATEWAY_BAD_REQUEST: ExitCode.INVALID_INPUT,
  GATEWAY_BLOB_NOT_FOUND: ExitCode.INVALID_INPUT,
  GATEWAY_BLOB_CONFLICT: ExitCode.INVALID_INPUT,
  SDK_KEYSTORE: ExitCode.KEYSTORE,
  GATEWAY_FORBIDDEN: ExitCode.FORBIDDEN,
  GATEWAY_AUTH_INVALID: ExitCode.FORBIDDEN,
  GATEWAY_AUTH_EXPIRED: ExitCode.FORBIDDEN,
  GATEWAY_AUTH_REPLAY: ExitCode.FORBIDDEN,
  GATEWAY_AUTH_WRONG_DOMAIN: ExitCode.FORBIDDEN,
  GATEWAY_BLOB_INTEGRITY: ExitCode.INTEGRITY,
  SDK_GATEWAY_SIGNATURE: ExitCode.INTEGRITY,
  SDK_GATEWAY_UNTRUSTED: ExitCode.INTEGRITY,
  SDK_INTEGRITY: ExitCode.INTEGRITY,
  SDK_DECRYPTION: ExitCode.INTEGRITY,
  AUDIT_LOG_CORRUPT: ExitCode.INTEGRITY,
  SDK_CHAIN_REVERT: ExitCode.CHAIN_REVERT,
  SDK_GATEWAY_UNAVAILABLE: ExitCode.UNAVAILABLE,
  GATEWAY_TIMEOUT: ExitCode.UNAVAILABLE,
  GATEWAY_INTERNAL: ExitCode.UNAVAILABLE,
  CLI_RPC_UNAVAILABLE: ExitCode.UNAVAILABLE,
  CLI_DEPLOYMENT_NOT_ON_CHAIN: ExitCode.UNAVAILABLE,
  SDK_TIMEOUT: ExitCode.TIMEOUT,
  SDK_PREDICTION_NOT_FULFILLED: ExitCode.PREDICTION_FAILED,
  GATEWAY_RATE_LIMITED: ExitCode.LIMITED,
  GATEWAY_BLOB_TOO_LARGE: ExitCode.LIMITED,
};

export function exitCodeFor(error: unknown): number {
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    if (code in byCode) return byCode[code]!;
    if (code.startsWith("FHE_")) return ExitCode.INVALID_INPUT;
    // A device's ML-DSA record signature refused, by a reader or by the gateway (protocol/signedRecord.ts).
    if (code.startsWith("RECORD_SIGNATURE_") || code.startsWith("GATEWAY_RECORD_SIGNATURE_")) return ExitCode.INTEGRITY;
    if (code === "MLDSA_KEY_INVALID") return ExitCode.KEYSTORE;
  }
  return ExitCode.INTERNAL;
}
