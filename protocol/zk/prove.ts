/**
 * Membership proofs: Semaphore v4 Groth16 proofs at depth 20 with the pinned circuit files
 * (never the CDN @semaphore-protocol/proof falls back to), off-chain verification, and the
 * tuple form the contracts take (ISemaphore.SemaphoreProof).
 *
 * `scope` and `message` are the values the contracts compare (already `>> 8`, see predict.ts and
 * access.ts); Semaphore hashes each once more into the circuit's public inputs, on-chain too.
 */
import { Group } from "@semaphore-protocol/group";
import type { Identity } from "@semaphore-protocol/identity";
import { generateProof, verifyProof } from "@semaphore-protocol/proof";

import { SEMAPHORE_DEPTH, type SemaphoreArtifacts } from "./artifacts.js";
import { ZkNotMemberError } from "./errors.js";
import type { SemaphoreProof } from "./proofFormat.js";

export { toSolidityProof, type SemaphoreProof, type SolidityProof } from "./proofFormat.js";

export { Group };

export type ProveMembershipParameters = {
  identity: Identity;
  /** The group as rebuilt from the chain (groupHistory.ts), or its members in leaf order (0 for a removed leaf). */
  group: Group | readonly bigint[];
  message: bigint;
  scope: bigint;
  /** The checked circuit files (artifacts.ts). */
  artifacts: SemaphoreArtifacts;
};

/**
 * A proof that `identity` is in `group`, naming neither. ~1.6 s in Node, longer in a browser.
 * Throws ZK_NOT_MEMBER when the identity's commitment is not a leaf of the group.
 */
export async function proveMembership(parameters: ProveMembershipParameters): Promise<SemaphoreProof> {
  const group = parameters.group instanceof Group ? parameters.group : new Group([...parameters.group]);
  const index = group.indexOf(parameters.identity.commitment);
  if (index < 0) throw new ZkNotMemberError(parameters.identity.commitment, group.size);
  const merkleProof = group.generateMerkleProof(index);
  // snarkjs reads `wasm` and `zkey` through fastfile, which takes bytes as readily as paths; the
  // typings only say string. Bytes mean the digests checked are those of what is proven with.
  const artifacts = parameters.artifacts as unknown as { wasm: string; zkey: string };
  return (await generateProof(parameters.identity, merkleProof, parameters.message, parameters.scope, SEMAPHORE_DEPTH, artifacts)) as SemaphoreProof;
}

/**
 * Whether the proof verifies (Groth16, Semaphore's verification key for its depth). Says nothing
 * about the root: whether it is, or recently was, the group's on-chain root is the contract's
 * check (PrivacyGroups.verifyMembership). A structurally broken proof gives false, not an error.
 */
export async function verifyOffChain(proof: SemaphoreProof): Promise<boolean> {
  try {
    return await verifyProof(proof as Parameters<typeof verifyProof>[0]);
  } catch {
    return false;
  }
}

/**
 * Ends snarkjs' worker threads. snarkjs builds the BN254 curve once, with a pool of workers, and
 * keeps it in `globalThis.curve_bn128` for the next proof; in Node those workers keep the process
 * alive after its last proof, so a CLI or script calls this when it is done proving. The next
 * proof builds the curve again (~100 ms).
 */
export async function releaseProver(): Promise<void> {
  const holder = globalThis as { curve_bn128?: { terminate(): Promise<void> } | null };
  await holder.curve_bn128?.terminate();
}
