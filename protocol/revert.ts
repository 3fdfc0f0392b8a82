/**
 * Revert decoding for every component: finds the revert data wherever ethers, Hardhat or a
 * JSON-RPC node put it, and decodes it against the custom errors of every MedCipher, OpenZeppelin
 * and Chainlink contract we call (protocol/abi/generated.ts), plus Solidity's Error(string) and
 * Panic(uint256). Browser-safe: ethers only.
 */
import { formatEther, Interface, Result, Transaction, type ErrorDescription, type Provider } from "ethers";

import { medCipherErrorsAbi } from "./abi/generated.js";

/** JSON-safe values: what a decoded argument becomes (bigint and bytes as strings). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export type DecodedRevert = {
  /** The custom error's name (`NoSponsor`), or `Error` / `Panic` for Solidity's built-in ones. */
  reason: string;
  /** The error's arguments by parameter name (by position where unnamed), JSON-safe. */
  args: Record<string, JsonValue>;
  /** `NoSponsor(address,address,uint256)`; `unknown` when the selector is none of ours. */
  signature: string;
  /** The raw revert data (selector + ABI-encoded arguments). */
  data: string;
};

/** Solidity's panic codes (docs.soliditylang.org, "Panic via assert and error via require"). */
export const PANIC_REASONS: Readonly<Record<number, string>> = {
  0x00: "generic compiler panic",
  0x01: "assertion failed",
  0x11: "arithmetic overflow or underflow",
  0x12: "division or modulo by zero",
  0x21: "invalid enum value",
  0x22: "invalid storage byte array",
  0x31: "pop from an empty array",
  0x32: "array index out of bounds",
  0x41: "out of memory",
  0x51: "call to an uninitialised function",
};

export const medCipherErrors = new Interface(medCipherErrorsAbi);

const REVERT_DATA = /^0x(?:[0-9a-fA-F]{8})(?:[0-9a-fA-F]{64})*$/;

/**
 * The revert data carried by `error`, wherever it sits: ethers puts it in `data` (eth_call) or,
 * on the estimateGas and "could not coalesce" paths, in `error.data` / `info.error.data`;
 * Hardhat's in-process provider in `data` of its own error or of a cause; some nodes wrap it one
 * level deeper (`data.data`). Undefined when no level holds a selector-shaped hex string.
 */
export function revertDataOf(error: unknown, depth = 0): string | undefined {
  if (typeof error !== "object" || error === null || depth > 4) return undefined;
  const e = error as { data?: unknown; error?: unknown; info?: { error?: unknown }; cause?: unknown; revert?: unknown };
  if (typeof e.data === "string" && REVERT_DATA.test(e.data)) return e.data;
  for (const inner of [e.data, e.error, e.info?.error, e.cause]) {
    const found = revertDataOf(inner, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** Decodes revert data against every contract's errors; an unknown selector stays `unknown`, with its data. */
export function decodeRevertData(data: string): DecodedRevert {
  let parsed: ErrorDescription | null = null;
  try {
    parsed = medCipherErrors.parseError(data);
  } catch {
    // data with a known selector but arguments that do not decode: reported as unknown below
  }
  if (!parsed) return { reason: `unknown custom error ${data.slice(0, 10)}`, args: {}, signature: "unknown", data };
  const args = argsByName(parsed);
  if (parsed.name === "Panic") {
    const code = Number(parsed.args[0]);
    args.description = PANIC_REASONS[code] ?? "unknown panic code";
  }
  return { reason: parsed.name, args, signature: parsed.signature, data };
}

/** The decoded revert `error` carries, or undefined when it carries no revert data. */
export function decodeRevert(error: unknown): DecodedRevert | undefined {
  const data = revertDataOf(error);
  return data === undefined ? undefined : decodeRevertData(data);
}

/** `NoSponsor(patient=0x…, requester=0x…, fee=100)`: the revert as a person reads it. */
export function describeRevert(revert: Pick<DecodedRevert, "reason" | "args">): string {
  const entries = Object.entries(revert.args);
  if (entries.length === 0) return revert.reason;
  return `${revert.reason}(${entries.map(([name, value]) => `${name}=${typeof value === "string" ? value : JSON.stringify(value)}`).join(", ")})`;
}

export type MinedTransaction = { from: string; to: string | null; data: string; value: bigint; gasLimit: bigint };
export type MinedReceipt = { blockNumber: number; gasUsed: bigint; status: number | null };

/**
 * Why a mined transaction failed (status 0): its receipt carries no revert data, so the
 * transaction is re-run as an eth_call at its block with its own sender, value and gas limit. A
 * reverted transaction changed no state, so that block's state reproduces the revert unless a
 * later transaction of the same block changed the condition. A transaction that used all its gas
 * ran out of it (`OutOfGas`): a replay would only say so less clearly.
 */
export async function replayRevert(provider: Provider, tx: MinedTransaction, receipt: MinedReceipt): Promise<DecodedRevert | undefined> {
  if (receipt.gasUsed >= tx.gasLimit) {
    return { reason: "OutOfGas", args: { gasLimit: tx.gasLimit.toString(), gasUsed: receipt.gasUsed.toString() }, signature: "unknown", data: "0x" };
  }
  try {
    await provider.call({ from: tx.from, to: tx.to, data: tx.data, value: tx.value, gasLimit: tx.gasLimit, blockTag: receipt.blockNumber });
  } catch (error) {
    return decodeRevert(error);
  }
  return undefined;
}

export type UnfundedAccount = {
  /** The sender, when the error names it (directly or in the raw transaction it carries). */
  account?: string;
  /** The sender's balance in wei, when the node said it. */
  balanceWei?: bigint;
};

const UNFUNDED_MESSAGE = /insufficient funds|doesn't have enough funds|not enough funds/i;

/**
 * Whether `error` says the sender cannot pay for gas: ethers' INSUFFICIENT_FUNDS, or the node's
 * own words where ethers could not classify them (Hardhat's "Sender doesn't have enough funds",
 * which ethers reports as "could not coalesce error").
 */
export function unfundedAccountOf(error: unknown): UnfundedAccount | undefined {
  const messages = messagesOf(error);
  const e = error as { code?: unknown; transaction?: unknown; payload?: { method?: unknown; params?: unknown[] } } | null;
  if (e?.code !== "INSUFFICIENT_FUNDS" && !messages.some((m) => UNFUNDED_MESSAGE.test(m))) return undefined;
  const text = messages.join(" ");
  const balance = /balance is:? (\d+)/i.exec(text)?.[1] ?? /\bhave (\d+)/i.exec(text)?.[1];
  return { account: senderOf(e) ?? /address (0x[0-9a-fA-F]{40})/.exec(text)?.[1], balanceWei: balance === undefined ? undefined : BigInt(balance) };
}

/** "account 0x… has 0 ETH; it needs gas to send grantConsent". */
export function describeUnfunded(action: string, unfunded: UnfundedAccount): string {
  const who = unfunded.account ? `account ${unfunded.account}` : "the sending account";
  const has = unfunded.balanceWei === undefined ? "has too little ETH" : `has ${unfunded.balanceWei === 0n ? "0" : formatEther(unfunded.balanceWei)} ETH`;
  return `${who} ${has}; it needs gas to send ${action}`;
}

/** The sender named by the error: its transaction request, or the signed raw transaction it carries. */
function senderOf(e: { transaction?: unknown; payload?: { method?: unknown; params?: unknown[] } } | null): string | undefined {
  const request = e?.transaction as { from?: unknown } | string | undefined;
  if (typeof request === "object" && typeof request?.from === "string") return request.from;
  const raw = typeof request === "string" ? request : e?.payload?.method === "eth_sendRawTransaction" ? e.payload.params?.[0] : undefined;
  if (typeof raw !== "string") return undefined;
  try {
    return Transaction.from(raw).from ?? undefined;
  } catch {
    return undefined;
  }
}

function messagesOf(error: unknown, depth = 0): string[] {
  if (typeof error !== "object" || error === null || depth > 4) return [];
  const e = error as { message?: unknown; shortMessage?: unknown; data?: unknown; error?: unknown; info?: { error?: unknown }; cause?: unknown };
  const own = [e.message, e.shortMessage].filter((m): m is string => typeof m === "string");
  return [...own, ...[e.data, e.error, e.info?.error, e.cause].flatMap((inner) => messagesOf(inner, depth + 1))];
}

function argsByName(parsed: ErrorDescription): Record<string, JsonValue> {
  const args: Record<string, JsonValue> = {};
  parsed.fragment.inputs.forEach((input, i) => {
    args[input.name || String(i)] = jsonSafe(parsed.args[i]);
  });
  return args;
}

function jsonSafe(value: unknown): JsonValue {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Result) {
    let named: Record<string, unknown> | undefined;
    try {
      named = value.toObject();
    } catch {
      // a tuple with unnamed members: positional only
    }
    return named && Object.keys(named).every((k) => !/^_\d+$/.test(k)) ? Object.fromEntries(Object.entries(named).map(([k, v]) => [k, jsonSafe(v)])) : value.toArray().map(jsonSafe);
  }
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value instanceof Uint8Array) return `0x${Array.from(value, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  if (value === null || value === undefined) return null;
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value;
  return String(value);
}
