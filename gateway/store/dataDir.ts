import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { isSha256Hex } from "../../core/hash.js";
import { openAuditLog, type AuditLog } from "../audit/auditLog.js";
import { openNonceStore, type NonceCache } from "../auth/nonceCache.js";
import { DataDirectoryError } from "../errors.js";
import { pathExists, TEMP_PREFIX, tempPathIn } from "../../core/node/atomicFile.js";
import type { BlobStore } from "./blobStore.js";
import { createDirectoryBlobStore } from "./directoryStore.js";
import { createDirectoryMetadataStore, type MetadataStore } from "./metadata.js";
import { openNullifierStore, type NullifierStore } from "./nullifiers.js";

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
 * Opens `<dataDir>/blobs`, `meta`, `audit.jsonl` and `nonces.sqlite`. First it checks that the
 * directory takes writes (a read-only mount is a DataDirectoryError naming the path, not an
 * EROFS stack from deep inside), then cleans what a crash can leave: temp files of interrupted
 * writes, and blobs whose metadata was never written (the blob is written first, so such a blob
 * was never acknowledged to anyone).
 */
export async function openGatewayData(dataDir: string, options: { windowSeconds: number; durableNonces?: boolean }): Promise<GatewayData> {
  await checkWritable(dataDir);
  const blobsDir = join(dataDir, "blobs");
  const metaDir = join(dataDir, "meta");
  const cleaned = await cleanAfterCrash(blobsDir, metaDir);
  const audit = await openAuditLog(join(dataDir, "audit.jsonl"));
  const nullifiers = await openNullifierStore(join(dataDir, "nullifiers"));
  const nonces = openNonceStore(join(dataDir, "nonces.sqlite"), { windowSeconds: options.windowSeconds, durable: options.durableNonces });
  return {
    store: createDirectoryBlobStore(blobsDir),
    metadata: createDirectoryMetadataStore(metaDir),
    audit,
    nonces,
    nullifiers,
    cleaned,
    async close() {
      await audit.close();
      await nonces.close();
    },
  };
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

async function cleanAfterCrash(blobsDir: string, metaDir: string): Promise<GatewayData["cleaned"]> {
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

