import { readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";

import { isSha256Hex, sha256Hex, type Sha256Hex } from "../../core/hash.js";
import { BadRequestError, BlobIntegrityError } from "../errors.js";
import { writeFileAtomic } from "./atomicFile.js";
import type { BlobStore } from "./blobStore.js";

/**
 * The embedded backend: one file per blob under `<root>/<first byte>/<hash>`, written atomically.
 * Every read re-hashes the file (SHA-256 costs well under 1 ms per MiB) so a blob corrupted or
 * tampered with on disk is refused, never served.
 */
export function createDirectoryBlobStore(root: string): BlobStore {
  const pathOf = (id: Sha256Hex) => {
    if (!isSha256Hex(id)) throw new BadRequestError("Blob id must be 0x-prefixed lowercase SHA-256 hex.", { blobId: id });
    return join(root, id.slice(2, 4), id.slice(2));
  };

  return {
    async put(id, bytes) {
      const actual = sha256Hex(bytes);
      if (actual !== id) throw new BlobIntegrityError({ blobId: id, actual, where: "upload" });
      const path = pathOf(id);
      if (await exists(path)) {
        // Content addressing makes a second write of the same id a no-op, but only if the copy
        // on disk is intact; a damaged copy is replaced by the verified upload.
        const existing = await readFile(path);
        if (sha256Hex(existing) === id) return;
      }
      await writeFileAtomic(path, bytes);
    },

    async get(id) {
      const path = pathOf(id);
      let bytes: Buffer;
      try {
        bytes = await readFile(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw error;
      }
      const actual = sha256Hex(bytes);
      if (actual !== id) throw new BlobIntegrityError({ blobId: id, actual, where: "store" });
      return bytes;
    },

    async has(id) {
      return exists(pathOf(id));
    },

    async delete(id) {
      await rm(pathOf(id), { force: true });
    },
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}
