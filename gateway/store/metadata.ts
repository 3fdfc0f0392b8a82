import { readFile } from "node:fs/promises";
import { join } from "node:path";

import type { Sha256Hex } from "../../core/hash.js";
import type { BlobKind } from "../../protocol/gateway.js";
import { createFileExclusive, writeFileAtomic } from "../../core/node/atomicFile.js";

/** What the gateway knows about a blob besides its bytes: who owns it and what it is. */
export type BlobMeta = {
  blobId: Sha256Hex;
  /** The patient the blob belongs to (checksummed address). */
  owner: string;
  kind: BlobKind;
  /** Record category code (contracts' `Category`). */
  category: number;
  /** The on-chain reference given at upload (record id / batch root / prediction request id). */
  ref: string;
  size: number;
  /** Who uploaded it: the patient, a bound device or an oracle. */
  writer: string;
  storedAt: string;
};

export interface MetadataStore {
  get(blobId: Sha256Hex): Promise<BlobMeta | undefined>;
  put(meta: BlobMeta): Promise<void>;
  /**
   * Stores `meta` unless the blob already has metadata, atomically: of two concurrent uploads of
   * the same bytes, the first to create wins whatever the timing, and both learn the winner.
   */
  create(meta: BlobMeta): Promise<{ meta: BlobMeta; created: boolean }>;
}

/** One small JSON file per blob beside the blob directory, cached in memory after first use. */
export function createDirectoryMetadataStore(root: string): MetadataStore {
  const cache = new Map<string, BlobMeta>();
  const pathOf = (blobId: string) => join(root, blobId.slice(2, 4), `${blobId.slice(2)}.json`);
  return {
    async get(blobId) {
      const cached = cache.get(blobId);
      if (cached) return cached;
      try {
        const meta = JSON.parse(await readFile(pathOf(blobId), "utf8")) as BlobMeta;
        cache.set(blobId, meta);
        return meta;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw error;
      }
    },
    async create(meta) {
      if (await createFileExclusive(pathOf(meta.blobId), JSON.stringify(meta))) {
        cache.set(meta.blobId, meta);
        return { meta, created: true };
      }
      const existing = await this.get(meta.blobId);
      if (!existing) throw new Error(`metadata of ${meta.blobId} vanished while being created`);
      return { meta: existing, created: false };
    },
    async put(meta) {
      await writeFileAtomic(pathOf(meta.blobId), JSON.stringify(meta));
      cache.set(meta.blobId, meta);
    },
  };
}
