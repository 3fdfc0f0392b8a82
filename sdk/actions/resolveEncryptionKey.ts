import { getAddress, getBytes, keccak256, ZeroHash } from "ethers";

import type { MedCipherClient } from "../client.js";
import { HYBRID_PUBLIC_KEY_BYTES } from "../crypto/hybrid.js";
import { IntegrityError, InvalidInputError } from "../errors.js";
import { NO_ENCRYPTION_KEY } from "./delegateRecordKey.js";

/**
 * The key to wrap for `account`, best first: its published hybrid (X25519 ‖ ML-KEM-768, 1216 B)
 * key, else the X25519 key it registered as a patient (32 B), else InvalidInputError with
 * `details.reason` NO_ENCRYPTION_KEY. `wrapDataKey` and `sealBox` pick the wrap by the length.
 *
 * The hybrid key is read from its `HybridEncryptionKeyPublished` event (the contract stores only
 * its hash) and checked against `hybridEncryptionKeyOf(account).keyHash`: an RPC node that returns
 * another key (one it holds the secret of) gets an IntegrityError, not a wrap.
 *
 * @example
 * const key = await resolveEncryptionKey(client, clinician); // 1216 bytes once the clinician published a hybrid key
 */
export async function resolveEncryptionKey(client: MedCipherClient, account: string): Promise<Uint8Array> {
  const who = getAddress(account);
  const hybrid = await publishedHybridKey(client, who);
  if (hybrid) return hybrid;
  const info = await client.contracts.identity.patientOf(who);
  if (info.registeredAt === 0n) {
    // The same words as registeredEncryptionKey's: a delegation report's `skipped[].reason` is this message.
    throw new InvalidInputError(`grantee ${who} has no published encryption key: it cannot receive delegated records`, { grantee: who, reason: NO_ENCRYPTION_KEY });
  }
  return getBytes(info.encryptionKey);
}

/** The account's published hybrid key, checked against its on-chain hash; null when it published none. */
export async function publishedHybridKey(client: MedCipherClient, account: string): Promise<Uint8Array | null> {
  const identity = client.contracts.identity;
  const commitment = await identity.hybridEncryptionKeyOf(account);
  if (commitment.keyHash === ZeroHash) return null;
  const block = Number(commitment.publishedAt);
  const events = await identity.queryFilter(identity.filters.HybridEncryptionKeyPublished(account), block, block);
  // Several publications in one block: the last one is what the contract kept.
  const event = events.filter((e) => "args" in e && e.args.keyHash === commitment.keyHash).at(-1);
  const key = event && "args" in event ? getBytes(event.args.key) : undefined;
  if (!key || key.length !== HYBRID_PUBLIC_KEY_BYTES || keccak256(key) !== commitment.keyHash) {
    throw new IntegrityError(`The hybrid encryption key of ${account} (HybridEncryptionKeyPublished at block ${block})`, { account, block, keyHash: commitment.keyHash, found: key ? keccak256(key) : null });
  }
  return key;
}
