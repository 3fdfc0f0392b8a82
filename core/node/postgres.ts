import pg from "pg";

/**
 * What the oracle's job store and the gateway's shared state do alike on Postgres: a pool that
 * survives a server restart and cannot be held hostage by a frozen replica, transactions, and an
 * idempotent schema that replicas starting together create once.
 */

/**
 * How long the server lets a transaction sit idle before aborting it. A replica frozen inside a
 * transaction (SIGSTOP, a partition) would otherwise keep its row and advisory locks — the oracle's
 * nonce-lease fence, the gateway's audit append lock — and with them every other replica, for as
 * long as TCP takes to notice (hours). Every transaction here is a few queries with no waiting in
 * between, so 5 s is far above any legitimate pause.
 */
export const IDLE_IN_TRANSACTION_MS = 5_000;

/**
 * The database server's clock, as SQL (seconds, fractional). Replicas' clocks differ; whatever
 * they share that expires (job claims, used nonces) is timed by this one clock instead.
 */
export const DB_NOW_SECONDS_SQL = "extract(epoch from clock_timestamp())";
/** The same clock in whole milliseconds. */
export const DB_NOW_MS_SQL = `(${DB_NOW_SECONDS_SQL} * 1000)::bigint`;

export function openPool(url: string, options: { max?: number; connectionTimeoutMillis?: number } = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    ...(options.connectionTimeoutMillis === undefined ? {} : { connectionTimeoutMillis: options.connectionTimeoutMillis }),
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
  });
  // An idle client's connection dropping (a Postgres restart) must not crash the process: the next
  // query reconnects.
  pool.on("error", () => undefined);
  return pool;
}

/** Runs `fn` in one transaction on one pooled connection: committed if it resolves, rolled back if it throws. */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Creates `schema` (idempotent DDL) under a transaction-scoped advisory lock: concurrent
 * `CREATE … IF NOT EXISTS` from replicas starting at once can still collide in the catalogue.
 */
export async function createSchema(pool: pg.Pool, lockKey: number, schema: string): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query("SELECT pg_advisory_xact_lock($1)", [lockKey]);
    await client.query(schema);
  });
}
