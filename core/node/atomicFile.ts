import { randomBytes } from "node:crypto";
import { link, mkdir, open, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";

/**
 * Writes `bytes` to `path` so that a crash leaves either the old file or the complete new one:
 * write a temp file in the same directory, fsync it, rename it over the target, fsync the directory.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const directory = dirname(path);
  const temp = await writeSyncedTemp(directory, bytes);
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncDirectory(directory);
}

/** A temp file name in `directory`; start-up cleaning removes any a crash left behind. */
export function tempPathIn(directory: string): string {
  return join(directory, `${TEMP_PREFIX}${randomBytes(8).toString("hex")}`);
}

export const TEMP_PREFIX = ".tmp-";

/** Writes `bytes` to a new temp file in `directory` and fsyncs it; removes it again on failure. */
async function writeSyncedTemp(directory: string, bytes: Uint8Array | string): Promise<string> {
  await mkdir(directory, { recursive: true });
  const temp = tempPathIn(directory);
  try {
    const file = await open(temp, "wx", 0o600);
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  return temp;
}

/** Whether `path` exists (any other error than ENOENT is thrown, not taken for "no"). */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}

/**
 * Creates `path` with `bytes` only if it does not exist yet, atomically (a hard link of a fully
 * written temp file fails with EEXIST when another writer got there first). Returns false, and
 * changes nothing, when the file already existed: the first writer wins, whatever the timing.
 */
export async function createFileExclusive(path: string, bytes: Uint8Array | string): Promise<boolean> {
  const directory = dirname(path);
  const temp = await writeSyncedTemp(directory, bytes);
  try {
    try {
      await link(temp, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw error;
    }
  } finally {
    await rm(temp, { force: true });
  }
  await syncDirectory(directory);
  return true;
}

export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
