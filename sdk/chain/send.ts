import type { ContractTransactionResponse, TransactionReceipt } from "ethers";

import { ChainError, InvalidInputError, TimeoutError } from "../errors.js";

/** ethers codes for arguments that cannot be encoded: nothing was sent, so nothing "failed on-chain". */
const ENCODING_ERROR_CODES = new Set(["INVALID_ARGUMENT", "MISSING_ARGUMENT", "UNEXPECTED_ARGUMENT", "NUMERIC_FAULT"]);

export type SendTransactionOptions = {
  /** Give up waiting for the receipt after this many milliseconds (TimeoutError; the transaction may still land). Default: wait. */
  timeoutMs?: number;
  /** Called with the hash once the transaction is sent, before its receipt is awaited. */
  onSent?: (hash: string) => void;
};

/**
 * Sends a contract transaction and waits for its receipt, turning a revert into a ChainError that
 * names the contract's custom error (e.g. "NotAuthorisedToAnchor").
 */
export async function sendTransaction(action: string, send: () => Promise<ContractTransactionResponse>, options: SendTransactionOptions = {}): Promise<TransactionReceipt> {
  try {
    const tx = await send();
    options.onSent?.(tx.hash);
    const receipt = await tx.wait(1, options.timeoutMs);
    if (!receipt || receipt.status !== 1) throw new ChainError(action, "transaction reverted");
    return receipt;
  } catch (error) {
    if (error instanceof ChainError) throw error;
    // The receipt wait ran out (tx.wait's timeout), or the RPC call itself did (the provider's
    // request timeout): either way a timeout, not an on-chain failure. The transaction may still land.
    const timedOut = error as { code?: string; request?: { timeout?: number } };
    if (timedOut.code === "TIMEOUT") throw new TimeoutError(`the chain to take the ${action} transaction (it may still land)`, timedOut.request?.timeout ?? options.timeoutMs ?? 0);
    const { code, argument, shortMessage } = error as { code?: string; argument?: string; shortMessage?: string };
    if (code !== undefined && ENCODING_ERROR_CODES.has(code)) {
      throw new InvalidInputError(`${action}: ${shortMessage ?? code}${argument ? ` (argument "${argument}")` : ""}; nothing was sent.`, { action, code, argument });
    }
    throw new ChainError(action, revertReason(error), error);
  }
}

export function revertReason(error: unknown): string {
  const e = error as { revert?: { name?: string; args?: unknown[] }; reason?: string; shortMessage?: string; message?: string };
  if (e.revert?.name) return e.revert.name;
  return e.reason ?? e.shortMessage ?? e.message ?? String(error);
}
