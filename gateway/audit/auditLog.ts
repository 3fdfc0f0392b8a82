import { open, readFile, truncate, type FileHandle } from "node:fs/promises";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";

import { BaseError } from "../../core/errors.js";
import { sha256Hex, type Sha256Hex } from "../../core/hash.js";

/** One access decision. Addresses, ids and codes only: never content, never keys. */
export type AuditEntryInput = {
  actor: string;
  action: "read" | "write" | "audit-read";
  blobId: string;
  /** The blob's owner (patient), when known. */
  owner: string | null;
  purpose: number;
  outcome: "granted" | "refused";
  /** Error code when refused, or the rule that granted ("owner", "device", "consent", "oracle"). */
  reason: string;
};

export type AuditEntry = AuditEntryInput & {
  seq: number;
  time: string;
  /** Hash of the previous entry (zero hash for the first). */
  prev: Sha256Hex;
  /** SHA-256 of this entry's canonical JSON without `hash`. */
  hash: Sha256Hex;
};

export const GENESIS_HASH = `0x${"0".repeat(64)}` as Sha256Hex;

export class AuditLogCorruptError extends BaseError {
  override name = "AuditLogCorruptError";
  constructor(details: { seq: number; problem: string }) {
    super(`Audit log entry ${details.seq} breaks the hash chain: ${details.problem}.`, { code: "AUDIT_LOG_CORRUPT", details });
  }
}

/** Field order is fixed here so the hash does not depend on how an entry was built. */
export function hashAuditEntry(entry: Omit<AuditEntry, "hash">): Sha256Hex {
  const canonical = JSON.stringify([
    entry.seq, entry.time, entry.prev, entry.actor, entry.action, entry.blobId, entry.owner,
    entry.purpose, entry.outcome, entry.reason,
  ]);
  return sha256Hex(new TextEncoder().encode(canonical));
}

/**
 * Checks that every entry hashes correctly and links to the one before. Returns the head.
 * Pass `anchored` to also prove that the chain contains the anchored head at that sequence
 * number (so the entries up to it were not edited since the anchor).
 */
export function verifyAuditChain(
  entries: readonly AuditEntry[],
  anchored?: { seq: number; head: string },
): { seq: number; head: Sha256Hex } {
  let prev: Sha256Hex = GENESIS_HASH;
  let anchorSeen = anchored === undefined || anchored.seq === 0;
  entries.forEach((entry, index) => {
    if (entry.seq !== index + 1) throw new AuditLogCorruptError({ seq: entry.seq, problem: `expected sequence ${index + 1}` });
    if (entry.prev !== prev) throw new AuditLogCorruptError({ seq: entry.seq, problem: "prev does not match the previous hash" });
    const { hash: _hash, ...rest } = entry;
    if (hashAuditEntry(rest) !== entry.hash) throw new AuditLogCorruptError({ seq: entry.seq, problem: "hash does not match content" });
    if (anchored && entry.seq === anchored.seq) {
      if (entry.hash !== anchored.head.toLowerCase()) throw new AuditLogCorruptError({ seq: entry.seq, problem: "differs from the anchored head" });
      anchorSeen = true;
    }
    prev = entry.hash;
  });
  if (!anchorSeen) throw new AuditLogCorruptError({ seq: anchored?.seq ?? 0, problem: "anchored entry missing from the log" });
  return { seq: entries.length, head: prev };
}

/**
 * What a patient can check without seeing other patients' entries: their own entries in full, and
 * the hash of every entry of the log (`hashes[i]` = hash of entry i + 1). Each own entry must hash
 * to its slot and link to the slot before; the slot at the anchored count must be the anchored head.
 */
export function verifyAuditProof(
  entries: readonly AuditEntry[],
  hashes: readonly string[],
  anchored?: { seq: number; head: string },
): void {
  for (const entry of entries) {
    const { hash: _hash, ...rest } = entry;
    const expectedPrev = entry.seq === 1 ? GENESIS_HASH : hashes[entry.seq - 2];
    if (entry.prev !== expectedPrev) throw new AuditLogCorruptError({ seq: entry.seq, problem: "does not link to the previous entry" });
    if (hashAuditEntry(rest) !== entry.hash || hashes[entry.seq - 1] !== entry.hash) {
      throw new AuditLogCorruptError({ seq: entry.seq, problem: "hash does not match content or its slot" });
    }
  }
  if (anchored && anchored.seq > 0 && hashes[anchored.seq - 1] !== anchored.head.toLowerCase()) {
    throw new AuditLogCorruptError({ seq: anchored.seq, problem: "differs from the anchored head" });
  }
}

export type AuditLog = {
  append(input: AuditEntryInput): Promise<AuditEntry>;
  head(): { seq: number; head: Sha256Hex };
  /** All entries (the file is the source of truth; this re-reads it). */
  entries(): Promise<AuditEntry[]>;
  /** Flushes to disk (fsync): call before anchoring the head. */
  sync(): Promise<void>;
  close(): Promise<void>;
};

/**
 * Append-only JSONL, one entry per line, each hashing the previous. On open the whole file is
 * verified; a torn last line (crash mid-append) is cut, any other damage refuses to open.
 * Entries are chained in call order and written with group commit (one write per burst); a
 * request is answered only after its entry is written. They are fsynced only by `sync()` (before
 * each anchor), trading the last unanchored entries on power loss for throughput.
 */
export async function openAuditLog(path: string, options: { now?: () => Date } = {}): Promise<AuditLog> {
  const now = options.now ?? (() => new Date());
  await mkdir(dirname(path), { recursive: true });
  const existing = await loadEntries(path, { repairTornTail: true });
  let { seq, head } = verifyAuditChain(existing);
  const file: FileHandle = await open(path, "a", 0o600);
  // Group commit: lines appended while a write is in flight go out together in the next write,
  // so concurrent requests share one write call instead of queueing one each.
  let pending: { line: string; done: () => void; failed: (error: unknown) => void }[] = [];
  let writing: Promise<void> | undefined;

  function flush(): Promise<void> {
    if (writing) return writing;
    if (pending.length === 0) return Promise.resolve();
    const batch = pending;
    pending = [];
    writing = file.write(batch.map((p) => p.line).join("")).then(
      () => batch.forEach((p) => p.done()),
      (error: unknown) => batch.forEach((p) => p.failed(error)),
    ).finally(() => {
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
      seq += 1;
      const body = { ...input, seq, time: now().toISOString(), prev: head };
      const entry: AuditEntry = { ...body, hash: hashAuditEntry(body) };
      head = entry.hash;
      return new Promise<AuditEntry>((resolve, reject) => {
        pending.push({ line: `${JSON.stringify(entry)}\n`, done: () => resolve(entry), failed: reject });
        void flush();
      });
    },
    head: () => ({ seq, head }),
    async entries() {
      await drain();
      return loadEntries(path, { repairTornTail: false });
    },
    async sync() {
      await drain();
      await file.sync();
    },
    async close() {
      await drain();
      await file.sync();
      await file.close();
    },
  };
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
