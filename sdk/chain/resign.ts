import { ChainError } from "../errors.js";

/**
 * How many times a signed consent change is signed and submitted before its revert is final.
 * Each retry answers something that moved between signing and inclusion (another signature took
 * the nonce, a reorg or a lagging replica gave a nonce the chain no longer has, the relayer sat
 * past the deadline); three is enough for any one of those to settle, and a loop that keeps
 * losing is a conflict the caller must see.
 */
export const SIGNED_CONSENT_ATTEMPTS = 3;

/**
 * The custom error name of an on-chain failure (sendTransaction decodes it against every
 * contract's errors); undefined when `error` is no ChainError.
 */
export function revertName(error: unknown): string | undefined {
  return error instanceof ChainError ? error.reason : undefined;
}
