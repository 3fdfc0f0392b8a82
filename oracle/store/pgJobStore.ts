import pg from "pg";

import { errorMessage, NonRetryableError } from "../errors.js";
import { createSchema, DB_NOW_MS_SQL, inTransaction, openPool } from "../../core/node/postgres.js";
import { assertFence } from "./nonceLease.js";
import { PATCH_COLUMNS, rowToJob, rowToTx } from "./rows.js";
import { isTerminal, JOB_STATES, type JobState } from "./states.js";
import { FILLER_REQUEST_ID, JobStoreError, type Cursor, type Job, type JobPatch, type JobStore, type RecordOutcome, type RequestLog, type TxRecord } from "./types.js";

/**
 * The job store on Postgres, shared by the replicas of one operator. Same tables and the same
 * state machine as the SQLite store (oracle/store/jobStore.ts), plus claims: a replica takes due
 * jobs with `SELECT … FOR UPDATE SKIP LOCKED` and holds them for JOB_CLAIM_MS, so replicas split
 * the pipeline work instead of doing it twice.
 */
export type PgJobStore = JobStore & {
  /** Takes up to `limit` due jobs (confirmed … evaluated) not claimed by another live replica; returns their ids, oldest first. */
  claimDueJobs(replicaId: string, limit: number, claimMs: number): Promise<string[]>;
  /** Extends our claim on a job; false when it is no longer ours (expired and taken). */
  renewClaim(requestId: string, replicaId: string, claimMs: number): Promise<boolean>;
  /** Gives a job back before its claim expires (its step is done or failed). */
  releaseClaim(requestId: string, replicaId: string): Promise<void>;
  /** The pool, for the nonce lease's dedicated connection. */
  pool: pg.Pool;
};

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  request_id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  request TEXT NOT NULL,
  block_number BIGINT NOT NULL,
  block_hash TEXT NOT NULL,
  log_index INTEGER NOT NULL,
  transaction_hash TEXT NOT NULL,
  seen_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL DEFAULT 0,
  last_error TEXT,
  result_hash TEXT,
  result_uri TEXT,
  reason_code INTEGER,
  nonce BIGINT,
  fulfil_tx_hash TEXT,
  fulfil_block BIGINT,
  refused_since BIGINT,
  claimed_by TEXT,
  claim_until BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS jobs_block ON jobs (block_number);
CREATE TABLE IF NOT EXISTS consumed_logs (
  block_hash TEXT NOT NULL,
  log_index INTEGER NOT NULL,
  block_number BIGINT NOT NULL,
  request_id TEXT NOT NULL,
  PRIMARY KEY (block_hash, log_index)
);
CREATE INDEX IF NOT EXISTS consumed_logs_block ON consumed_logs (block_number);
CREATE TABLE IF NOT EXISTS cursor (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  block_number BIGINT NOT NULL,
  block_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS block_ring (
  block_number BIGINT PRIMARY KEY,
  block_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS txs (
  hash TEXT PRIMARY KEY,
  nonce BIGINT NOT NULL,
  request_id TEXT NOT NULL,
  raw TEXT NOT NULL,
  max_fee_per_gas TEXT NOT NULL,
  max_priority_fee_per_gas TEXT NOT NULL,
  sent_at BIGINT NOT NULL,
  status TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS txs_status ON txs (status, nonce);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/** Serialises schema creation across replicas starting at once (CREATE … IF NOT EXISTS races on the catalog). */
const SCHEMA_LOCK_KEY = 0x4d43_5343; // "MCSC"

type Row = Record<string, unknown>;
type Queryable = Pick<pg.PoolClient, "query">;

const INSERT_TX = `INSERT INTO txs (hash, nonce, request_id, raw, max_fee_per_gas, max_priority_fee_per_gas, sent_at, status)
  VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending') ON CONFLICT (hash) DO UPDATE SET status = 'pending', sent_at = excluded.sent_at, request_id = excluded.request_id`;
const SET_META = "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value";
const SET_CURSOR = "INSERT INTO cursor (id, block_number, block_hash) VALUES (1, $1, $2) ON CONFLICT (id) DO UPDATE SET block_number = excluded.block_number, block_hash = excluded.block_hash";
const PUT_RING = "INSERT INTO block_ring (block_number, block_hash) VALUES ($1, $2) ON CONFLICT (block_number) DO UPDATE SET block_hash = excluded.block_hash";

/**
 * The nonce lease's epoch this replica holds: every write of nonces and transaction outcomes, and
 * of the chain follower (only the owner follows), checks it inside its transaction, so a stale
 * owner's write fails ORACLE_NONCE_LEASE_LOST.
 */
export type StoreFence = { replicaId: string; epoch: () => number | undefined };

/**
 * Opens a pool on `url` and creates the schema if it is missing (idempotent, safe for replicas
 * starting together). Without `fence` (one daemon, the conformance tests) nonce writes are not fenced.
 */
export async function createPgJobStore({ url, now = Date.now, poolSize = 10, fence }: { url: string; now?: () => number; poolSize?: number; fence?: StoreFence }): Promise<PgJobStore> {
  // The pool's idle-in-transaction limit matters here: a frozen replica inside a fenced
  // transaction holds the lease row's share lock, and with it the standby's takeover.
  const pool = openPool(url, { max: poolSize });
  try {
    await createSchema(pool, SCHEMA_LOCK_KEY, SCHEMA);
  } catch (cause) {
    await pool.end().catch(() => undefined);
    const reason = errorMessage(cause);
    throw new JobStoreError(`Cannot open the job store on Postgres: ${reason} (check DATABASE_URL)`, { code: "ORACLE_STORE_UNAVAILABLE", cause, details: { reason } });
  }
  let generation = 0;

  function storeError(error: unknown): unknown {
    if (error instanceof NonRetryableError) return error;
    return new JobStoreError(`Job store (Postgres): ${errorMessage(error)}`, { code: "ORACLE_STORE_WRITE_FAILED", cause: error, details: { pg: (error as { code?: string }).code } });
  }

  async function query(sql: string, values: unknown[] = []): Promise<Row[]> {
    try {
      return (await pool.query(sql, values)).rows as Row[];
    } catch (error) {
      throw storeError(error);
    }
  }

  async function transaction<T>(fn: (db: Queryable) => Promise<T>): Promise<T> {
    try {
      return await inTransaction(pool, fn);
    } catch (error) {
      throw storeError(error);
    }
  }

  async function applyTransition(db: Queryable, requestId: string, from: readonly JobState[], to: JobState | undefined, patch: JobPatch): Promise<boolean> {
    const sets: string[] = ["updated_at = $1"];
    const values: unknown[] = [now()];
    if (to !== undefined) {
      values.push(to);
      sets.push(`state = $${values.length}`);
    }
    for (const [key, column] of Object.entries(PATCH_COLUMNS) as [keyof JobPatch, string][]) {
      if (key in patch) {
        values.push(patch[key] ?? null);
        sets.push(`${column} = $${values.length}`);
      }
    }
    values.push(requestId, [...from]);
    const sql = `UPDATE jobs SET ${sets.join(", ")} WHERE request_id = $${values.length - 1} AND state = ANY($${values.length}::text[])`;
    return ((await db.query(sql, values)).rowCount ?? 0) > 0;
  }

  /** A transaction that writes nonces or transaction outcomes: fenced by the nonce lease. */
  function fenced<T>(fn: (db: Queryable) => Promise<T>): Promise<T> {
    return transaction(async (db) => {
      if (fence) await assertFence(db, fence.epoch(), fence.replicaId);
      return fn(db);
    });
  }

  const states = (s: JobState | readonly JobState[]) => (typeof s === "string" ? [s] : s);

  return {
    pool,

    async commitRange(logs: readonly RequestLog[], cursor: Cursor, ringSize: number): Promise<RecordOutcome[]> {
      return fenced(async (db) => {
        const outcomes: RecordOutcome[] = [];
        for (const log of logs) {
          const id = log.request.requestId;
          const consumed = await db.query("INSERT INTO consumed_logs (block_hash, log_index, block_number, request_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            [log.blockHash, log.logIndex, log.blockNumber, id]);
          if ((consumed.rowCount ?? 0) === 0) {
            outcomes.push("duplicate");
            continue;
          }
          const existing = (await db.query("SELECT block_hash, request FROM jobs WHERE request_id = $1 FOR UPDATE", [id])).rows[0] as Row | undefined;
          await db.query(PUT_RING, [log.blockNumber, log.blockHash]);
          if (existing === undefined) {
            await db.query(`INSERT INTO jobs (request_id, state, request, block_number, block_hash, log_index, transaction_hash, seen_at, updated_at)
              VALUES ($1, 'seen', $2, $3, $4, $5, $6, $7, $7)`, [id, JSON.stringify(log.request), log.blockNumber, log.blockHash, log.logIndex, log.transactionHash, now()]);
            outcomes.push("new");
            continue;
          }
          await db.query("UPDATE jobs SET block_number = $1, block_hash = $2, log_index = $3, transaction_hash = $4, updated_at = $5 WHERE request_id = $6",
            [log.blockNumber, log.blockHash, log.logIndex, log.transactionHash, now(), id]);
          if (existing.block_hash === log.blockHash) {
            outcomes.push("duplicate");
            continue;
          }
          // Other content under the same id (ids are a counter; see the SQLite store): start again.
          if (existing.request !== JSON.stringify(log.request)) {
            await db.query(`UPDATE jobs SET state = 'seen', request = $1, attempts = 0, next_attempt_at = 0, nonce = NULL, fulfil_tx_hash = NULL, fulfil_block = NULL, refused_since = NULL,
              result_hash = NULL, result_uri = NULL, reason_code = NULL, last_error = 're-included after a reorg', updated_at = $2 WHERE request_id = $3`, [JSON.stringify(log.request), now(), id]);
          }
          outcomes.push("moved");
        }
        await db.query(SET_CURSOR, [cursor.blockNumber, cursor.blockHash]);
        await db.query(PUT_RING, [cursor.blockNumber, cursor.blockHash]);
        await db.query("DELETE FROM block_ring WHERE block_number < $1", [cursor.blockNumber - ringSize]);
        return outcomes;
      });
    },

    async getCursor(): Promise<Cursor | undefined> {
      const row = (await query("SELECT block_number, block_hash FROM cursor WHERE id = 1"))[0];
      return row === undefined ? undefined : { blockNumber: Number(row.block_number), blockHash: row.block_hash as string };
    },

    async ringAtOrBelow(blockNumber: number): Promise<Cursor[]> {
      const rows = await query("SELECT block_number, block_hash FROM block_ring WHERE block_number <= $1 ORDER BY block_number DESC", [blockNumber]);
      return rows.map((r) => ({ blockNumber: Number(r.block_number), blockHash: r.block_hash as string }));
    },

    async rollbackTo(ancestor: Cursor): Promise<{ dropped: string[]; reopened: string[] }> {
      const result = await fenced(async (db) => {
        const dropped = (await db.query("DELETE FROM jobs WHERE block_number > $1 RETURNING request_id", [ancestor.blockNumber])).rows.map((r: Row) => r.request_id as string);
        const reopened = (await db.query(`UPDATE jobs SET state = 'submitted', fulfil_block = NULL, last_error = 'fulfilment dropped by a reorg', updated_at = $1
          WHERE fulfil_block > $2 AND state IN ('fulfilled','failed','voted') RETURNING request_id, fulfil_tx_hash`, [now(), ancestor.blockNumber])).rows as Row[];
        for (const row of reopened) await db.query("UPDATE txs SET status = 'pending' WHERE hash = $1", [row.fulfil_tx_hash]);
        await db.query("DELETE FROM consumed_logs WHERE block_number > $1", [ancestor.blockNumber]);
        await db.query("DELETE FROM block_ring WHERE block_number > $1", [ancestor.blockNumber]);
        await db.query(SET_CURSOR, [ancestor.blockNumber, ancestor.blockHash]);
        return { dropped, reopened: reopened.map((r) => r.request_id as string) };
      });
      generation++;
      return result;
    },

    generation: () => generation,

    async confirmUpTo(blockNumber: number): Promise<number> {
      return fenced(async (db) => (await db.query("UPDATE jobs SET state = 'confirmed', updated_at = $1 WHERE state = 'seen' AND block_number <= $2", [now(), blockNumber])).rowCount ?? 0);
    },

    async getJob(requestId: string): Promise<Job | undefined> {
      const row = (await query("SELECT * FROM jobs WHERE request_id = $1", [requestId]))[0];
      return row === undefined ? undefined : rowToJob(row);
    },

    async transition(requestId: string, from: JobState | readonly JobState[], to: JobState, patch: JobPatch = {}): Promise<boolean> {
      if (!JOB_STATES.includes(to)) throw new NonRetryableError(`Unknown job state ${to}`, { code: "ORACLE_BAD_STATE" });
      try {
        return await applyTransition(pool, requestId, states(from), to, patch);
      } catch (error) {
        throw storeError(error);
      }
    },

    async patch(requestId: string, inStates: JobState | readonly JobState[], patch: JobPatch): Promise<boolean> {
      try {
        return await applyTransition(pool, requestId, states(inStates), undefined, patch);
      } catch (error) {
        throw storeError(error);
      }
    },

    async dueJobIds(limit: number): Promise<string[]> {
      const rows = await query(`SELECT request_id FROM jobs WHERE state IN ('confirmed','fetched','verified','evaluated')
        AND next_attempt_at <= $1 ORDER BY block_number, log_index LIMIT $2`, [now(), limit]);
      return rows.map((r) => r.request_id as string);
    },

    async claimDueJobs(replicaId: string, limit: number, claimMs: number): Promise<string[]> {
      // Claims are timed by the database's clock (DB_NOW_MS_SQL), not the replica's: a replica whose
      // clock runs ahead would see the others' claims expire early and take jobs they hold.
      // SKIP LOCKED: a row another replica is claiming right now is passed over, not waited on.
      const rows = await query(`WITH due AS (
          SELECT request_id FROM jobs WHERE state IN ('confirmed','fetched','verified','evaluated') AND next_attempt_at <= $1
            AND (claimed_by IS NULL OR claimed_by = $2 OR claim_until <= ${DB_NOW_MS_SQL})
          ORDER BY block_number, log_index LIMIT $3 FOR UPDATE SKIP LOCKED)
        UPDATE jobs SET claimed_by = $2, claim_until = ${DB_NOW_MS_SQL} + $4 FROM due WHERE jobs.request_id = due.request_id
        RETURNING jobs.request_id, jobs.block_number, jobs.log_index`, [now(), replicaId, limit, claimMs]);
      return rows.sort((a, b) => Number(a.block_number) - Number(b.block_number) || Number(a.log_index) - Number(b.log_index)).map((r) => r.request_id as string);
    },

    async renewClaim(requestId: string, replicaId: string, claimMs: number): Promise<boolean> {
      try {
        const r = await pool.query(`UPDATE jobs SET claim_until = ${DB_NOW_MS_SQL} + $1 WHERE request_id = $2 AND claimed_by = $3`, [claimMs, requestId, replicaId]);
        return (r.rowCount ?? 0) > 0;
      } catch (error) {
        throw storeError(error);
      }
    },

    async releaseClaim(requestId: string, replicaId: string): Promise<void> {
      await query("UPDATE jobs SET claimed_by = NULL, claim_until = 0 WHERE request_id = $1 AND claimed_by = $2", [requestId, replicaId]);
    },

    async jobsInState(state: JobState, limit = Number.MAX_SAFE_INTEGER): Promise<Job[]> {
      const rows = await query("SELECT * FROM jobs WHERE state = $1 AND next_attempt_at <= $2 ORDER BY block_number, log_index LIMIT $3", [state, now(), limit]);
      return rows.map(rowToJob);
    },

    async countsByState(): Promise<Record<JobState, number>> {
      const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
      for (const row of await query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")) counts[row.state as JobState] = Number(row.n);
      return counts;
    },

    async recordSubmissions(txs: readonly Omit<TxRecord, "status">[], nextNonce: number): Promise<void> {
      await fenced(async (db) => {
        for (const tx of txs) {
          await db.query(INSERT_TX, [tx.hash, tx.nonce, tx.requestId, tx.raw, tx.maxFeePerGas, tx.maxPriorityFeePerGas, tx.sentAt]);
          const moved = await applyTransition(db, tx.requestId, ["confirmed", "fetched", "verified", "evaluated", "stored"], "submitted", { nonce: tx.nonce, fulfilTxHash: tx.hash });
          if (!moved) throw new NonRetryableError("Job left the submit step concurrently", { code: "ORACLE_JOB_RACE", details: { requestId: tx.requestId } });
        }
        await db.query(SET_META, ["next_nonce", String(nextNonce)]);
      });
    },

    async recordReplacement(tx: Omit<TxRecord, "status">): Promise<void> {
      await fenced(async (db) => {
        await db.query(INSERT_TX, [tx.hash, tx.nonce, tx.requestId, tx.raw, tx.maxFeePerGas, tx.maxPriorityFeePerGas, tx.sentAt]);
        if (tx.requestId !== FILLER_REQUEST_ID) await applyTransition(db, tx.requestId, ["submitted"], undefined, { fulfilTxHash: tx.hash });
      });
    },

    async touchTx(hash: string): Promise<void> {
      await query("UPDATE txs SET sent_at = $1 WHERE hash = $2", [now(), hash]);
    },

    async pruneTxs(belowNonce: number, droppedBelowNonce: number): Promise<number> {
      return transaction(async (db) => {
        const a = (await db.query("DELETE FROM txs WHERE status != 'pending' AND nonce < $1", [belowNonce])).rowCount ?? 0;
        const b = (await db.query("DELETE FROM txs WHERE status = 'dropped' AND nonce < $1", [droppedBelowNonce])).rowCount ?? 0;
        return a + b;
      });
    },

    async txCount(): Promise<number> {
      return Number((await query("SELECT COUNT(*) AS n FROM txs"))[0]!.n);
    },

    async pendingTxs(): Promise<TxRecord[]> {
      return (await query("SELECT * FROM txs WHERE status = 'pending' ORDER BY nonce, sent_at")).map(rowToTx);
    },

    async txsOfNonce(nonce: number): Promise<TxRecord[]> {
      return (await query("SELECT * FROM txs WHERE nonce = $1 ORDER BY sent_at", [nonce])).map(rowToTx);
    },

    async resolveMined(nonce: number, minedHash: string, requestId: string, finalState: JobState, blockNumber: number, note?: string): Promise<void> {
      await fenced(async (db) => {
        await db.query("UPDATE txs SET status = 'mined' WHERE hash = $1", [minedHash]);
        await db.query("UPDATE txs SET status = 'dropped' WHERE nonce = $1 AND status = 'pending'", [nonce]);
        if (requestId !== FILLER_REQUEST_ID && isTerminal(finalState)) {
          await db.query("UPDATE jobs SET state = $1, fulfil_tx_hash = $2, fulfil_block = $3, last_error = $4, updated_at = $5 WHERE request_id = $6 AND state = 'submitted' AND nonce = $7",
            [finalState, minedHash, blockNumber, note ?? null, now(), requestId, nonce]);
        }
      });
    },

    async resolveDropped(nonce: number, requestId: string, to: JobState, lastError: string): Promise<void> {
      await fenced(async (db) => {
        await db.query("UPDATE txs SET status = 'dropped' WHERE nonce = $1 AND status = 'pending'", [nonce]);
        if (requestId !== FILLER_REQUEST_ID) {
          await db.query("UPDATE jobs SET state = $1, nonce = NULL, fulfil_tx_hash = NULL, last_error = $2, updated_at = $3 WHERE request_id = $4 AND state = 'submitted' AND nonce = $5",
            [to, lastError, now(), requestId, nonce]);
        }
      });
    },

    async getNextNonce(): Promise<number | undefined> {
      const row = (await query("SELECT value FROM meta WHERE key = 'next_nonce'"))[0];
      return row === undefined ? undefined : Number(row.value);
    },

    async setNextNonce(nonce: number): Promise<void> {
      await fenced((db) => db.query(SET_META, ["next_nonce", String(nonce)]));
    },

    async getMeta(key: string): Promise<string | undefined> {
      const row = (await query("SELECT value FROM meta WHERE key = $1", [key]))[0];
      return row === undefined ? undefined : (row.value as string);
    },

    async setMeta(key: string, value: string): Promise<void> {
      await query(SET_META, [key, value]);
    },

    async close(): Promise<void> {
      await pool.end().catch(() => undefined);
    },
  };
}
