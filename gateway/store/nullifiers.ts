import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";

import { createFileExclusive, TEMP_PREFIX } from "../../core/node/atomicFile.js";

/**
 * The Semaphore nullifiers of every group access the gateway accepted. A proof's nullifier is
 * fixed by its scope (fresh per access) and the member's identity, so a second request with a
 * nullifier already here is that proof replayed (or the member re-using a nonce): refused.
 */
export type NullifierStore = {
  /**
   * Records `nullifier` (0x + 64 lower-case hex) as used, durably, before the access it belongs to
   * is served. False, and nothing changes, when it was already recorded: the first claim wins,
   * also between concurrent requests.
   */
  claim(nullifier: string, record: { groupId: string; timestamp: number }): Promise<boolean>;
};

const NULLIFIER = /^0x[0-9a-f]{64}$/;

/**
 * One file per nullifier under `directory`, created with createFileExclusive (temp file, fsync,
 * hard link that fails if the name exists, fsync of the directory): a crash leaves the nullifier
 * either recorded or not, never half-written, and a restart forgets none. The file holds the group
 * and the proof's timestamp, for an operator; only its existence is the answer.
 *
 * One file per access is fine at research-access rates (each access costs its member a ~1.5 s
 * proof). Entries are kept for good; see docs/notes/access.md for the bound that would let them go.
 */
export async function openNullifierStore(directory: string): Promise<NullifierStore> {
  // Temp files of claims a crash interrupted: never linked, so never a recorded nullifier.
  const names = await readdir(directory).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [] as string[];
    throw error;
  });
  await Promise.all(names.filter((name) => name.startsWith(TEMP_PREFIX)).map((name) => rm(join(directory, name), { force: true })));
  return {
    async claim(nullifier, record) {
      if (!NULLIFIER.test(nullifier)) throw new TypeError(`not a nullifier word: ${nullifier}`);
      return createFileExclusive(join(directory, nullifier.slice(2)), `${JSON.stringify(record)}\n`);
    },
  };
}
