import { execFile } from "node:child_process";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

export type Tmpfs = { dir: string; unmount(): Promise<void> };

/**
 * A small tmpfs of its own (real ENOSPC when full, real EROFS when read-only). Needs root
 * (CI and the dev machine run as root); resolves to undefined otherwise, so the caller can skip.
 */
export async function mountTmpfs(options: { sizeKiB: number; readOnly?: boolean }): Promise<Tmpfs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const dir = await mkdtemp(join(tmpdir(), "medcipher-tmpfs-"));
  const flags = `size=${options.sizeKiB}k${options.readOnly ? ",ro" : ""}`;
  try {
    await promisify(execFile)("mount", ["-t", "tmpfs", "-o", flags, "tmpfs", dir]);
  } catch {
    await rm(dir, { recursive: true, force: true });
    return undefined;
  }
  return {
    dir,
    async unmount() {
      await promisify(execFile)("umount", [dir]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Writes a file until the file system refuses with ENOSPC; returns its path (delete it to free the space). */
export async function fillDisk(dir: string): Promise<string> {
  const path = join(dir, "filler");
  const file = await open(path, "w");
  try {
    for (const size of [64 * 1024, 4096, 1]) {
      const chunk = Buffer.alloc(size);
      for (;;) {
        try {
          const { bytesWritten } = await file.write(chunk);
          if (bytesWritten < size) break;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === "ENOSPC") break;
          throw error;
        }
      }
    }
  } finally {
    await file.close();
  }
  return path;
}
