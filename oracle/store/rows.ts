import type { JobState } from "./states.js";
import type { Job, JobPatch, OracleRequest, TxRecord } from "./types.js";

/**
 * The job store's rows, as both stores (SQLite, Postgres) hold them: the same column names, so one
 * mapping. Column values arrive as the driver gives them (SQLite: number or bigint; Postgres:
 * string for BIGINT), so numbers go through Number().
 */
type Row = Record<string, unknown>;

const numberOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const stringOrNull = (v: unknown): string | null => (v as string | null | undefined) ?? null;

export function rowToJob(row: Row): Job {
  return {
    requestId: row.request_id as string,
    state: row.state as JobState,
    request: JSON.parse(row.request as string) as OracleRequest,
    blockNumber: Number(row.block_number),
    blockHash: row.block_hash as string,
    logIndex: Number(row.log_index),
    transactionHash: row.transaction_hash as string,
    seenAt: Number(row.seen_at),
    updatedAt: Number(row.updated_at),
    attempts: Number(row.attempts),
    nextAttemptAt: Number(row.next_attempt_at),
    lastError: stringOrNull(row.last_error),
    resultHash: stringOrNull(row.result_hash),
    resultUri: stringOrNull(row.result_uri),
    reasonCode: numberOrNull(row.reason_code),
    nonce: numberOrNull(row.nonce),
    fulfilTxHash: stringOrNull(row.fulfil_tx_hash),
    fulfilBlock: numberOrNull(row.fulfil_block),
    refusedSince: numberOrNull(row.refused_since),
  };
}

export function rowToTx(r: Row): TxRecord {
  return {
    hash: r.hash as string, nonce: Number(r.nonce), requestId: r.request_id as string, raw: r.raw as string,
    maxFeePerGas: r.max_fee_per_gas as string, maxPriorityFeePerGas: r.max_priority_fee_per_gas as string,
    sentAt: Number(r.sent_at), status: r.status as TxRecord["status"],
  };
}

/** The `jobs` column each JobPatch field is written to. */
export const PATCH_COLUMNS: Record<keyof JobPatch, string> = {
  attempts: "attempts", nextAttemptAt: "next_attempt_at", lastError: "last_error", resultHash: "result_hash",
  resultUri: "result_uri", reasonCode: "reason_code", nonce: "nonce", fulfilTxHash: "fulfil_tx_hash",
  fulfilBlock: "fulfil_block", refusedSince: "refused_since",
};
