import { createHash } from "node:crypto";
import { open } from "node:fs/promises";

import type { Sha256Hex } from "../../core/hash.js";
import { BlobIntegrityError, BlobTooLargeError } from "../errors.js";

/**
 * Writes a streamed upload to a new file at `path` (mode 0600; fails if it exists) while counting
 * and hashing it, and returns its size once the bytes are `id`'s: the step every blob store takes
 * before a blob becomes visible (the directory store renames the file into place, the S3 store
 * sends it). Over `limit.maxBytes` is a BlobTooLargeError as soon as the limit is passed, a
 * digest other than `id` a BlobIntegrityError. The file is left for the caller to remove either way.
 */
export async function spoolVerified(path: string, id: Sha256Hex, chunks: AsyncIterable<Uint8Array>, limit: { maxBytes: number; kind: string }, options: { sync: boolean }): Promise<number> {
  const hash = createHash("sha256");
  let size = 0;
  const file = await open(path, "wx", 0o600);
  try {
    for await (const chunk of chunks) {
      size += chunk.length;
      if (size > limit.maxBytes) throw new BlobTooLargeError({ kind: limit.kind, maxBytes: limit.maxBytes, bytes: size });
      hash.update(chunk);
      await file.writeFile(chunk);
    }
    const actual: Sha256Hex = `0x${hash.digest("hex")}`;
    if (actual !== id) throw new BlobIntegrityError({ blobId: id, actual, where: "upload" });
    if (options.sync) await file.sync();
  } finally {
    await file.close();
  }
  return size;
}
