import { DatabaseSync } from "node:sqlite";

/**
 * Remembers (signer, nonce) pairs — with the digest of the request that used them — for as long
 * as their request could still be accepted.
 *
 * A request is only accepted when its timestamp is within `windowSeconds` of the gateway's clock,
 * so a nonce needs remembering only until `timestamp + windowSeconds`: after that the timestamp
 * check refuses the replay on its own. Storage is therefore bounded by the request rate times the
 * window (at most `maxEntries`; beyond that new requests are refused rather than forgetting nonces).
 *
 * The digest tells a *retry* (the very same signed request sent again, e.g. after a dropped
 * connection) from a replay of the nonce in another request. The gateway keeps the reply to a
 * write so a retry gets the original answer (see server.ts).
 */
export type NonceUse = "fresh" | "replay" | "retry" | "full";

/** A reply remembered for the retries of one request. */
export type RecordedReply = { status: number; contentType: string; body: Uint8Array };

/**
 * Asynchronous, so a shared store (gateway/postgres/nonces.ts: replicas behind one load balancer)
 * implements the same contract as the embedded ones.
 */
export type NonceCache = {
  /** Records the nonce for `digest`; "retry" if it was already used by the same digest, "replay" by another. */
  use(signer: string, nonce: string, digest: string, timestamp: number, nowSeconds: number): Promise<NonceUse>;
  /** Remembers the reply a retry of this request gets. */
  recordReply(signer: string, nonce: string, reply: RecordedReply): Promise<void>;
  recordedReply(signer: string, nonce: string): Promise<RecordedReply | undefined>;
  size(): Promise<number>;
  close(): Promise<void>;
};

const keyOf = (signer: string, nonce: string) => `${signer.toLowerCase()}:${nonce.toLowerCase()}`;

/** In memory: forgets everything on restart. For tests and embedders with their own persistence. */
export function createNonceCache(options: { windowSeconds: number; maxEntries?: number }): NonceCache {
  const maxEntries = options.maxEntries ?? 1_000_000;
  // Insertion order is close to expiry order; a sweep stops at the first live entry.
  const entries = new Map<string, { expiry: number; digest: string; reply?: RecordedReply }>();
  let lastSweep = 0;

  const sweep = (now: number) => {
    if (now === lastSweep) return;
    lastSweep = now;
    for (const [key, entry] of entries) {
      if (entry.expiry >= now) break;
      entries.delete(key);
    }
  };

  return {
    async use(signer, nonce, digest, timestamp, now) {
      sweep(now);
      const key = keyOf(signer, nonce);
      const seen = entries.get(key);
      if (seen) return seen.digest === digest ? "retry" : "replay";
      if (entries.size >= maxEntries) return "full";
      entries.set(key, { expiry: timestamp + options.windowSeconds, digest });
      return "fresh";
    },
    async recordReply(signer, nonce, reply) {
      const entry = entries.get(keyOf(signer, nonce));
      if (entry) entry.reply = reply;
    },
    recordedReply: async (signer, nonce) => entries.get(keyOf(signer, nonce))?.reply,
    size: async () => entries.size,
    async close() {},
  };
}

/**
 * The same cache in SQLite (node:sqlite, WAL), so replay protection survives a restart: a request
 * captured before a crash and replayed after it is still refused. A nonce is committed before the
 * request it belongs to is acted on. `synchronous = NORMAL` makes each commit survive a killed
 * process (the WAL is in the OS page cache) without an fsync per request; `durable: true`
 * (synchronous = FULL) also survives power loss, at one fsync per request.
 */
export function openNonceStore(path: string, options: { windowSeconds: number; maxEntries?: number; durable?: boolean }): NonceCache {
  const maxEntries = options.maxEntries ?? 1_000_000;
  const db = new DatabaseSync(path);
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${options.durable ? "FULL" : "NORMAL"}; PRAGMA busy_timeout = 5000;`);
  db.exec(`CREATE TABLE IF NOT EXISTS nonces (
    key TEXT PRIMARY KEY, expires INTEGER NOT NULL, digest TEXT NOT NULL, status INTEGER, content_type TEXT, body BLOB
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS nonces_by_expiry ON nonces (expires);`);
  const insert = db.prepare("INSERT OR IGNORE INTO nonces (key, expires, digest) VALUES (?, ?, ?)");
  const select = db.prepare("SELECT digest, status, content_type, body FROM nonces WHERE key = ?");
  const saveReply = db.prepare("UPDATE nonces SET status = ?, content_type = ?, body = ? WHERE key = ?");
  const deleteExpired = db.prepare("DELETE FROM nonces WHERE expires < ?");
  let count = Number((db.prepare("SELECT count(*) AS n FROM nonces").get() as { n: number }).n);
  let lastSweep = 0;

  type Row = { digest: string; status: number | null; content_type: string | null; body: Uint8Array | null };

  return {
    async use(signer, nonce, digest, timestamp, now) {
      if (now !== lastSweep) {
        lastSweep = now;
        count -= Number(deleteExpired.run(now).changes);
      }
      const key = keyOf(signer, nonce);
      const seen = select.get(key) as Row | undefined;
      if (seen) return seen.digest === digest ? "retry" : "replay";
      if (count >= maxEntries) return "full";
      insert.run(key, timestamp + options.windowSeconds, digest);
      count += 1;
      return "fresh";
    },
    async recordReply(signer, nonce, reply) {
      saveReply.run(reply.status, reply.contentType, reply.body, keyOf(signer, nonce));
    },
    async recordedReply(signer, nonce) {
      const row = select.get(keyOf(signer, nonce)) as Row | undefined;
      if (!row || row.status === null || row.body === null) return undefined;
      return { status: row.status, contentType: row.content_type ?? "application/json", body: new Uint8Array(row.body) };
    },
    size: async () => count,
    async close() {
      db.close();
    },
  };
}
