/**
 * The gateway's audit entries and the proofs a patient checks about them: shared by the gateway
 * (which writes the log, gateway/audit/auditLog.ts) and every client that verifies it.
 */
import { BaseError } from "../../core/errors.js";
import { sha256Hex, type Sha256Hex } from "../../core/hash.js";
import { createMerkleTree, verifyConsistency, verifyInclusion } from "./merkle.js";

/** One access decision. Addresses, ids and codes only: never content, never keys. */
export type AuditEntryInput = {
  /** Who accessed: an address, or, when `actorKind` is "nullifier", a Semaphore nullifier (0x + 64 hex). */
  actor: string;
  /** "list": a share listing (`GET /v1/shares`); its `blobId` is the `ref` listed under. */
  action: "read" | "write" | "audit-read" | "list";
  blobId: string;
  /** The blob's owner (patient), when known. */
  owner: string | null;
  purpose: number;
  outcome: "granted" | "refused";
  /** Error code when refused, or the rule that granted ("owner", "device", "consent", "oracle", "private-consent", "group-consent"). */
  reason: string;
  /**
   * Absent for an actor known by address (every entry before issue 12 and all signed requests).
   * "nullifier": an anonymous member of the consent group `group` (a decimal Semaphore group id)
   * proved membership for this one access; `actor` is the proof's nullifier, which names no member
   * and is new for every access (its scope is fresh), so entries cannot be linked to each other.
   */
  actorKind?: "nullifier";
  group?: string;
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
  const fields: unknown[] = [
    entry.seq, entry.time, entry.prev, entry.actor, entry.action, entry.blobId, entry.owner,
    entry.purpose, entry.outcome, entry.reason,
  ];
  // Appended only when present, so every entry written before anonymous accessors existed (and
  // every address entry since) hashes exactly as it always did: old logs and anchors stay valid.
  if (entry.actorKind !== undefined || entry.group !== undefined) fields.push(entry.actorKind ?? null, entry.group ?? null);
  const canonical = JSON.stringify(fields);
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
