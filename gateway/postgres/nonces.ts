import { DB_NOW_MS_SQL, DB_NOW_SECONDS_SQL } from "../../core/node/postgres.js";
import type { NonceCache } from "../auth/nonceCache.js";
import { ClockSkewError } from "../errors.js";
import type { GatewayDatabase } from "./database.js";

const keyOf = (signer: string, nonce: string) => `${signer.toLowerCase()}:${nonce.toLowerCase()}`;

/**
 * The nonce cache in the Postgres replicas share, so a request replayed against another replica
 * is refused. Claiming a nonce is one atomic statement: the insert succeeds for exactly one of
 * two concurrent claims (ON CONFLICT), and also takes over a row whose expiry has passed (such a
 * nonce is free again: its old request fails the timestamp check on its own). No `maxEntries`:
 * expired rows are swept at most once a second per replica, and storage is the database's.
 *
 * Replicas' clocks differ. Each accepts a request while its own clock is within the window of
 * the request's timestamp, so a replica whose clock lags accepts it for longer than the others.
 * Expiry is therefore judged by the database's clock alone, and a row lives one more window past
 * its own: a replica lagging the database by up to the window still finds the nonce of every
 * request it would accept. `checkClockSkew` holds replicas to that.
 */
export function createPostgresNonceCache(db: GatewayDatabase, options: { windowSeconds: number }): NonceCache {
  let lastSweep = 0;
  const grace = options.windowSeconds;

  return {
    async use(signer, nonce, digest, timestamp, now) {
      if (now !== lastSweep) {
        lastSweep = now;
        await db.query(`DELETE FROM gateway_nonces WHERE expires < ${DB_NOW_SECONDS_SQL} - $1`, [grace]);
      }
      const key = keyOf(signer, nonce);
      const claimed = await db.query(
        `INSERT INTO gateway_nonces (key, expires, digest) VALUES ($1, $2, $3)
         ON CONFLICT (key) DO UPDATE SET expires = EXCLUDED.expires, digest = EXCLUDED.digest, status = NULL, content_type = NULL, body = NULL
         WHERE gateway_nonces.expires < ${DB_NOW_SECONDS_SQL} - $4
         RETURNING key`,
        [key, timestamp + options.windowSeconds, digest, grace],
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

/**
 * The clock difference from the database a replica may have for the shared nonces to hold: at
 * most the timestamp window, either way. Run at start-up (a replica further off refuses to start)
 * and by /readyz (one that drifts off later stops being ready). Throws ClockSkewError beyond it;
 * returns the skew in seconds (positive: this process's clock is ahead).
 */
export async function checkClockSkew(db: GatewayDatabase, windowSeconds: number, now: () => number = Date.now): Promise<number> {
  const before = now();
  const { rows } = await db.query<{ ms: string }>(`SELECT ${DB_NOW_MS_SQL} AS ms`);
  // Our clock at the midpoint of the round trip against the server's reading.
  const skewSeconds = ((before + now()) / 2 - Number(rows[0]!.ms)) / 1000;
  if (Math.abs(skewSeconds) > windowSeconds) throw new ClockSkewError({ skewSeconds, toleratedSeconds: windowSeconds });
  return skewSeconds;
}
