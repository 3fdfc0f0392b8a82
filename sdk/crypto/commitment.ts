/**
 * Salted commitments and Merkle batches, matching contracts/records (docs/contracts.md):
 * - record id = SHA-256(salt ‖ sealed record bytes), salt = 32 fresh random bytes;
 * - batch leaves = OpenZeppelin StandardMerkleTree with leaf type ["bytes32"]:
 *   leaf = keccak256(bytes.concat(keccak256(abi.encode(readingId)))), inner = keccak256(sorted(a, b)).
 */
import { concat, getBytes, hexlify, keccak256 } from "ethers";

import { sha256Hex, type Sha256Hex } from "../../core/hash.js";

export function newSalt(): string {
  return hexlify(globalThis.crypto.getRandomValues(new Uint8Array(32)));
}

export function recordCommitment(salt: string, sealed: Uint8Array): Sha256Hex {
  return sha256Hex(getBytes(concat([getBytes(salt), sealed])));
}

export function merkleLeaf(readingId: string): string {
  // abi.encode(bytes32) is the 32 bytes themselves.
  return keccak256(keccak256(getBytes(readingId)));
}

function hashPair(a: string, b: string): string {
  return a.toLowerCase() < b.toLowerCase() ? keccak256(concat([a, b])) : keccak256(concat([b, a]));
}

export type MerkleBatch = { root: string; proofs: string[][]; leaves: string[] };

/**
 * Builds a tree over `readingIds` (in the given order) and the proof of each. Any tree built with
 * sorted-pair hashing verifies with MerkleProof.verify; an odd node is carried up unchanged.
 */
export function buildMerkleBatch(readingIds: readonly string[]): MerkleBatch {
  if (readingIds.length === 0) throw new RangeError("A batch needs at least one reading.");
  const leaves = readingIds.map(merkleLeaf);
  const proofs: string[][] = leaves.map(() => []);
  let level = leaves.map((hash, index) => ({ hash, members: [index] }));
  while (level.length > 1) {
    const next: typeof level = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i]!;
      const right = level[i + 1];
      if (!right) {
        next.push(left);
        continue;
      }
      for (const m of left.members) proofs[m]!.push(right.hash);
      for (const m of right.members) proofs[m]!.push(left.hash);
      next.push({ hash: hashPair(left.hash, right.hash), members: [...left.members, ...right.members] });
    }
    level = next;
  }
  return { root: level[0]!.hash, proofs, leaves };
}

/** Mirrors MerkleProof.verify(proof, root, leaf(readingId)). */
export function verifyMerkleProof(root: string, readingId: string, proof: readonly string[]): boolean {
  const computed = proof.reduce((acc, sibling) => hashPair(acc, sibling), merkleLeaf(readingId));
  return computed.toLowerCase() === root.toLowerCase();
}
