import { join } from "node:path";

import type { Settings } from "../config/settings.js";
import { createJobStore } from "./jobStore.js";
import { createNonceLease, type NonceLease } from "./nonceLease.js";
import { createPgJobStore, type PgJobStore } from "./pgJobStore.js";
import type { JobStore } from "./types.js";

/**
 * What a replica on a shared store adds to the job store: claims on pipeline work and the nonce
 * lease (only its owner follows the chain and sends transactions).
 */
export type Replication = {
  replicaId: string;
  claims: Pick<PgJobStore, "claimDueJobs" | "renewClaim" | "releaseClaim">;
  claimMs: number;
  lease: NonceLease;
};

export type OpenedStore = { store: JobStore; replication?: Replication };

/**
 * Opens the job store JOB_STORE names: SQLite in DATA_DIR (the embedded default, one daemon), or
 * Postgres at DATABASE_URL with the nonce lease, whose epoch fences the store's nonce writes.
 */
export async function openJobStore(settings: Settings, onLeaseChange?: (owner: boolean, epoch: number | undefined) => void): Promise<OpenedStore> {
  if (settings.JOB_STORE !== "postgres") return { store: createJobStore({ path: join(settings.DATA_DIR, "oracle.db") }) };
  const replicaId = settings.REPLICA_ID;
  let lease: NonceLease | undefined;
  const store = await createPgJobStore({ url: settings.DATABASE_URL, fence: { replicaId, epoch: () => lease?.epoch() } });
  try {
    lease = await createNonceLease({ url: settings.DATABASE_URL, replicaId, pollMs: settings.NONCE_LEASE_POLL_MS, ...(onLeaseChange ? { onChange: onLeaseChange } : {}) });
  } catch (error) {
    await store.close();
    throw error;
  }
  return { store, replication: { replicaId, claims: store, claimMs: settings.JOB_CLAIM_MS, lease } };
}
