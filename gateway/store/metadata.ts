import { mkdir, open, readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";

import { isSha256Hex, type Sha256Hex } from "../../core/hash.js";
import type { BlobKind } from "../../protocol/gateway.js";
import { createFileExclusive, syncDirectory, writeFileAtomic } from "../../core/node/atomicFile.js";

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
   * Either way the winner is in the (owner, ref) index when this resolves: calling it again for
   * a stored blob (an idempotent re-upload) repairs an index entry a crash left unwritten.
   */
  create(meta: BlobMeta): Promise<{ meta: BlobMeta; created: boolean }>;
  /**
   * The ids of the blobs `owner` has under `ref` (the `ref` they were stored with; a zero ref is
   * not indexed), in ascending order. What the share listing (`GET /v1/shares`) reads.
   */
  listByRef(owner: string, ref: string): Promise<Sha256Hex[]>;
}

const ZERO_REF = `0x${"0".repeat(64)}`;

/**
 * One small JSON file per blob beside the blob directory, cached in memory after first use, and
 * the (owner, ref) index as empty files `<root>/by-ref/<owner>/<ref>/<blob id>` (hex without 0x,
 * lower case). An entry is created after the metadata it points to, so a crash between the two
 * leaves a blob that is stored but not listed, never a listed blob without metadata; the next
 * upload of the same bytes adds the entry. An empty file is created whole or not at all, so an
 * entry needs no temp file, and creating it again is a no-op.
 */
export function createDirectoryMetadataStore(root: string): MetadataStore {
  const cache = new Map<string, BlobMeta>();
  const pathOf = (blobId: string) => join(root, blobId.slice(2, 4), `${blobId.slice(2)}.json`);
  const refDirOf = (owner: string, ref: string) => join(root, "by-ref", owner.slice(2).toLowerCase(), ref.slice(2).toLowerCase());

  async function index(meta: BlobMeta): Promise<void> {
    if (meta.ref.toLowerCase() === ZERO_REF) return;
    const dir = refDirOf(meta.owner, meta.ref);
    const firstCreated = await mkdir(dir, { recursive: true });
    let handle;
    try {
      handle = await open(join(dir, meta.blobId.slice(2)), "wx", 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return;
      throw error;
    }
    await handle.close();
    await syncDirectory(dir);
    // New directories are durable only once their parents are synced too.
    if (firstCreated) for (let d = dirname(dir); d.length >= dirname(firstCreated).length; d = dirname(d)) await syncDirectory(d);
  }

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
      const stored = await this.get(meta.blobId);
      if (stored) {
        await index(stored);
        return { meta: stored, created: false };
      }
      if (await createFileExclusive(pathOf(meta.blobId), JSON.stringify(meta))) {
        cache.set(meta.blobId, meta);
        await index(meta);
        return { meta, created: true };
      }
      const existing = await this.get(meta.blobId);
      if (!existing) throw new Error(`metadata of ${meta.blobId} vanished while being created`);
      await index(existing);
      return { meta: existing, created: false };
    },
    async put(meta) {
      await writeFileAtomic(pathOf(meta.blobId), JSON.stringify(meta));
      cache.set(meta.blobId, meta);
      await index(meta);
    },
    async listByRef(owner, ref) {
      let names: string[];
      try {
        names = await readdir(refDirOf(owner, ref));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
        throw error;
      }
      return names.map((name) => `0x${name}`).filter(isSha256Hex).sort();
    },
  };
}
