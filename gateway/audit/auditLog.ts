import { mkdir, open, readFile, truncate, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";

import { BaseError } from "../../core/errors.js";
import { sha256Hex, type Sha256Hex } from "../../core/hash.js";
import { createMerkleTree, verifyConsistency, verifyInclusion } from "./merkle.js";

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
 * Checks that every entry hashes correctly and links to the one before. Returns the tree head
 * (`head` = the Merkle root over all entries, `seq` = their number). Pass `anchored` (a tree head
 * as AuditLogAnchor holds it: `seq` = size, `head` = root) to also prove that the first `seq`
 * entries are exactly the ones anchored (none edited, dropped or inserted since the anchor).
 */
export function verifyAuditChain(
  entries: readonly AuditEntry[],
  anchored?: { seq: number; head: string },
): { seq: number; head: string } {
  let prev: Sha256Hex = GENESIS_HASH;
  const tree = createMerkleTree();
  entries.forEach((entry, index) => {
    if (entry.seq !== index + 1) throw new AuditLogCorruptError({ seq: entry.seq, problem: `expected sequence ${index + 1}` });
    if (entry.prev !== prev) throw new AuditLogCorruptError({ seq: entry.seq, problem: "prev does not match the previous hash" });
    const { hash: _hash, ...rest } = entry;
    if (hashAuditEntry(rest) !== entry.hash) throw new AuditLogCorruptError({ seq: entry.seq, problem: "hash does not match content" });
    tree.append(entry.hash);
    prev = entry.hash;
  });
  if (anchored && anchored.seq > 0) {
    if (anchored.seq > entries.length) throw new AuditLogCorruptError({ seq: anchored.seq, problem: "anchored entries missing from the log" });
    if (tree.root(anchored.seq) !== anchored.head.toLowerCase()) throw new AuditLogCorruptError({ seq: anchored.seq, problem: "the log's tree head differs from the anchored one" });
  }
  return { seq: entries.length, head: tree.root() };
}

/**
 * What `GET /v1/audit` returns to a patient: their own entries in full, each with its Merkle
 * inclusion proof in the tree head `tree`, and — when the request named the anchored size
 * (`since`) — the consistency proof from that anchored tree to `tree`. O(log n) hashes per
 * entry instead of every entry's hash.
 */
export type AuditProof = {
  owner: string;
  tree: { size: number; root: string };
  entries: AuditEntry[];
  /** `inclusion[i]`: the audit path of `entries[i]` (leaf `seq - 1`) in `tree`. */
  inclusion: string[][];
  consistency?: { fromSize: number; proof: string[] };
};

/**
 * What a patient can check without seeing other patients' entries: each own entry hashes to its
 * content and sits at its sequence number in the tree the gateway presents; with `anchored` (the
 * on-chain tree head), that tree is an append-only extension of the anchored one, so the entries
 * up to the anchor are the ones the gateway committed to on-chain. Throws AuditLogCorruptError.
 */
export function verifyAuditProof(proof: AuditProof, anchored?: { seq: number; head: string }): void {
  const { size, root } = proof.tree;
  if (proof.inclusion.length !== proof.entries.length) throw new AuditLogCorruptError({ seq: 0, problem: "one inclusion proof per entry expected" });
  proof.entries.forEach((entry, i) => {
    const { hash: _hash, ...rest } = entry;
    if (hashAuditEntry(rest) !== entry.hash) throw new AuditLogCorruptError({ seq: entry.seq, problem: "hash does not match content" });
    if (!verifyInclusion(entry.hash, entry.seq - 1, size, proof.inclusion[i]!, root)) {
      throw new AuditLogCorruptError({ seq: entry.seq, problem: "not included in the presented tree head" });
    }
  });
  if (anchored && anchored.seq > 0) {
    const consistency = proof.consistency;
    if (!consistency || consistency.fromSize !== anchored.seq) throw new AuditLogCorruptError({ seq: anchored.seq, problem: "no consistency proof from the anchored tree head" });
    if (!verifyConsistency(anchored.seq, size, anchored.head, root, consistency.proof)) {
      throw new AuditLogCorruptError({ seq: anchored.seq, problem: "the presented tree does not extend the anchored one" });
    }
  }
}

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
  /** Flushes to disk (fsync): call before anchoring the head. */
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
