import { hexlify } from "ethers";

import { sendTransaction, type SendTransactionOptions } from "../chain/send.js";
import type { MedCipherClient } from "../client.js";
import { hybridPublicKey, hybridPublicKeyHash, type HybridKeyPair } from "../crypto/hybrid.js";

export type PublishHybridEncryptionKeyParameters = {
  /** The hybrid key pair (only its public half is sent) or its 1216-byte public form. */
  key: HybridKeyPair | Uint8Array;
  /** Give up waiting for the receipt after this many milliseconds (TimeoutError). */
  receiptTimeoutMs?: number;
};

/**
 * `published` false: the chain already held exactly this key for the account, nothing was sent
 * (`transactionHash` null). `version` counts the account's publications (1 for the first).
 */
export type PublishHybridEncryptionKeyReturnType = { keyHash: string; version: number; published: boolean; transactionHash: string | null };

/**
 * Publishes the client account's hybrid (X25519 + ML-KEM-768) encryption public key: the
 * IdentityRegistry keeps its keccak256 and block, and the event carries the key
 * (`resolveEncryptionKey` reads it back). From then on records and shares for this account are
 * wrapped post-quantum (X25519 + ML-KEM-768). Idempotent: publishing the key already on-chain sends
 * nothing. Any account may publish (a clinician need not be a patient). Only public key bytes go on-chain.
 *
 * @example
 * const hybridKey = await generateHybridKeyPair(encryptionKey); // keep hybridKey.mlkem.seed with the X25519 key
 * await publishHybridEncryptionKey(client, { key: hybridKey });
 */
export async function publishHybridEncryptionKey(client: MedCipherClient, parameters: PublishHybridEncryptionKeyParameters): Promise<PublishHybridEncryptionKeyReturnType> {
  const key = parameters.key instanceof Uint8Array ? parameters.key : hybridPublicKey(parameters.key);
  // Checks the length (InvalidInputError) before anything is sent.
  const keyHash = hybridPublicKeyHash(key);
  const current = await client.contracts.identity.hybridEncryptionKeyOf(client.address);
  if (current.keyHash.toLowerCase() === keyHash) return { keyHash, version: Number(current.version), published: false, transactionHash: null };
  const options: SendTransactionOptions = { timeoutMs: parameters.receiptTimeoutMs };
  const receipt = await sendTransaction("publishHybridEncryptionKey", () => client.contracts.identity.publishHybridEncryptionKey(hexlify(key)), options);
  return { keyHash, version: Number(current.version) + 1, published: true, transactionHash: receipt.hash };
}
