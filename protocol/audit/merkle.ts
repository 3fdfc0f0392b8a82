import { bytesToHexString } from "../../core/bytes.js";
import { sha256 } from "../../core/hash.js";
import { hexToBytes } from "../../core/hex.js";

/**
 * A Certificate-Transparency Merkle tree over the audit log (RFC 9162 §2.1): leaf i hashes
 * 0x00 ‖ (entry i's 32-byte hash), an interior node 0x01 ‖ left ‖ right, and a tree of n leaves
 * splits at the largest power of two below n. What the gateway anchors on-chain is the tree head
 * (root, size); a patient checks an entry with an inclusion proof and an auditor checks that a
 * later head extends an anchored one with a consistency proof — both O(log n) hashes.
 */
export type MerkleTree = {
  /** Number of leaves. */
  size(): number;
  append(entryHash: string): void;
  /** The root of the first `size` leaves (default: all); SHA-256("") for an empty tree. */
  root(size?: number): string;
  /** Audit path of leaf `index` (0-based) in the tree of the first `size` leaves. */
  inclusionProof(index: number, size?: number): string[];
  /** Proof that the tree of `fromSize` leaves is a prefix of the tree of `toSize` leaves. */
  consistencyProof(fromSize: number, toSize?: number): string[];
};

const toHex = (bytes: Uint8Array) => `0x${bytesToHexString(bytes)}`;

export const EMPTY_TREE_ROOT = toHex(sha256(new Uint8Array()));

export function merkleLeafHash(entryHash: string): Uint8Array {
  const input = new Uint8Array(33); // 0x00 ‖ entry hash
  input.set(hexToBytes(entryHash, 32), 1);
  return sha256(input);
}

function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const input = new Uint8Array(65); // 0x01 ‖ left ‖ right
  input[0] = 1;
  input.set(left, 1);
  input.set(right, 33);
  return sha256(input);
}

/** Largest power of two strictly below n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * Keeps every perfect subtree (levels[h][i] = hash of leaves [i·2^h, (i+1)·2^h)), about two
 * hashes per leaf, so any root or proof takes O(log n) lookups and hashes instead of O(n).
 */
export function createMerkleTree(entryHashes: Iterable<string> = []): MerkleTree {
  const levels: Uint8Array[][] = [[]];

  function append(entryHash: string) {
    let hash = merkleLeafHash(entryHash);
    let height = 0;
    levels[0]!.push(hash);
    // Every time a level gains an even count, its last two nodes form a node one level up.
    while (levels[height]!.length % 2 === 0) {
      const level = levels[height]!;
      hash = nodeHash(level[level.length - 2]!, level[level.length - 1]!);
      height += 1;
      (levels[height] ??= []).push(hash);
    }
  }

  /** MTH(D[lo:hi]) where lo is a multiple of the split sizes the recursion produces. */
  function subtree(lo: number, hi: number): Uint8Array {
    const n = hi - lo;
    if ((n & (n - 1)) === 0) {
      const height = Math.log2(n);
      return levels[height]![lo / n]!;
    }
    const k = splitPoint(n);
    return nodeHash(subtree(lo, lo + k), subtree(lo + k, hi));
  }

  const checkSize = (size: number) => {
    const total = levels[0]!.length;
    if (!Number.isSafeInteger(size) || size < 0 || size > total) throw new RangeError(`tree size ${size} outside 0..${total}`);
  };

  function path(index: number, lo: number, hi: number): Uint8Array[] {
    if (hi - lo === 1) return [];
    const k = splitPoint(hi - lo);
    return index < lo + k ? [...path(index, lo, lo + k), subtree(lo + k, hi)] : [...path(index, lo + k, hi), subtree(lo, lo + k)];
  }

  /** RFC 9162 §2.1.4.1 SUBPROOF(m, D[lo:hi], b). */
  function subproof(m: number, lo: number, hi: number, complete: boolean): Uint8Array[] {
    const n = hi - lo;
    if (m === n) return complete ? [] : [subtree(lo, hi)];
    const k = splitPoint(n);
    return m <= k
      ? [...subproof(m, lo, lo + k, complete), subtree(lo + k, hi)]
      : [...subproof(m - k, lo + k, hi, false), subtree(lo, lo + k)];
  }

  for (const hash of entryHashes) append(hash);

  return {
    size: () => levels[0]!.length,
    append,
    root(size = levels[0]!.length) {
      checkSize(size);
      return size === 0 ? EMPTY_TREE_ROOT : toHex(subtree(0, size));
    },
    inclusionProof(index, size = levels[0]!.length) {
      checkSize(size);
      if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw new RangeError(`leaf ${index} outside a tree of ${size}`);
      return path(index, 0, size).map(toHex);
    },
    consistencyProof(fromSize, toSize = levels[0]!.length) {
      checkSize(toSize);
      if (!Number.isSafeInteger(fromSize) || fromSize < 0 || fromSize > toSize) throw new RangeError(`cannot prove ${fromSize} consistent with ${toSize}`);
      if (fromSize === 0 || fromSize === toSize) return [];
      return subproof(fromSize, 0, toSize, true).map(toHex);
    },
  };
}

/** RFC 9162 §2.1.3.2: does `proof` place `entryHash` at `index` in the tree with `root` and `size`? */
export function verifyInclusion(entryHash: string, index: number, size: number, proof: readonly string[], root: string): boolean {
  try {
    return inclusionHolds(entryHash, index, size, proof, root);
  } catch {
    return false; // malformed hex in the proof
  }
}

function inclusionHolds(entryHash: string, index: number, size: number, proof: readonly string[], root: string): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = merkleLeafHash(entryHash);
  for (const p of proof) {
    if (sn === 0) return false;
    const sibling = hexToBytes(p, 32);
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(sibling, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, sibling);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && toHex(r) === root.toLowerCase();
}

/** RFC 9162 §2.1.4.2: is the tree (`root2`, `size2`) an append-only extension of (`root1`, `size1`)? */
export function verifyConsistency(size1: number, size2: number, root1: string, root2: string, proof: readonly string[]): boolean {
  try {
    return consistencyHolds(size1, size2, root1, root2, proof);
  } catch {
    return false; // malformed hex in the proof
  }
}

function consistencyHolds(size1: number, size2: number, root1: string, root2: string, proof: readonly string[]): boolean {
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0 || size1 > size2) return false;
  if (size1 === size2) return proof.length === 0 && root1.toLowerCase() === root2.toLowerCase();
  if (size1 === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  let path: Uint8Array[] = proof.map((p) => hexToBytes(p, 32));
  // When size1 is a power of two, the old root itself is the first node of the path.
  if ((size1 & (size1 - 1)) === 0) path = [hexToBytes(root1, 32), ...path];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && toHex(fr) === root1.toLowerCase() && toHex(sr) === root2.toLowerCase();
}
