/**
 * Which of the epoch's slots an anonymous request may spend. Each slot's nullifier is the
 * identity's for that slot's scope, so the client computes it without proving: Semaphore v4's
 * circuit outputs nullifier = Poseidon(scopeHash, secretScalar), scopeHash = keccak256(bytes32
 * scope) >> 8 (@semaphore-protocol/proof's `hash`). A slot is free when the request id its
 * nullifier gives is unknown to the router (status None). test/relayer/sdkPrivacy.test.ts checks
 * this value against a real proof's nullifier.
 */
import { keccak256, toBeHex } from "ethers";
import { poseidon2 } from "poseidon-lite/poseidon2";

import { BaseError } from "../../core/errors.js";
import type { Identity } from "../../protocol/zk/identity.js";
import { anonymousRequestIdFor, anonymousScope } from "../../protocol/zk/predict.js";
import { RequestStatus } from "../../protocol/codes.js";

/** The nullifier `identity`'s proof for `scope` will carry. */
export function anonymousNullifier(identity: Pick<Identity, "secretScalar">, scope: bigint): bigint {
  const scopeHash = BigInt(keccak256(toBeHex(scope, 32))) >> 8n;
  return poseidon2([scopeHash, identity.secretScalar]);
}

export type SlotRouter = {
  getAddress(): Promise<string>;
  anonymousRequestsPerEpoch(): Promise<bigint>;
  getRequest(requestId: string): Promise<{ status: bigint }>;
};

export type FreeSlot = { slot: number; nullifier: bigint; requestId: string };

/** Every slot of `epoch` is spent: the patient's anonymous budget for the epoch is used up. */
export class NoFreeSlotError extends BaseError {
  override name = "NoFreeSlotError";
  constructor(epoch: number, perEpoch: number) {
    super(`All ${perEpoch} anonymous request slots of epoch ${epoch} are used; try in the next epoch.`, { code: "SDK_NO_FREE_SLOT", details: { epoch, perEpoch } });
  }
}

/** The lowest slot of `epoch` whose request id the router does not know. */
export async function findFreeSlot(parameters: { router: SlotRouter; chainId: bigint | number; identity: Pick<Identity, "secretScalar">; epoch: number; skip?: readonly number[] }): Promise<FreeSlot> {
  const router = await parameters.router.getAddress();
  const perEpoch = Number(await parameters.router.anonymousRequestsPerEpoch());
  for (let slot = 0; slot < perEpoch; slot++) {
    if (parameters.skip?.includes(slot)) continue;
    const nullifier = anonymousNullifier(parameters.identity, anonymousScope({ chainId: parameters.chainId, router }, parameters.epoch, slot));
    const requestId = anonymousRequestIdFor(router, nullifier);
    if (Number((await parameters.router.getRequest(requestId)).status) === RequestStatus.None) return { slot, nullifier, requestId };
  }
  throw new NoFreeSlotError(parameters.epoch, perEpoch);
}
