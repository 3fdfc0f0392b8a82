import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";

import { errorMessage, NonRetryableError } from "../errors.js";
import { PATCH_COLUMNS, rowToJob, rowToTx } from "./rows.js";
import { isTerminal, JOB_STATES, type JobState } from "./states.js";
import { FILLER_REQUEST_ID, JobStoreError, type Cursor, type Job, type JobPatch, type JobStore, type RecordOutcome, type RequestLog, type TxRecord } from "./types.js";

// The types moved to ./types.js (shared with the Postgres store); existing imports keep working.
export * from "./types.js";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  request_id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  request TEXT NOT NULL,
  block_number INTEGER NOT NULL,
  block_hash TEXT NOT NULL,
  log_index INTEGER NOT NULL,
  transaction_hash TEXT NOT NULL,
  seen_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  result_hash TEXT,
  result_uri TEXT,
  reason_code INTEGER,
  nonce INTEGER,
  fulfil_tx_hash TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS jobs_block ON jobs (block_number);
-- A log is consumed in the same transaction that records its job: a redelivered log is a no-op.
CREATE TABLE IF NOT EXISTS consumed_logs (
  block_hash TEXT NOT NULL,
  log_index INTEGER NOT NULL,
  block_number INTEGER NOT NULL,
  request_id TEXT NOT NULL,
  PRIMARY KEY (block_hash, log_index)
) STRICT;
CREATE INDEX IF NOT EXISTS consumed_logs_block ON consumed_logs (block_number);
CREATE TABLE IF NOT EXISTS cursor (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  block_number INTEGER NOT NULL,
  block_hash TEXT NOT NULL
) STRICT;
-- Hashes of recently processed blocks: a reorg is found by comparing them with the chain.
CREATE TABLE IF NOT EXISTS block_ring (
  block_number INTEGER PRIMARY KEY,
  block_hash TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS txs (
  hash TEXT PRIMARY KEY,
  nonce INTEGER NOT NULL,
  request_id TEXT NOT NULL,
  raw TEXT NOT NULL,
  max_fee_per_gas TEXT NOT NULL,
  max_priority_fee_per_gas TEXT NOT NULL,
  sent_at INTEGER NOT NULL,
  status TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS txs_status ON txs (status, nonce);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
`;

/** Columns added after the first release: added to an existing store on open. */
const ADDED_JOB_COLUMNS: Record<string, string> = { fulfil_block: "INTEGER", refused_since: "INTEGER" };

/**
 * The embedded job store (node:sqlite, WAL). Every method that changes more than one row runs in
 * one transaction, so a crash leaves either all of a step or none of it.
 */
/**
 * Opens (creating) the store file. SQLite's own message names no path ("unable to open database
 * file", "attempt to write a readonly database"): the error says which file and why.
 */
function openDatabase(path: string): DatabaseSync {
  try {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    const db = new DatabaseSync(path);
    try {
      // WAL with synchronous=NORMAL: a commit survives a process crash (SIGKILL) and the file is
      // never corrupt; only a power cut can lose the last commits. That is safe here because the
      // chain is the arbiter: a forgotten step is redone, and a redone fulfilment is caught by its
      // simulation or by the Operator (one fulfilment per request). FULL would fsync every step
      // (~3 ms each, blocking the event loop) for no gain in correctness.
      db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
      db.exec(SCHEMA);
      const columns = new Set(db.prepare("PRAGMA table_info(jobs)").all().map((c) => c.name as string));
      for (const [name, type] of Object.entries(ADDED_JOB_COLUMNS)) if (!columns.has(name)) db.exec(`ALTER TABLE jobs ADD COLUMN ${name} ${type}`);
    } catch (error) {
      db.close();
      throw error;
    }
    return db;
  } catch (cause) {
    const reason = errorMessage(cause);
    throw new JobStoreError(`Cannot open the job store ${path}: ${reason} (DATA_DIR must be a writable directory)`, {
      code: "ORACLE_STORE_UNAVAILABLE", cause, details: { path, reason },
    });
  }
}

export function createJobStore({ path, now = Date.now }: { path: string; now?: () => number }): JobStore {
  const db = openDatabase(path);
  /** Bumped by every rollback: a reader that awaited across one knows its chain view is stale. */
  let generation = 0;

  const stmt = {
    insertConsumed: db.prepare("INSERT OR IGNORE INTO consumed_logs (block_hash, log_index, block_number, request_id) VALUES (?, ?, ?, ?)"),
    getJob: db.prepare("SELECT * FROM jobs WHERE request_id = ?"),
    insertJob: db.prepare(`INSERT INTO jobs (request_id, state, request, block_number, block_hash, log_index, transaction_hash, seen_at, updated_at)
      VALUES (?, 'seen', ?, ?, ?, ?, ?, ?, ?)`),
    moveJob: db.prepare("UPDATE jobs SET block_number = ?, block_hash = ?, log_index = ?, transaction_hash = ?, updated_at = ? WHERE request_id = ?"),
    restartJob: db.prepare(`UPDATE jobs SET state = 'seen', request = ?, attempts = 0, next_attempt_at = 0, nonce = NULL, fulfil_tx_hash = NULL, fulfil_block = NULL, refused_since = NULL,
      result_hash = NULL, result_uri = NULL, reason_code = NULL, last_error = 're-included after a reorg', updated_at = ? WHERE request_id = ?`),
    getCursor: db.prepare("SELECT block_number, block_hash FROM cursor WHERE id = 1"),
    setCursor: db.prepare("INSERT INTO cursor (id, block_number, block_hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET block_number = excluded.block_number, block_hash = excluded.block_hash"),
    putRing: db.prepare("INSERT INTO block_ring (block_number, block_hash) VALUES (?, ?) ON CONFLICT (block_number) DO UPDATE SET block_hash = excluded.block_hash"),
    trimRing: db.prepare("DELETE FROM block_ring WHERE block_number < ?"),
    ringDesc: db.prepare("SELECT block_number, block_hash FROM block_ring WHERE block_number <= ? ORDER BY block_number DESC"),
    confirm: db.prepare("UPDATE jobs SET state = 'confirmed', updated_at = ? WHERE state = 'seen' AND block_number <= ?"),
    counts: db.prepare("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state"),
    due: db.prepare(`SELECT request_id FROM jobs WHERE state IN ('confirmed','fetched','verified','evaluated')
      AND next_attempt_at <= ? ORDER BY block_number, log_index LIMIT ?`),
    byState: db.prepare("SELECT * FROM jobs WHERE state = ? AND next_attempt_at <= ? ORDER BY block_number, log_index LIMIT ?"),
    // Idempotent: re-signing the same job at the same nonce and fees gives the same hash (and the
    // same bytes); recording it again makes it pending again instead of failing on the key.
    insertTx: db.prepare(`INSERT INTO txs (hash, nonce, request_id, raw, max_fee_per_gas, max_priority_fee_per_gas, sent_at, status)
      VALUES (?, ?, ?, ?, ?, ?, ?, 'pending') ON CONFLICT (hash) DO UPDATE SET status = 'pending', sent_at = excluded.sent_at, request_id = excluded.request_id`),
    touchTx: db.prepare("UPDATE txs SET sent_at = ? WHERE hash = ?"),
    setTxPending: db.prepare("UPDATE txs SET status = 'pending' WHERE hash = ?"),
    pruneTxs: db.prepare("DELETE FROM txs WHERE status != 'pending' AND nonce < ?"),
    pruneDroppedTxs: db.prepare("DELETE FROM txs WHERE status = 'dropped' AND nonce < ?"),
    pendingTxs: db.prepare("SELECT * FROM txs WHERE status = 'pending' ORDER BY nonce, sent_at"),
    txsOfNonce: db.prepare("SELECT * FROM txs WHERE nonce = ? ORDER BY sent_at"),
    setTxStatus: db.prepare("UPDATE txs SET status = ? WHERE nonce = ? AND status = 'pending'"),
    setTxMined: db.prepare("UPDATE txs SET status = 'mined' WHERE hash = ?"),
    getMeta: db.prepare("SELECT value FROM meta WHERE key = ?"),
    setMeta: db.prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
  };

  function transaction<T>(fn: () => T): T {
    try {
      db.exec("BEGIN IMMEDIATE");
      try {
        const result = fn();
        db.exec("COMMIT");
        return result;
      } catch (error) {
        // On SQLITE_FULL (and I/O errors) SQLite has already rolled the transaction back: a
        // ROLLBACK then fails with "no transaction is active" and would hide the real cause.
        if (db.isTransaction) db.exec("ROLLBACK");
        throw error;
      }
    } catch (error) {
      throw storeError(error);
    }
  }

  /** SQLite's own failures (disk full, read-only file, I/O) named as the store's, with the path. */
  function storeError(error: unknown): unknown {
    if (error instanceof NonRetryableError) return error;
    const e = error as { code?: string; errcode?: number; errstr?: string };
    if (e.code !== "ERR_SQLITE_ERROR") return error;
    return new JobStoreError(`Job store ${path}: ${errorMessage(error)}`, { code: "ORACLE_STORE_WRITE_FAILED", cause: error, details: { path, sqlite: e.errstr, errcode: e.errcode } });
  }

  const transitionStatements = new Map<string, ReturnType<DatabaseSync["prepare"]>>();

  function applyTransition(requestId: string, from: readonly JobState[], to: JobState | undefined, patch: JobPatch): boolean {
    const sets: string[] = ["updated_at = ?"];
    const values: SQLInputValue[] = [now()];
    if (to !== undefined) {
      sets.push("state = ?");
      values.push(to);
    }
    for (const [key, column] of Object.entries(PATCH_COLUMNS) as [keyof JobPatch, string][]) {
      if (key in patch) {
        sets.push(`${column} = ?`);
        values.push((patch[key] ?? null) as SQLInputValue);
      }
    }
    const placeholders = from.map(() => "?").join(",");
    const sql = `UPDATE jobs SET ${sets.join(", ")} WHERE request_id = ? AND state IN (${placeholders})`;
    let statement = transitionStatements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      transitionStatements.set(sql, statement);
    }
    try {
      return statement.run(...values, requestId, ...from).changes > 0;
    } catch (error) {
      throw storeError(error);
    }
  }

  return {
    /**
     * Records the request logs of one block range and moves the cursor past it, atomically.
     * A log already consumed (same block hash and log index) is a no-op; a request already known
     * from another block (a reorg moved it) keeps its progress and gets its new location.
     */
    async commitRange(logs: readonly RequestLog[], cursor: Cursor, ringSize: number): Promise<RecordOutcome[]> {
      return transaction(() => {
        const outcomes = logs.map((log): RecordOutcome => {
          const consumed = stmt.insertConsumed.run(log.blockHash, log.logIndex, log.blockNumber, log.request.requestId);
          if (consumed.changes === 0) return "duplicate";
          const existing = stmt.getJob.get(log.request.requestId);
          if (existing === undefined) {
            stmt.insertJob.run(log.request.requestId, JSON.stringify(log.request), log.blockNumber, log.blockHash,
              log.logIndex, log.transactionHash, now(), now());
            stmt.putRing.run(log.blockNumber, log.blockHash);
            return "new";
          }
          stmt.moveJob.run(log.blockNumber, log.blockHash, log.logIndex, log.transactionHash, now(), log.request.requestId);
          stmt.putRing.run(log.blockNumber, log.blockHash);
          if (existing.block_hash === log.blockHash) return "duplicate";
          // The same request id in another block. Its content (input, model, patient, keys,
          // expiration) may differ: request ids are a counter, so after a reorg an id can name
          // another patient's request. Same content: the job keeps its progress (its signed bytes
          // are still right). Other content: whatever it did belongs to the dropped branch —
          // start again from the new log; its old transaction is now an orphan that the
          // transaction manager replaces, never re-sends.
          if (existing.request === JSON.stringify(log.request)) return "moved";
          stmt.restartJob.run(JSON.stringify(log.request), now(), log.request.requestId);
          return "moved";
        });
        stmt.setCursor.run(cursor.blockNumber, cursor.blockHash);
        stmt.putRing.run(cursor.blockNumber, cursor.blockHash);
        stmt.trimRing.run(cursor.blockNumber - ringSize);
        return outcomes;
      });
    },

    async getCursor(): Promise<Cursor | undefined> {
      const row = stmt.getCursor.get();
      return row === undefined ? undefined : { blockNumber: Number(row.block_number), blockHash: row.block_hash as string };
    },

    /** Known block hashes at or below `blockNumber`, newest first (for finding a common ancestor). */
    async ringAtOrBelow(blockNumber: number): Promise<Cursor[]> {
      return stmt.ringDesc.all(blockNumber).map((r) => ({ blockNumber: Number(r.block_number), blockHash: r.block_hash as string }));
    },

    /**
     * Forgets everything above `ancestor` after a reorg: consumed logs, ring entries, and every
     * job whose request log was in a dropped block, whatever its state (it comes back, judged
     * afresh, when its log reappears; its transactions become orphans the transaction manager
     * replaces). A job whose request survived but whose fulfilment was mined in a dropped block
     * goes back to `submitted` with that transaction pending again: it is re-sent, not lost.
     * Returns the forgotten request ids.
     */
    async rollbackTo(ancestor: Cursor): Promise<{ dropped: string[]; reopened: string[] }> {
      const result = transaction(() => {
        const dropped = db.prepare("SELECT request_id FROM jobs WHERE block_number > ?").all(ancestor.blockNumber).map((r) => r.request_id as string);
        db.prepare("DELETE FROM jobs WHERE block_number > ?").run(ancestor.blockNumber);
        const reopened = db.prepare(`SELECT request_id, fulfil_tx_hash FROM jobs WHERE fulfil_block > ? AND state IN ('fulfilled','failed','voted')`).all(ancestor.blockNumber);
        for (const row of reopened) {
          db.prepare("UPDATE jobs SET state = 'submitted', fulfil_block = NULL, last_error = 'fulfilment dropped by a reorg', updated_at = ? WHERE request_id = ?").run(now(), row.request_id as string);
          stmt.setTxPending.run(row.fulfil_tx_hash as string);
        }
        db.prepare("DELETE FROM consumed_logs WHERE block_number > ?").run(ancestor.blockNumber);
        db.prepare("DELETE FROM block_ring WHERE block_number > ?").run(ancestor.blockNumber);
        stmt.setCursor.run(ancestor.blockNumber, ancestor.blockHash);
        return { dropped, reopened: reopened.map((r) => r.request_id as string) };
      });
      generation++;
      return result;
    },

    /** How many rollbacks this store has seen since it was opened. */
    generation: () => generation,

    /** Moves `seen` jobs whose block has enough confirmations to `confirmed`. */
    async confirmUpTo(blockNumber: number): Promise<number> {
      return Number(stmt.confirm.run(now(), blockNumber).changes);
    },

    async getJob(requestId: string): Promise<Job | undefined> {
      const row = stmt.getJob.get(requestId);
      return row === undefined ? undefined : rowToJob(row);
    },

    /** Compare-and-set: moves the job to `to` only if it is still in one of `from`. */
    async transition(requestId: string, from: JobState | readonly JobState[], to: JobState, patch: JobPatch = {}): Promise<boolean> {
      if (!JOB_STATES.includes(to)) throw new NonRetryableError(`Unknown job state ${to}`, { code: "ORACLE_BAD_STATE" });
      return applyTransition(requestId, typeof from === "string" ? [from] : from, to, patch);
    },

    /** Updates fields of a job that is still in one of `states`, without changing its state. */
    async patch(requestId: string, states: JobState | readonly JobState[], patch: JobPatch): Promise<boolean> {
      return applyTransition(requestId, typeof states === "string" ? [states] : states, undefined, patch);
    },

    /** Ids of jobs the pipeline should advance now (confirmed … evaluated), oldest first. */
    async dueJobIds(limit: number): Promise<string[]> {
      return stmt.due.all(now(), limit).map((r) => r.request_id as string);
    },

    /** Jobs in `state` whose retry time has come, oldest first. */
    async jobsInState(state: JobState, limit = Number.MAX_SAFE_INTEGER): Promise<Job[]> {
      return stmt.byState.all(state, now(), limit).map(rowToJob);
    },

    async countsByState(): Promise<Record<JobState, number>> {
      const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
      for (const row of stmt.counts.all()) counts[row.state as JobState] = Number(row.n);
      return counts;
    },

    /**
     * Records signed transactions and marks their jobs submitted, in one transaction, before they
     * are broadcast: after a crash the transaction manager re-sends exactly these.
     */
    async recordSubmissions(txs: readonly Omit<TxRecord, "status">[], nextNonce: number): Promise<void> {
      transaction(() => {
        for (const tx of txs) {
          stmt.insertTx.run(tx.hash, tx.nonce, tx.requestId, tx.raw, tx.maxFeePerGas, tx.maxPriorityFeePerGas, tx.sentAt);
          const moved = applyTransition(tx.requestId, ["confirmed", "fetched", "verified", "evaluated", "stored"], "submitted", {
            nonce: tx.nonce, fulfilTxHash: tx.hash,
          });
          if (!moved) throw new NonRetryableError("Job left the submit step concurrently", { code: "ORACLE_JOB_RACE", details: { requestId: tx.requestId } });
        }
        stmt.setMeta.run("next_nonce", String(nextNonce));
      });
    },

    /** A fee-bumped replacement of a pending transaction (same nonce), or a gap filler (no job). */
    async recordReplacement(tx: Omit<TxRecord, "status">): Promise<void> {
      transaction(() => {
        stmt.insertTx.run(tx.hash, tx.nonce, tx.requestId, tx.raw, tx.maxFeePerGas, tx.maxPriorityFeePerGas, tx.sentAt);
        if (tx.requestId !== FILLER_REQUEST_ID) applyTransition(tx.requestId, ["submitted"], undefined, { fulfilTxHash: tx.hash });
      });
    },

    /** A transaction re-broadcast unchanged: its stuck timer starts again. */
    async touchTx(hash: string): Promise<void> {
      stmt.touchTx.run(now(), hash);
    },

    /**
     * Forgets settled transaction records of nonces below `belowNonce` (dropped replacements at
     * once; mined ones too once `belowNonce` is past the reorg horizon the caller keeps), so the
     * table stays bounded.
     */
    async pruneTxs(belowNonce: number, droppedBelowNonce: number): Promise<number> {
      return Number(stmt.pruneTxs.run(belowNonce).changes) + Number(stmt.pruneDroppedTxs.run(droppedBelowNonce).changes);
    },

    async txCount(): Promise<number> {
      return Number(db.prepare("SELECT COUNT(*) AS n FROM txs").get()!.n);
    },

    async pendingTxs(): Promise<TxRecord[]> {
      return stmt.pendingTxs.all().map(rowToTx);
    },

    async txsOfNonce(nonce: number): Promise<TxRecord[]> {
      return stmt.txsOfNonce.all(nonce).map(rowToTx);
    },

    /**
     * One of our transactions was mined at `nonce`: it is marked mined, the others of that nonce
     * dropped, and its job (if it is still waiting on this nonce) reaches its final state, with the
     * fulfilment's block kept so a reorg dropping that block re-opens the job.
     */
    async resolveMined(nonce: number, minedHash: string, requestId: string, finalState: JobState, blockNumber: number, note?: string): Promise<void> {
      transaction(() => {
        stmt.setTxMined.run(minedHash);
        stmt.setTxStatus.run("dropped", nonce);
        if (requestId !== FILLER_REQUEST_ID && isTerminal(finalState)) {
          db.prepare("UPDATE jobs SET state = ?, fulfil_tx_hash = ?, fulfil_block = ?, last_error = ?, updated_at = ? WHERE request_id = ? AND state = 'submitted' AND nonce = ?")
            .run(finalState, minedHash, blockNumber, note ?? null, now(), requestId, nonce);
        }
      });
    },

    /**
     * The nonce was used by another transaction (the key is shared, or the request was already
     * settled): the job goes back to the submit step or to `to` if given.
     */
    async resolveDropped(nonce: number, requestId: string, to: JobState, lastError: string): Promise<void> {
      transaction(() => {
        stmt.setTxStatus.run("dropped", nonce);
        // Only a job still waiting on this nonce: an orphan's job has moved on.
        if (requestId !== FILLER_REQUEST_ID) {
          db.prepare("UPDATE jobs SET state = ?, nonce = NULL, fulfil_tx_hash = NULL, last_error = ?, updated_at = ? WHERE request_id = ? AND state = 'submitted' AND nonce = ?")
            .run(to, lastError, now(), requestId, nonce);
        }
      });
    },

    async getNextNonce(): Promise<number | undefined> {
      const row = stmt.getMeta.get("next_nonce");
      return row === undefined ? undefined : Number(row.value);
    },

    async setNextNonce(nonce: number): Promise<void> {
      stmt.setMeta.run("next_nonce", String(nonce));
    },

    async getMeta(key: string): Promise<string | undefined> {
      const row = stmt.getMeta.get(key);
      return row === undefined ? undefined : (row.value as string);
    },

    async setMeta(key: string, value: string): Promise<void> {
      stmt.setMeta.run(key, value);
    },

    async close(): Promise<void> {
      if (db.isOpen) db.close();
    },
  };
}
