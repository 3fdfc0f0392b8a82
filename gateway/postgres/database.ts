import pg from "pg";

/**
 * The Postgres that gateway replicas share (DATABASE_URL): one pool per gateway process, and an
 * idempotent schema, created under an advisory lock so replicas starting together do not race
 * on CREATE TABLE (concurrent `IF NOT EXISTS` can still collide in the catalogue).
 */
export type GatewayDatabase = {
  pool: pg.Pool;
  /** Throws unless the database answers a query. */
  ping(): Promise<void>;
  close(): Promise<void>;
};

/** Arbitrary, fixed: the advisory-lock key of schema creation. */
const SCHEMA_LOCK = 0x6d656463;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS gateway_nonces (
  key TEXT PRIMARY KEY,
  expires BIGINT NOT NULL,
  digest TEXT NOT NULL,
  status INTEGER,
  content_type TEXT,
  body BYTEA
);
CREATE INDEX IF NOT EXISTS gateway_nonces_by_expiry ON gateway_nonces (expires);
`;

export async function openGatewayDatabase(url: string, options: { max?: number } = {}): Promise<GatewayDatabase> {
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10, connectionTimeoutMillis: 5_000 });
  // An idle client's error (server restart) must not crash the process: the next query reconnects.
  pool.on("error", () => undefined);
  try {
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock($1)", [SCHEMA_LOCK]);
      await client.query(SCHEMA);
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.end();
    throw error;
  }
  let closed = false;
  return {
    pool,
    async ping() {
      await pool.query("SELECT 1");
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
