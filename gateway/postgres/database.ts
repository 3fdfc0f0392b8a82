import type pg from "pg";

import { createSchema, openPool } from "../../core/node/postgres.js";

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
CREATE TABLE IF NOT EXISTS gateway_blob_meta (
  blob_id TEXT PRIMARY KEY,
  owner_key TEXT NOT NULL,
  ref_key TEXT NOT NULL,
  meta TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS gateway_blob_meta_by_ref ON gateway_blob_meta (owner_key, ref_key);
CREATE TABLE IF NOT EXISTS gateway_nullifiers (
  nullifier TEXT PRIMARY KEY,
  group_id TEXT NOT NULL,
  proof_timestamp BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS gateway_audit (
  seq BIGINT PRIMARY KEY,
  hash TEXT NOT NULL,
  entry TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS gateway_audit_anchor (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq BIGINT NOT NULL
);
`;

export async function openGatewayDatabase(url: string, options: { max?: number } = {}): Promise<GatewayDatabase> {
  // The pool's idle-in-transaction limit matters here: a frozen replica inside an audit append
  // holds the append lock, and with it every replica's writes.
  const pool = openPool(url, { max: options.max ?? 10, connectionTimeoutMillis: 5_000 });
  try {
    await createSchema(pool, SCHEMA_LOCK, SCHEMA);
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
