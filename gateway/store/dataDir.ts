import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { isSha256Hex } from "../../core/hash.js";
import type { AnchorCoordinator } from "../audit/anchor.js";
import { openAuditLog, type AuditLog } from "../audit/auditLog.js";
import { openNonceStore, type NonceCache } from "../auth/nonceCache.js";
import { DataDirectoryError } from "../errors.js";
import { createPostgresAnchorCoordinator } from "../postgres/anchorLock.js";
import { openPostgresAuditLog } from "../postgres/auditLog.js";
import { openGatewayDatabase, type GatewayDatabase } from "../postgres/database.js";
import { createPostgresMetadataStore } from "../postgres/metadata.js";
import { checkClockSkew, createPostgresNonceCache } from "../postgres/nonces.js";
import { createPostgresNullifierStore } from "../postgres/nullifiers.js";
import type { ReadinessCheck } from "../readiness.js";
import { pathExists, TEMP_PREFIX, tempPathIn } from "../../core/node/atomicFile.js";
import type { BlobStore } from "./blobStore.js";
import { createDirectoryBlobStore } from "./directoryStore.js";
import { createDirectoryMetadataStore, type MetadataStore } from "./metadata.js";
import { openNullifierStore, type NullifierStore } from "./nullifiers.js";
import { createS3BlobStore, type S3BlobStoreOptions } from "./s3Store.js";

/**
 * Where the gateway keeps what is not in its data directory. Default: everything in the
 * directory (embedded). `blobStore.kind: "s3"` puts blobs in an S3-compatible bucket (uploads are
 * still spooled under `<dataDir>/spool`); `databaseUrl` puts the state replicas must share (used
 * nonces, blob metadata, nullifiers, the audit log) in Postgres. Both together: any number of
 * replicas behind one load balancer behave as one gateway (docs/gateway.md, "Replicas on S3 and
 * Postgres").
 */
export type GatewayBackends = {
  blobStore?: { kind: "directory" } | ({ kind: "s3" } & Omit<S3BlobStoreOptions, "spoolDir">);
  databaseUrl?: string;
};

/** Everything durable a gateway keeps, under one directory. */
export type GatewayData = {
  store: BlobStore;
  metadata: MetadataStore;
  audit: AuditLog;
  nonces: NonceCache;
  /** Nullifiers of accepted group-access proofs (`<dataDir>/nullifiers/`), kept across restarts. */
  nullifiers: NullifierStore;
  /** What start-up cleaning removed. */
  cleaned: { tempFiles: number; blobsWithoutMetadata: number };
  /** What /readyz reports of the backends: `blobStore` and `database`, checked on every call. */
  checks: { blobStore(): Promise<ReadinessCheck>; database(): Promise<ReadinessCheck> };
  /** With a shared database, the anchoring lock (only one replica anchors); undefined otherwise. */
  anchorCoordinator?: AnchorCoordinator;
  /** Closes the logs, the database pool and the S3 client: nothing is left holding the process. */
  close(): Promise<void>;
};

const PROBLEMS: Record<string, string> = {
  EROFS: "the file system is read-only",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOTDIR: "a path component is not a directory",
  ENOSPC: "the disk is full",
};

/**
 * Opens `<dataDir>/blobs`, `meta`, `audit.jsonl` and `nonces.sqlite` (or, per `backends`, the
 * bucket and the shared database in their place). First it checks that the
 * directory takes writes (a read-only mount is a DataDirectoryError naming the path, not an
 * EROFS stack from deep inside), then cleans what a crash can leave: temp files of interrupted
 * writes, and blobs whose metadata was never written (the blob is written first, so such a blob
 * was never acknowledged to anyone).
 */
export async function openGatewayData(dataDir: string, options: { windowSeconds: number; durableNonces?: boolean; backends?: GatewayBackends }): Promise<GatewayData> {
  await checkWritable(dataDir);
  const blobsDir = join(dataDir, "blobs");
  const metaDir = join(dataDir, "meta");
  const databaseUrl = options.backends?.databaseUrl;
  const blobConfig = options.backends?.blobStore ?? { kind: "directory" as const };
  // With metadata in Postgres, a blob file without a metadata file is not an orphan: keep it.
  const cleaned = await cleanAfterCrash(blobsDir, metaDir, { orphans: databaseUrl === undefined });
  const opened: { close(): Promise<void> }[] = [];
  try {
    const database = databaseUrl ? await openGatewayDatabase(databaseUrl) : undefined;
    if (database) opened.push(database);
    const s3 = blobConfig.kind === "s3" ? await createS3BlobStore({ ...blobConfig, spoolDir: join(dataDir, "spool") }) : undefined;
    if (s3) opened.push(s3);
    const shared = database ? await openSharedState(database, options.windowSeconds) : undefined;
    const audit = shared?.audit ?? await openAuditLog(join(dataDir, "audit.jsonl"));
    opened.unshift(audit);
    const nonces = shared?.nonces ?? openNonceStore(join(dataDir, "nonces.sqlite"), { windowSeconds: options.windowSeconds, durable: options.durableNonces });
    opened.unshift(nonces);
    const nullifiers = shared?.nullifiers ?? await openNullifierStore(join(dataDir, "nullifiers"));
    return {
      store: s3 ?? createDirectoryBlobStore(blobsDir),
      metadata: shared?.metadata ?? createDirectoryMetadataStore(metaDir),
      audit,
      nonces,
      nullifiers,
      cleaned,
      checks: {
        blobStore: async () => {
          if (!s3 || blobConfig.kind !== "s3") return { ok: true, kind: "directory" };
          await s3.checkReady();
          return { ok: true, kind: "s3", bucket: blobConfig.bucket };
        },
        database: async () => {
          if (!database) return { ok: true, kind: "embedded" };
          // One query that both shows Postgres answering and that this replica's clock is still
          // close enough to the database's for the shared nonces.
          const clockSkewSeconds = await checkClockSkew(database, options.windowSeconds);
          return { ok: true, kind: "postgres", clockSkewSeconds: Math.round(clockSkewSeconds * 1000) / 1000 };
        },
      },
      ...(database ? { anchorCoordinator: createPostgresAnchorCoordinator(database) } : {}),
      // Logs first (they drain into the pool), then the pool and the S3 client.
      close: () => closeAll(opened),
    };
  } catch (error) {
    await closeAll(opened).catch(() => undefined);
    throw error;
  }
}

async function openSharedState(database: GatewayDatabase, windowSeconds: number) {
  await checkClockSkew(database, windowSeconds);
  return {
    audit: await openPostgresAuditLog(database),
    nonces: createPostgresNonceCache(database, { windowSeconds }),
    metadata: createPostgresMetadataStore(database),
    nullifiers: createPostgresNullifierStore(database),
  };
}

async function closeAll(resources: { close(): Promise<void> }[]): Promise<void> {
  const errors: unknown[] = [];
  for (const resource of resources) await resource.close().catch((error: unknown) => errors.push(error));
  if (errors.length > 0) throw new AggregateError(errors, "closing the gateway's stores failed");
}

async function checkWritable(dataDir: string): Promise<void> {
  try {
    await mkdir(dataDir, { recursive: true });
    const probe = tempPathIn(dataDir);
    await writeFile(probe, "");
    await rm(probe, { force: true });
  } catch (error) {
    const errno = (error as NodeJS.ErrnoException).code ?? "UNKNOWN";
    throw new DataDirectoryError({ path: dataDir, errno, problem: PROBLEMS[errno] ?? "it does not take writes" }, error);
  }
}

async function cleanAfterCrash(blobsDir: string, metaDir: string, options: { orphans: boolean }): Promise<GatewayData["cleaned"]> {
  const cleaned = { tempFiles: 0, blobsWithoutMetadata: 0 };
  for (const dir of [blobsDir, metaDir]) {
    for (const shard of await entriesOf(dir)) {
      for (const name of await entriesOf(join(dir, shard))) {
        if (!name.startsWith(TEMP_PREFIX)) continue;
        await rm(join(dir, shard, name), { force: true });
        cleaned.tempFiles += 1;
      }
    }
  }
  if (!options.orphans) return cleaned;
  for (const shard of await entriesOf(blobsDir)) {
    for (const name of await entriesOf(join(blobsDir, shard))) {
      if (!isSha256Hex(`0x${name}`)) continue;
      if (await pathExists(join(metaDir, shard, `${name}.json`))) continue;
      await rm(join(blobsDir, shard, name), { force: true });
      cleaned.blobsWithoutMetadata += 1;
    }
  }
  return cleaned;
}

async function entriesOf(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ENOTDIR") return [];
    throw error;
  }
}

