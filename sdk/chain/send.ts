import type { ContractTransactionResponse, TransactionReceipt } from "ethers";

import { BaseError } from "../../core/errors.js";
import { decodeRevert, describeUnfunded, replayRevert, unfundedAccountOf, type DecodedRevert } from "../../protocol/revert.js";
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
 * Sends a contract transaction and waits for its receipt, turning every failure into an SDK
 * error: a revert (from the gas estimate, the node's send, or a mined status-0 receipt) into a
 * ChainError naming the contract's custom error and its arguments; a sender without gas money
 * into one that says so; a bad argument into InvalidInputError; a timeout into TimeoutError.
 */
export async function sendTransaction(action: string, send: () => Promise<ContractTransactionResponse>, options: SendTransactionOptions = {}): Promise<TransactionReceipt> {
  let sent: ContractTransactionResponse | undefined;
  try {
    sent = await send();
    options.onSent?.(sent.hash);
    const receipt = await sent.wait(1, options.timeoutMs);
    // wait(1) returns null only for zero confirmations; a status-0 receipt makes ethers throw (below).
    if (!receipt) throw new TimeoutError(`the chain to mine the ${action} transaction`, options.timeoutMs ?? 0);
    if (receipt.status !== 1) throw await minedFailure(action, sent, receipt, undefined);
    return receipt;
  } catch (error) {
    if (error instanceof BaseError) throw error;
    // The receipt wait ran out (tx.wait's timeout), or the RPC call itself did (the provider's
    // request timeout): either way a timeout, not an on-chain failure. The transaction may still land.
    const timedOut = error as { code?: string; request?: { timeout?: number } };
    if (timedOut.code === "TIMEOUT") throw new TimeoutError(`the chain to take the ${action} transaction (it may still land)`, timedOut.request?.timeout ?? options.timeoutMs ?? 0);
    const { code, argument, shortMessage, receipt } = error as { code?: string; argument?: string; shortMessage?: string; receipt?: TransactionReceipt | null };
    if (code !== undefined && ENCODING_ERROR_CODES.has(code)) {
      throw new InvalidInputError(`${action}: ${shortMessage ?? code}${argument ? ` (argument "${argument}")` : ""}; nothing was sent.`, { action, code, argument });
    }
    if (sent && receipt && receipt.status === 0) throw await minedFailure(action, sent, receipt, error);
    throw chainErrorOf(action, error);
  }
}

/**
 * The SDK's error for a failed contract call or transaction: the decoded revert when the error
 * carries revert data, the sender's missing gas money in words, else the node's own message.
 */
export function chainErrorOf(action: string, error: unknown): ChainError {
  const unfunded = unfundedAccountOf(error);
  if (unfunded) {
    const args = { ...(unfunded.account ? { account: unfunded.account } : {}), ...(unfunded.balanceWei !== undefined ? { balanceWei: unfunded.balanceWei.toString() } : {}) };
    return new ChainError(action, "InsufficientFunds", error, { args, message: `${describeUnfunded(action, unfunded)}.` });
  }
  const revert = decodeRevert(error);
  if (revert) return fromRevert(action, revert, error);
  return new ChainError(action, fallbackReason(error), error);
}

/** A mined, failed transaction: its revert data comes from replaying it at its block. */
async function minedFailure(action: string, sent: ContractTransactionResponse, receipt: TransactionReceipt, error: unknown): Promise<ChainError> {
  const replayed = await replayRevert(sent.provider, sent, receipt).catch(() => undefined);
  const details = { transactionHash: receipt.hash, blockNumber: receipt.blockNumber };
  if (replayed) return fromRevert(action, replayed, error ?? details);
  return new ChainError(action, "transaction reverted (no reason: the replay at its block did not revert)", error ?? details);
}

function fromRevert(action: string, revert: DecodedRevert, cause: unknown): ChainError {
  return new ChainError(action, revert.reason, cause, { args: revert.args });
}

/** What the node said, when nothing decodes: never ethers' "could not coalesce error" wrapper alone. */
function fallbackReason(error: unknown): string {
  const e = error as { reason?: string; shortMessage?: string; message?: string; error?: { message?: string } };
  if (e.error?.message) return e.error.message;
  return e.reason ?? e.shortMessage ?? e.message ?? String(error);
}
