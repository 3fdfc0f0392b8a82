import type { NonceCache } from "../auth/nonceCache.js";
import type { GatewayDatabase } from "./database.js";

const keyOf = (signer: string, nonce: string) => `${signer.toLowerCase()}:${nonce.toLowerCase()}`;

/**
 * The nonce cache in the Postgres replicas share, so a request replayed against another replica
 * is refused. Claiming a nonce is one atomic statement: the insert succeeds for exactly one of
 * two concurrent claims (ON CONFLICT), and also takes over a row whose expiry has passed (such a
 * nonce is free again: its old request fails the timestamp check on its own). No `maxEntries`:
 * expired rows are swept at most once a second per replica, and storage is the database's.
 */
export function createPostgresNonceCache(db: GatewayDatabase, options: { windowSeconds: number }): NonceCache {
  let lastSweep = 0;

  return {
    async use(signer, nonce, digest, timestamp, now) {
      if (now !== lastSweep) {
        lastSweep = now;
        await db.query("DELETE FROM gateway_nonces WHERE expires < $1", [now]);
      }
      const key = keyOf(signer, nonce);
      const claimed = await db.query(
        `INSERT INTO gateway_nonces (key, expires, digest) VALUES ($1, $2, $3)
         ON CONFLICT (key) DO UPDATE SET expires = EXCLUDED.expires, digest = EXCLUDED.digest, status = NULL, content_type = NULL, body = NULL
         WHERE gateway_nonces.expires < $4
         RETURNING key`,
        [key, timestamp + options.windowSeconds, digest, now],
      );
      if (claimed.rowCount === 1) return "fresh";
      const seen = await db.query<{ digest: string }>("SELECT digest FROM gateway_nonces WHERE key = $1", [key]);
      // Gone between the two statements (swept by another replica): it had expired, so this is a replay of a stale request.
      if (seen.rows.length === 0) return "replay";
      return seen.rows[0]!.digest === digest ? "retry" : "replay";
    },
    async recordReply(signer, nonce, reply) {
      await db.query("UPDATE gateway_nonces SET status = $1, content_type = $2, body = $3 WHERE key = $4", [reply.status, reply.contentType, Buffer.from(reply.body), keyOf(signer, nonce)]);
    },
    async recordedReply(signer, nonce) {
      const { rows } = await db.query<{ status: number | null; content_type: string | null; body: Buffer | null }>(
        "SELECT status, content_type, body FROM gateway_nonces WHERE key = $1",
        [keyOf(signer, nonce)],
      );
      const row = rows[0];
      if (!row || row.status === null || row.body === null) return undefined;
      return { status: row.status, contentType: row.content_type ?? "application/json", body: new Uint8Array(row.body) };
    },
    async size() {
      const { rows } = await db.query<{ n: string }>("SELECT count(*) AS n FROM gateway_nonces");
      return Number(rows[0]!.n);
    },
    // The pool belongs to the GatewayDatabase, closed with it.
    async close() {},
  };
}
