/**
 * A Semaphore proof's two shapes: as @semaphore-protocol/proof makes it, and as the contracts take
 * it. Apart from prove.ts so that code which only checks proofs (the gateway) does not load snarkjs.
 */

/**
 * @semaphore-protocol/proof's SemaphoreProof (its typings re-export it through an extension-less
 * path that Node16 resolution does not follow, so it is restated here). Numbers are decimal strings.
 */
export type SemaphoreProof = {
  merkleTreeDepth: number;
  merkleTreeRoot: string;
  nullifier: string;
  message: string;
  scope: string;
  points: [string, string, string, string, string, string, string, string];
};

/** ISemaphore.SemaphoreProof as ethers encodes it (uint256 fields, uint256[8] points). */
export type SolidityProof = {
  merkleTreeDepth: bigint;
  merkleTreeRoot: bigint;
  nullifier: bigint;
  message: bigint;
  scope: bigint;
  points: [bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint];
};

export function toSolidityProof(proof: SemaphoreProof): SolidityProof {
  return {
    merkleTreeDepth: BigInt(proof.merkleTreeDepth),
    merkleTreeRoot: BigInt(proof.merkleTreeRoot),
    nullifier: BigInt(proof.nullifier),
    message: BigInt(proof.message),
    scope: BigInt(proof.scope),
    points: proof.points.map((point: string) => BigInt(point)) as unknown as SolidityProof["points"],
  };
}

