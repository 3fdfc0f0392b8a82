import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";

import { isSha256Hex, sha256Hex, type Sha256Hex } from "../../core/hash.js";
import { BadRequestError, BlobIntegrityError } from "../errors.js";
import { pathExists, syncDirectory, tempPathIn, writeFileAtomic } from "../../core/node/atomicFile.js";
import type { BlobStore } from "./blobStore.js";
import { spoolVerified } from "./spool.js";

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
      if (await intact(path, id)) return;
      await writeFileAtomic(path, bytes);
    },

    async putStream(id, chunks, limit) {
      const path = pathOf(id);
      const directory = dirname(path);
      await mkdir(directory, { recursive: true });
      const temp = tempPathIn(directory);
      let size: number;
      try {
        size = await spoolVerified(temp, id, chunks, limit, { sync: true });
        if (await intact(path, id)) return size;
        await rename(temp, path);
      } finally {
        await rm(temp, { force: true });
      }
      await syncDirectory(directory);
      return size;
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
      return pathExists(pathOf(id));
    },

    async delete(id) {
      await rm(pathOf(id), { force: true });
    },
  };
}

/**
 * Content addressing makes a second write of the same id a no-op, but only if the copy on disk is
 * intact; a damaged copy is replaced by the verified upload.
 */
async function intact(path: string, id: Sha256Hex): Promise<boolean> {
  if (!(await pathExists(path))) return false;
  // Streamed: a re-upload of a large blob must not read the stored copy into memory whole.
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `0x${hash.digest("hex")}` === id;
}

