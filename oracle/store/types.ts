import { NonRetryableError } from "../errors.js";
import type { JobState } from "./states.js";

/**
 * The router's PredictionRequested fields: what to evaluate. An anonymous request
 * (AnonymousPredictionRequested) names no patient and no requester (both the zero address) but
 * its one-time `accessKey`, which owns its blobs at the gateway; its `keysHash` is that of the
 * request's own fresh key set.
 */
export type PredictionDetails = {
  patient: string;
  modelId: number;
  requester: string;
  inputHash: string;
  inputUri: string;
  keysHash: string;
  /** Anonymous requests only. */
  accessKey?: string;
};

/** Who owns the request's blobs at the gateway (and so its result): the accessKey of an anonymous request, else the patient. */
export function blobOwnerOf(prediction: PredictionDetails): string {
  return prediction.accessKey ?? prediction.patient;
}

/**
 * One request: the Operator's OracleRequest fields (everything `fulfillOracleRequest2` needs
 * back) joined on requestId with the router's PredictionRequested fields.
 */
export type OracleRequest = {
  requestId: string;
  specId: string;
  requester: string;
  payment: string;
  callbackAddr: string;
  callbackFunctionId: string;
  cancelExpiration: string;
  dataVersion: string;
  data: string;
  prediction: PredictionDetails;
};

export type RequestLog = {
  request: OracleRequest;
  blockNumber: number;
  blockHash: string;
  logIndex: number;
  transactionHash: string;
};

export type Job = {
  requestId: string;
  state: JobState;
  request: OracleRequest;
  blockNumber: number;
  blockHash: string;
  logIndex: number;
  transactionHash: string;
  seenAt: number;
  updatedAt: number;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  resultHash: string | null;
  resultUri: string | null;
  /** Set when the request cannot be served: the failure reported on-chain instead of a result. */
  reasonCode: number | null;
  nonce: number | null;
  fulfilTxHash: string | null;
  /** Block of the mined fulfilment (set with a final state reached through our transaction). */
  fulfilBlock: number | null;
  /** When the gateway first refused this job's reads or upload (an authorisation answer), ms. */
  refusedSince: number | null;
};

export type JobPatch = Partial<Pick<Job, "attempts" | "nextAttemptAt" | "lastError" | "resultHash" | "resultUri" | "reasonCode" | "nonce" | "fulfilTxHash" | "fulfilBlock" | "refusedSince">>;

export type Cursor = { blockNumber: number; blockHash: string };

export type TxRecord = {
  hash: string;
  nonce: number;
  requestId: string;
  raw: string;
  maxFeePerGas: string;
  maxPriorityFeePerGas: string;
  sentAt: number;
  status: "pending" | "mined" | "dropped";
};

/** A transaction that only consumes a nonce (a self-transfer filling a gap); it serves no job. */
export const FILLER_REQUEST_ID = "";

export type RecordOutcome = "new" | "duplicate" | "moved";

/** The job store cannot be opened or written (read-only directory, full disk, lost database …). */
export class JobStoreError extends NonRetryableError {
  override name = "JobStoreError";
}

/**
 * What the daemon needs from its job store. Every method is asynchronous so that a store on a
 * server (Postgres, shared by replicas) and the embedded one (SQLite) are interchangeable; each
 * method that changes more than one row does it in one transaction.
 */
export interface JobStore {
  /**
   * Records the request logs of one block range and moves the cursor past it, atomically.
   * A log already consumed (same block hash and log index) is a no-op; a request already known
   * from another block (a reorg moved it) keeps its progress and gets its new location.
   */
  commitRange(logs: readonly RequestLog[], cursor: Cursor, ringSize: number): Promise<RecordOutcome[]>;
  getCursor(): Promise<Cursor | undefined>;
  /** Known block hashes at or below `blockNumber`, newest first (for finding a common ancestor). */
  ringAtOrBelow(blockNumber: number): Promise<Cursor[]>;
  /**
   * Forgets everything above `ancestor` after a reorg (consumed logs, ring entries, jobs whose log
   * was in a dropped block); a job whose fulfilment was mined in a dropped block goes back to
   * `submitted` with that transaction pending again.
   */
  rollbackTo(ancestor: Cursor): Promise<{ dropped: string[]; reopened: string[] }>;
  /** How many rollbacks this store has seen since it was opened (a reader that awaited across one knows its view is stale). */
  generation(): number;
  /** Moves `seen` jobs whose block has enough confirmations to `confirmed`. */
  confirmUpTo(blockNumber: number): Promise<number>;
  getJob(requestId: string): Promise<Job | undefined>;
  /** Compare-and-set: moves the job to `to` only if it is still in one of `from`. */
  transition(requestId: string, from: JobState | readonly JobState[], to: JobState, patch?: JobPatch): Promise<boolean>;
  /** Updates fields of a job that is still in one of `states`, without changing its state. */
  patch(requestId: string, states: JobState | readonly JobState[], patch: JobPatch): Promise<boolean>;
  /** Ids of jobs the pipeline should advance now (confirmed … evaluated), oldest first. */
  dueJobIds(limit: number): Promise<string[]>;
  /** Jobs in `state` whose retry time has come, oldest first. */
  jobsInState(state: JobState, limit?: number): Promise<Job[]>;
  countsByState(): Promise<Record<JobState, number>>;
  /** Records signed transactions and marks their jobs submitted, in one transaction, before they are broadcast. */
  recordSubmissions(txs: readonly Omit<TxRecord, "status">[], nextNonce: number): Promise<void>;
  /** A fee-bumped replacement of a pending transaction (same nonce), or a gap filler (no job). */
  recordReplacement(tx: Omit<TxRecord, "status">): Promise<void>;
  /** A transaction re-broadcast unchanged: its stuck timer starts again. */
  touchTx(hash: string): Promise<void>;
  /** Forgets settled transaction records of nonces below the bounds; returns how many. */
  pruneTxs(belowNonce: number, droppedBelowNonce: number): Promise<number>;
  txCount(): Promise<number>;
  pendingTxs(): Promise<TxRecord[]>;
  txsOfNonce(nonce: number): Promise<TxRecord[]>;
  /** One of our transactions was mined at `nonce`: it is mined, the others of that nonce dropped, its job final. */
  resolveMined(nonce: number, minedHash: string, requestId: string, finalState: JobState, blockNumber: number, note?: string): Promise<void>;
  /** The nonce was used by another transaction: the job goes back to `to`. */
  resolveDropped(nonce: number, requestId: string, to: JobState, lastError: string): Promise<void>;
  getNextNonce(): Promise<number | undefined>;
  setNextNonce(nonce: number): Promise<void>;
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
  close(): Promise<void>;
}
