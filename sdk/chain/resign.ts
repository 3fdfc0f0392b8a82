import type { Interface } from "ethers";

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
 * The custom error name of an on-chain revert, decoded from its revert data with `contract`'s
 * ABI; undefined when `error` is no revert or its data is not one of the contract's errors.
 * Providers put the data in different places (ethers: `data` or `info.error.data`; Hardhat's
 * in-process chain: `data` on the cause), so each is tried.
 */
export function revertName(error: unknown, contract: Interface): string | undefined {
  if (!(error instanceof ChainError)) return undefined;
  for (const data of revertDataOf(error.cause)) {
    const parsed = contract.parseError(data);
    if (parsed) return parsed.name;
  }
  return undefined;
}

function revertDataOf(error: unknown, depth = 0): string[] {
  if (typeof error !== "object" || error === null || depth > 3) return [];
  const e = error as { data?: unknown; error?: unknown; info?: { error?: unknown }; cause?: unknown };
  const own = typeof e.data === "string" && /^0x[0-9a-fA-F]{8}/.test(e.data) ? [e.data] : [];
  return [...own, ...[e.error, e.info?.error, e.cause].flatMap((inner) => revertDataOf(inner, depth + 1))];
}
