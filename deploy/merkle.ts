/**
 * The Merkle tree RecordRegistry batches are checked against: OpenZeppelin StandardMerkleTree
 * with leaf type ["bytes32"] — leaf = keccak256(keccak256(abi.encode(readingId))), inner node =
 * keccak256 of the sorted pair. A small reference implementation (no dependency).
 */
import { AbiCoder, concat, keccak256 } from "ethers";

export function readingLeaf(readingId: string): string {
  return keccak256(keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32"], [readingId])));
}

function hashPair(a: string, b: string): string {
  return BigInt(a) < BigInt(b) ? keccak256(concat([a, b])) : keccak256(concat([b, a]));
}

export type ReadingTree = {
  root: string;
  /** Sibling path of the reading at `index` (in the order given to buildReadingTree). */
  proof(index: number): string[];
};

/** Builds the tree over readings in the given order (odd nodes are carried up unchanged). */
export function buildReadingTree(readingIds: readonly string[]): ReadingTree {
  if (readingIds.length === 0) throw new RangeError("a batch needs at least one reading");
  const levels: string[][] = [readingIds.map(readingLeaf)];
  while (levels[levels.length - 1]!.length > 1) {
    const below = levels[levels.length - 1]!;
    const above: string[] = [];
    for (let i = 0; i < below.length; i += 2) {
      above.push(i + 1 < below.length ? hashPair(below[i]!, below[i + 1]!) : below[i]!);
    }
    levels.push(above);
  }
  return {
    root: levels[levels.length - 1]![0]!,
    proof(index: number): string[] {
      const path: string[] = [];
      let i = index;
      for (const level of levels.slice(0, -1)) {
        const sibling = i ^ 1;
        if (sibling < level.length) path.push(level[sibling]!);
        i >>= 1;
      }
      return path;
    },
  };
}
