import pg from "pg";

import { NonRetryableError } from "../errors.js";

/**
 * One nonce owner at a time among the replicas of one operator: a Postgres advisory lock held on
 * a dedicated connection. When the owner dies its session ends and the lock frees; the others
 * poll every `pollMs` and one takes it. Each take bumps a fencing epoch in `nonce_lease`, so a
 * stale owner (paused, partitioned) that still writes is refused by `assertFence` inside the
 * store transaction that records its nonces.
 *
 * An owner that hangs without dying (SIGSTOP, a frozen VM) keeps its TCP session, so the lease
 * session runs with `idle_session_timeout` (Postgres ≥ 14) and the owner pings it every poll: a
 * hung owner's session is ended by the server after `idleTimeoutMs` and the lock frees.
 *
 * The other side of that: an owner cut off from the database (a partition, a frozen proxy) would
 * go on believing it owns the lease while the server frees it, since a query on a silent TCP
 * connection never answers. Every query of the lease session therefore has a time limit of half
 * the idle timeout (`leaseQueryTimeoutMs`): the cut-off owner steps down (onChange(false)) within a
 * poll plus that limit, before the server can free the lock for another replica.
 */
export type NonceLease = {
  isOwner(): boolean;
  /** The epoch this replica took the lease at (undefined when it does not hold it). */
  epoch(): number | undefined;
  /** The replica that holds the lease, as recorded (may lag a takeover by one poll). */
  owner(): Promise<string | undefined>;
  close(): Promise<void>;
};

/** Another replica took the nonce lease: this one must not record or send transactions. */
export class NonceLeaseLostError extends NonRetryableError {
  override name = "NonceLeaseLostError";
}

/** Advisory lock key of the nonce lease ("MCNL"); one operator per database. */
export const NONCE_LEASE_KEY = 0x4d43_4e4c;

const SCHEMA = `CREATE TABLE IF NOT EXISTS nonce_lease (id INTEGER PRIMARY KEY CHECK (id = 1), epoch BIGINT NOT NULL, owner TEXT NOT NULL, taken_at BIGINT NOT NULL)`;

/** Fails with ORACLE_NONCE_LEASE_LOST unless `epoch` is still the current one; call inside the writing transaction. */
export async function assertFence(db: Pick<pg.PoolClient, "query">, epoch: number | undefined, replicaId: string): Promise<void> {
  const row = (await db.query("SELECT epoch, owner FROM nonce_lease WHERE id = 1 FOR SHARE")).rows[0] as { epoch: string; owner: string } | undefined;
  if (epoch === undefined || row === undefined || Number(row.epoch) !== epoch) {
    throw new NonceLeaseLostError("The nonce lease was taken by another replica; not recording transactions", {
      code: "ORACLE_NONCE_LEASE_LOST", details: { replicaId, epoch, currentEpoch: row === undefined ? undefined : Number(row.epoch), owner: row?.owner },
    });
  }
}

/** How long a silent lease session lives: five polls, at least 2 s (a busy event loop must not lose the lease). */
export function leaseIdleTimeoutMs(pollMs: number): number {
  return Math.max(5 * pollMs, 2_000);
}

/** How long one query of the lease session may take before the owner steps down: half the idle timeout, at least one poll. */
function leaseQueryTimeoutMs(pollMs: number, idleTimeoutMs: number): number {
  return Math.max(pollMs, Math.floor(idleTimeoutMs / 2));
}

export async function createNonceLease({ url, replicaId, pollMs, onChange, now = Date.now, idleTimeoutMs = leaseIdleTimeoutMs(pollMs) }: {
  url: string; replicaId: string; pollMs: number; onChange?: (owner: boolean, epoch: number | undefined) => void; now?: () => number; idleTimeoutMs?: number;
}): Promise<NonceLease> {
  const shared = new pg.Client({ connectionString: url });
  await shared.connect();
  await shared.query(SCHEMA).catch(() => undefined); // a concurrent creator won the race: the table is there
  await shared.end();

  let client: pg.Client | undefined;
  let epoch: number | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;

  function lost(): void {
    if (epoch === undefined) return;
    epoch = undefined;
    onChange?.(false, undefined);
  }

  const queryTimeoutMs = leaseQueryTimeoutMs(pollMs, idleTimeoutMs);

  /** Ends a lease session we no longer use: the server drops its advisory lock with it. */
  function drop(c: pg.Client): void {
    if (client === c) client = undefined;
    void c.end().catch(() => undefined);
  }

  async function connect(): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: url, query_timeout: queryTimeoutMs, connectionTimeoutMillis: queryTimeoutMs });
    // The session ending (Postgres restart, network) frees the lock: we are no longer the owner.
    c.on("error", () => {
      if (client === c) client = undefined;
      lost();
    });
    c.on("end", () => {
      if (client === c) client = undefined;
      lost();
    });
    await c.connect();
    // Older servers do not know the setting: a hung owner is then only detected by TCP keepalive.
    await c.query(`SET idle_session_timeout = ${Math.round(idleTimeoutMs)}`).catch(() => undefined);
    return c;
  }

  async function poll(): Promise<void> {
    if (closed) return;
    if (epoch !== undefined) {
      // The owner's heartbeat: keeps its session from the idle timeout, and notices a dead one.
      const c = client;
      if (!c) return lost();
      // A failure or no answer within queryTimeoutMs: step down now, not when TCP gives up.
      await c.query("SELECT 1").catch(() => {
        lost();
        drop(c);
      });
      return;
    }
    const c = client ?? await connect();
    // close() ran while we connected: a session opened now would hold the lock for good.
    if (closed) return drop(c);
    client = c;
    try {
      const taken = (await c.query("SELECT pg_try_advisory_lock($1) AS ok", [NONCE_LEASE_KEY])).rows[0] as { ok: boolean };
      if (!taken.ok) return;
      const row = (await c.query(`INSERT INTO nonce_lease (id, epoch, owner, taken_at) VALUES (1, 1, $1, $2)
        ON CONFLICT (id) DO UPDATE SET epoch = nonce_lease.epoch + 1, owner = excluded.owner, taken_at = excluded.taken_at RETURNING epoch`, [replicaId, now()])).rows[0] as { epoch: string };
      if (closed) return drop(c);
      epoch = Number(row.epoch);
      onChange?.(true, epoch);
    } catch (error) {
      // Half-taken (the lock without the epoch, or a session that stopped answering): let it go whole.
      drop(c);
      throw error;
    }
  }

  function schedule(): void {
    if (closed) return;
    timer = setTimeout(() => {
      poll().catch(() => undefined).finally(schedule);
    }, pollMs);
  }

  await poll().catch(() => undefined);
  schedule();

  return {
    isOwner: () => epoch !== undefined,
    epoch: () => epoch,
    async owner() {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        return ((await c.query("SELECT owner FROM nonce_lease WHERE id = 1")).rows[0] as { owner: string } | undefined)?.owner;
      } finally {
        await c.end();
      }
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      const c = client;
      client = undefined;
      epoch = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
