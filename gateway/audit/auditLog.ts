import { mkdir, open, readFile, truncate, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";

import type { Sha256Hex } from "../../core/hash.js";
import { createMerkleTree } from "../../protocol/audit/merkle.js";
import { AuditLogCorruptError, GENESIS_HASH, hashAuditEntry, verifyAuditChain, type AuditEntry, type AuditEntryInput } from "../../protocol/audit/entries.js";

export type AuditLog = {
  append(input: AuditEntryInput): Promise<AuditEntry>;
  /** The tree head of everything written: `seq` entries, `head` their Merkle root (what is anchored). */
  head(): { seq: number; head: string };
  /** All entries (the file is the source of truth; this re-reads it). */
  entries(): Promise<AuditEntry[]>;
  /** Inclusion proof of entry `seq` in the tree of the first `size` entries. */
  inclusionProof(seq: number, size: number): string[];
  /** Consistency proof from the tree of `fromSize` entries to that of `toSize`. */
  consistencyProof(fromSize: number, toSize: number): string[];
  /** Merkle root of the first `size` entries. */
  root(size: number): string;
  /**
   * Brings `head`, `root` and the proofs up to date with entries written elsewhere (by other
   * replicas on a shared log); a no-op for a log only this process writes.
   */
  refresh(): Promise<void>;
  /** Makes everything appended durable (fsync; catch-up on a shared log): call before anchoring the head. */
  sync(): Promise<void>;
  close(): Promise<void>;
};

/**
 * Append-only JSONL, one entry per line, each hashing the previous, with a Merkle tree over the
 * entry hashes kept in memory (rebuilt on open). On open the whole file is verified; a torn last
 * line (crash mid-append) is cut, any other damage refuses to open.
 *
 * Entries are chained in call order and written with group commit (one write per burst); a
 * request is answered only after its entry is written. An entry is chained to the last entry
 * *on disk* when its batch is written, and the sequence number, hash chain and tree advance only
 * once every byte of the batch is written: a failed or short write (ENOSPC) is cut back off the
 * file and fails every append of the batch, so a full disk never tears the log and nothing a
 * caller was told is written goes missing. Entries are fsynced only by `sync()` (before each
 * anchor), trading the last unanchored entries on power loss for throughput.
 */
export async function openAuditLog(path: string, options: { now?: () => Date } = {}): Promise<AuditLog> {
  const now = options.now ?? (() => new Date());
  await mkdir(dirname(path), { recursive: true });
  const existing = await loadEntries(path, { repairTornTail: true });
  verifyAuditChain(existing);
  let seq = existing.length;
  let last: Sha256Hex = existing.at(-1)?.hash ?? GENESIS_HASH;
  const tree = createMerkleTree(existing.map((e) => e.hash));
  const file: FileHandle = await open(path, "a", 0o600);
  let fileBytes = (await file.stat()).size;
  // Set when a failed write could not be cut back off: nothing more may be appended after it.
  let broken: unknown;
  // Group commit: inputs appended while a write is in flight go out together in the next write,
  // so concurrent requests share one write call instead of queueing one each.
  let pending: { input: AuditEntryInput; time: string; done: (entry: AuditEntry) => void; failed: (error: unknown) => void }[] = [];
  let writing: Promise<void> | undefined;

  async function writeBatch(batch: typeof pending): Promise<void> {
    if (broken !== undefined) throw broken;
    const entries: AuditEntry[] = [];
    let prev = last;
    for (const [i, p] of batch.entries()) {
      const body = { ...p.input, seq: seq + i + 1, time: p.time, prev };
      const entry: AuditEntry = { ...body, hash: hashAuditEntry(body) };
      entries.push(entry);
      prev = entry.hash;
    }
    const bytes = Buffer.from(entries.map((e) => `${JSON.stringify(e)}\n`).join(""));
    try {
      await writeFully(file, bytes);
    } catch (error) {
      try {
        await file.truncate(fileBytes);
      } catch (truncateError) {
        broken = error;
        throw new AggregateError([error, truncateError], "audit log write failed and could not be cut back; restart the gateway");
      }
      throw error;
    }
    fileBytes += bytes.length;
    for (const entry of entries) tree.append(entry.hash);
    seq += entries.length;
    last = prev;
    batch.forEach((p, i) => p.done(entries[i]!));
  }

  function flush(): Promise<void> {
    if (writing) return writing;
    if (pending.length === 0) return Promise.resolve();
    const batch = pending;
    pending = [];
    writing = writeBatch(batch).catch((error: unknown) => batch.forEach((p) => p.failed(error))).finally(() => {
      writing = undefined;
      if (pending.length > 0) void flush();
    });
    return writing;
  }

  async function drain(): Promise<void> {
    while (writing || pending.length > 0) await flush();
  }

  return {
    append(input) {
      return new Promise<AuditEntry>((resolve, reject) => {
        pending.push({ input, time: now().toISOString(), done: resolve, failed: reject });
        void flush();
      });
    },
    head: () => ({ seq, head: tree.root() }),
    async entries() {
      await drain();
      return loadEntries(path, { repairTornTail: false });
    },
    inclusionProof: (entrySeq, size) => tree.inclusionProof(entrySeq - 1, size),
    consistencyProof: (fromSize, toSize) => tree.consistencyProof(fromSize, toSize),
    root: (size) => tree.root(size),
    async refresh() {},
    async sync() {
      await drain();
      await file.sync();
    },
    async close() {
      await drain();
      await file.sync().catch(() => undefined);
      await file.close();
    },
  };
}

/** Writes all of `bytes` at the end of the file: a short write is continued, never ignored. */
async function writeFully(file: FileHandle, bytes: Buffer): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await file.write(bytes, offset, bytes.length - offset);
    if (bytesWritten === 0) throw Object.assign(new Error("audit log write made no progress"), { code: "ENOSPC" });
    offset += bytesWritten;
  }
}

/** Reads a log file written by `openAuditLog` (for auditors and the export). */
export async function readAuditLogFile(path: string): Promise<AuditEntry[]> {
  return loadEntries(path, { repairTornTail: false });
}

async function loadEntries(path: string, options: { repairTornTail: boolean }): Promise<AuditEntry[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const complete = text.endsWith("\n") || text.length === 0 ? text : text.slice(0, text.lastIndexOf("\n") + 1);
  if (complete.length !== text.length && options.repairTornTail) await truncate(path, Buffer.byteLength(complete));
  return complete.split("\n").filter((line) => line.length > 0).map((line, index) => {
    try {
      return JSON.parse(line) as AuditEntry;
    } catch {
      throw new AuditLogCorruptError({ seq: index + 1, problem: "line is not JSON" });
    }
  });
}
