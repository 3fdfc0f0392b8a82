import pg from "pg";

import { createSchema, inTransaction, openPool } from "../../core/node/postgres.js";
import { DatabaseUnavailableError, GatewayError } from "../errors.js";

/**
 * The Postgres that gateway replicas share (DATABASE_URL): one pool per gateway process, and an
 * idempotent schema, created under an advisory lock so replicas starting together do not race
 * on CREATE TABLE (concurrent `IF NOT EXISTS` can still collide in the catalogue).
 */
export type GatewayDatabase = {
  /**
   * One statement. A connection that cannot be made or is lost (server down, restarting, out of
   * connections) is a DatabaseUnavailableError (HTTP 503) whatever the caller; an SQL error is
   * thrown as it is (a defect, HTTP 500).
   */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  /** A pooled connection of its own (session locks); release it. Failures as for `query`. */
  connect(): Promise<pg.PoolClient>;
  /** `fn` in one transaction (core/node/postgres.ts inTransaction). Failures as for `query`. */
  transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T>;
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
  const mapped = <T>(run: () => Promise<T>): Promise<T> => run().catch((error: unknown) => { throw asUnavailable(error); });
  return {
    query: <R extends pg.QueryResultRow>(sql: string, values?: unknown[]) => mapped(() => pool.query<R>(sql, values)),
    connect: () => mapped(() => pool.connect()),
    transaction: (fn) => mapped(() => inTransaction(pool, fn)),
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

/**
 * SQLSTATE classes of a server that cannot serve the statement now (connection exception,
 * insufficient resources, operator intervention), as opposed to an error in the statement.
 */
const UNAVAILABLE_SQLSTATE = /^(08|53|57)/;

/** A failure to reach or keep the database as DatabaseUnavailableError; anything else unchanged. */
function asUnavailable(error: unknown): unknown {
  if (error instanceof GatewayError) return error;
  if (error instanceof pg.DatabaseError) {
    return UNAVAILABLE_SQLSTATE.test(error.code ?? "") ? new DatabaseUnavailableError({ reason: `${error.code}: ${error.message}` }, error) : error;
  }
  // Not from the server: the socket, or the pool and client giving up on the connection.
  const e = error as { code?: unknown; message?: unknown };
  if (typeof e.code === "string" && SOCKET_ERRORS.has(e.code)) return new DatabaseUnavailableError({ reason: e.code }, error);
  if (typeof e.message === "string" && CONNECTION_LOST.test(e.message)) return new DatabaseUnavailableError({ reason: e.message }, error);
  return error;
}

const SOCKET_ERRORS = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);
/** pg's own words for a connection it lost or could not get (pg 8: Client and Pool). */
const CONNECTION_LOST = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;
