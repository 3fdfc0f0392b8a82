import type { Sha256Hex } from "../../core/hash.js";
import { createMerkleTree } from "../../protocol/audit/merkle.js";
import { AuditLogCorruptError, GENESIS_HASH, hashAuditEntry, verifyAuditChain, type AuditEntry, type AuditEntryInput } from "../../protocol/audit/entries.js";
import type { AuditLog } from "../audit/auditLog.js";
import type { GatewayDatabase } from "./database.js";

/** Arbitrary, fixed: the advisory-lock key every replica's audit append takes. */
export const AUDIT_APPEND_LOCK = 0x6d656461;

/**
 * The hash-chained audit log in the Postgres replicas share: ONE chain, one total order, whatever
 * replica wrote an entry. An append is a transaction that takes a transaction-scoped advisory lock
 * (so appends of all replicas are serialised), reads the head row (seq, hash), and inserts the
 * next entries chained to it; the lock is released by COMMIT. `seq` is the primary key, so even a
 * writer that bypassed the lock could not fork the chain: its insert would fail.
 *
 * Each replica mirrors the table in memory (entries' hashes in a Merkle tree, for head, root and
 * proofs); the mirror catches up from the database after every append and on `refresh()`, and
 * every row it takes must chain onto the last (a row rewritten in the database is
 * AuditLogCorruptError, never silently served). Appends arriving while one is in flight are
 * written together in the next transaction (group commit), as the file log does.
 */
export async function openPostgresAuditLog(db: GatewayDatabase, options: { now?: () => Date } = {}): Promise<AuditLog> {
  const now = options.now ?? (() => new Date());
  const mirror: AuditEntry[] = [];
  const tree = createMerkleTree();
  let catchingUp: Promise<void> | undefined;

  async function catchUpOnce(): Promise<void> {
    const { rows } = await db.query<{ entry: string }>("SELECT entry FROM gateway_audit WHERE seq > $1 ORDER BY seq", [mirror.length]);
    const fresh = rows.map((row) => JSON.parse(row.entry) as AuditEntry);
    let prev: Sha256Hex = mirror.at(-1)?.hash ?? GENESIS_HASH;
    for (const entry of fresh) {
      const { hash, ...body } = entry;
      if (entry.seq !== mirror.length + 1) throw new AuditLogCorruptError({ seq: entry.seq, problem: `expected seq ${mirror.length + 1}` });
      if (entry.prev !== prev) throw new AuditLogCorruptError({ seq: entry.seq, problem: "prev is not the previous entry's hash" });
      if (hashAuditEntry(body) !== hash) throw new AuditLogCorruptError({ seq: entry.seq, problem: "hash does not match the entry" });
      mirror.push(entry);
      tree.append(hash);
      prev = hash;
    }
  }

  /** Catch-ups never overlap (the mirror grows in order); a caller arriving mid-way waits for a fresh one. */
  async function catchUp(): Promise<void> {
    while (catchingUp) await catchingUp.catch(() => undefined);
    catchingUp = catchUpOnce().finally(() => {
      catchingUp = undefined;
    });
    return catchingUp;
  }

  let pending: { input: AuditEntryInput; time: string; done: (entry: AuditEntry) => void; failed: (error: unknown) => void }[] = [];
  let writing: Promise<void> | undefined;

  async function writeBatch(batch: typeof pending): Promise<AuditEntry[]> {
    return db.transaction(async (client) => {
      await client.query("SELECT pg_advisory_xact_lock($1)", [AUDIT_APPEND_LOCK]);
      const head = await client.query<{ seq: string; hash: Sha256Hex }>("SELECT seq, hash FROM gateway_audit ORDER BY seq DESC LIMIT 1");
      let seq = head.rows[0] ? Number(head.rows[0].seq) : 0;
      let prev: Sha256Hex = head.rows[0]?.hash ?? GENESIS_HASH;
      const entries: AuditEntry[] = [];
      for (const p of batch) {
        const body = { ...p.input, seq: ++seq, time: p.time, prev };
        const entry: AuditEntry = { ...body, hash: hashAuditEntry(body) };
        entries.push(entry);
        prev = entry.hash;
      }
      await client.query(
        "INSERT INTO gateway_audit (seq, hash, entry) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[])",
        [entries.map((e) => e.seq), entries.map((e) => e.hash), entries.map((e) => JSON.stringify(e))],
      );
      return entries;
    });
  }

  function flush(): Promise<void> {
    if (writing) return writing;
    if (pending.length === 0) return Promise.resolve();
    const batch = pending;
    pending = [];
    writing = writeBatch(batch)
      .then(async (entries) => {
        // Committed: the entries are in the chain whatever happens next. The mirror follows (a
        // failed catch-up is retried by the next one), then the callers are answered.
        await catchUp().catch(() => undefined);
        batch.forEach((p, i) => p.done(entries[i]!));
      }, (error: unknown) => batch.forEach((p) => p.failed(error)))
      .finally(() => {
        writing = undefined;
        if (pending.length > 0) void flush();
      });
    return writing;
  }

  async function drain(): Promise<void> {
    while (writing || pending.length > 0) await flush();
  }

  await catchUp();
  verifyAuditChain(mirror);

  return {
    append(input) {
      return new Promise<AuditEntry>((resolve, reject) => {
        pending.push({ input, time: now().toISOString(), done: resolve, failed: reject });
        void flush();
      });
    },
    head: () => ({ seq: mirror.length, head: tree.root() }),
    async entries() {
      await drain();
      await catchUp();
      return mirror.slice();
    },
    inclusionProof: (entrySeq, size) => tree.inclusionProof(entrySeq - 1, size),
    consistencyProof: (fromSize, toSize) => tree.consistencyProof(fromSize, toSize),
    root: (size) => tree.root(size),
    async refresh() {
      await catchUp();
    },
    // Every committed entry is durable in Postgres (its WAL): syncing is catching up, so the head an
    // anchor takes includes what other replicas wrote.
    async sync() {
      await drain();
      await catchUp();
    },
    async close() {
      await drain();
    },
  };
}
