/**
 * Hybrid X25519 + ML-KEM-768 encryption keys, and the key-encapsulation step the hybrid key wrap
 * (envelope.ts) and the hybrid sealed box (sealedBox.ts) share.
 *
 * A hybrid key pair holds an X25519 pair and an ML-KEM-768 pair; its public form (what
 * `IdentityRegistry.publishHybridEncryptionKey` takes, 1216 B) is X25519 public (32 B) ‖ ML-KEM-768
 * encapsulation key (1184 B). A sender encapsulates to both: an ephemeral X25519 ECDH and an
 * ML-KEM encapsulation, and derives one AES-256-GCM key from both shared secrets:
 *
 *   ikm  = ss_MLKEM ‖ ss_X25519          (ML-KEM first: the order of X-Wing and TLS's X25519MLKEM768)
 *   salt = SHA-256(ct_MLKEM ‖ ct_X25519 ‖ pk_MLKEM ‖ pk_X25519)   (ct_X25519 = the ephemeral public key)
 *   key  = HKDF-SHA256(ikm, salt, info = label)                   (label: what the key is for)
 *
 * The key stays secret while either secret does: X25519 against today's attackers, ML-KEM against a
 * quantum one ("harvest now, decrypt later"). The salt binds both ciphertexts and both public keys,
 * so neither half can be swapped or replayed into another encapsulation.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";

import { bytesToHexString, concatBytes } from "../../core/bytes.js";
import { InvalidInputError } from "../errors.js";
import { generateMlKemKeyPair, ML_KEM_768, mlKemDecapsulate, mlKemEncapsulate, type MlKemKeyPair } from "./mlkem.js";
import { generateEncryptionKeyPair, importPrivateKey, importPublicKey, sharedSecret, type EncryptionKeyPair } from "./x25519.js";

const subtle = globalThis.crypto.subtle;

export const X25519_PUBLIC_KEY_BYTES = 32;
/** X25519 public ‖ ML-KEM-768 encapsulation key. */
export const HYBRID_PUBLIC_KEY_BYTES = X25519_PUBLIC_KEY_BYTES + ML_KEM_768.publicKeyBytes;

export type HybridKeyPair = { x25519: EncryptionKeyPair; mlkem: MlKemKeyPair };
/** What can open wraps and boxes: a classic X25519 pair or a hybrid pair. */
export type RecipientKeyPair = EncryptionKeyPair | HybridKeyPair;

export function isHybridKeyPair(pair: RecipientKeyPair): pair is HybridKeyPair {
  return "mlkem" in pair && "x25519" in pair;
}

/** The X25519 part of either kind of pair (a hybrid pair opens classic wraps made to it). */
export function x25519PairOf(pair: RecipientKeyPair): EncryptionKeyPair {
  return isHybridKeyPair(pair) ? pair.x25519 : pair;
}

/** A fresh hybrid pair; pass `x25519` to keep an existing X25519 pair (the one registered as a patient). */
export async function generateHybridKeyPair(x25519?: EncryptionKeyPair): Promise<HybridKeyPair> {
  return { x25519: x25519 ?? (await generateEncryptionKeyPair()), mlkem: await generateMlKemKeyPair() };
}

/** The 1216-byte public form: X25519 public ‖ ML-KEM-768 encapsulation key. */
export function hybridPublicKey(pair: HybridKeyPair): Uint8Array {
  return concatBytes(pair.x25519.publicKey, pair.mlkem.publicKey);
}

/** The two parts of a 1216-byte hybrid public key; InvalidInputError for any other length. */
export function splitHybridPublicKey(publicKey: Uint8Array): { x25519: Uint8Array; mlkem: Uint8Array } {
  if (publicKey.length !== HYBRID_PUBLIC_KEY_BYTES) {
    throw new InvalidInputError(`A hybrid encryption key is ${HYBRID_PUBLIC_KEY_BYTES} bytes (X25519 ‖ ML-KEM-768), not ${publicKey.length}.`, { bytes: publicKey.length, reason: "bad-encryption-key-length" });
  }
  return { x25519: publicKey.subarray(0, X25519_PUBLIC_KEY_BYTES), mlkem: publicKey.subarray(X25519_PUBLIC_KEY_BYTES) };
}

/** keccak256 of the 1216-byte public key, 0x-hex: what `hybridEncryptionKeyOf(account).keyHash` holds. */
export function hybridPublicKeyHash(publicKey: Uint8Array): string {
  splitHybridPublicKey(publicKey);
  return `0x${bytesToHexString(keccak_256(publicKey))}`;
}

export type HybridEncapsulation = { key: CryptoKey; ephemeralPublic: Uint8Array; kemCiphertext: Uint8Array };

/** Encapsulates to a 1216-byte hybrid public key: the AES-256-GCM key and the two ciphertexts that carry it. */
export async function hybridEncapsulate(recipientPublicKey: Uint8Array, label: Uint8Array): Promise<HybridEncapsulation> {
  const parts = splitHybridPublicKey(recipientPublicKey);
  const ephemeral = await generateEncryptionKeyPair();
  const classic = await sharedSecret(await importPrivateKey(ephemeral), await importPublicKey(parts.x25519));
  const pq = await mlKemEncapsulate(parts.mlkem);
  const key = await combine(pq.sharedSecret, classic, { kemCiphertext: pq.ciphertext, ephemeralPublic: ephemeral.publicKey, mlkemPublic: parts.mlkem, x25519Public: parts.x25519 }, label);
  ephemeral.privateKey.fill(0);
  return { key, ephemeralPublic: ephemeral.publicKey, kemCiphertext: pq.ciphertext };
}

/**
 * The AES-256-GCM key of an encapsulation, for its recipient. Throws (DecryptionError from
 * x25519.ts, MlKemKeyError) on malformed inputs; an altered ciphertext of the right length gives
 * a different key, which the AEAD after it refuses.
 */
export async function hybridDecapsulate(recipient: HybridKeyPair, ephemeralPublic: Uint8Array, kemCiphertext: Uint8Array, label: Uint8Array): Promise<CryptoKey> {
  const classic = await sharedSecret(await importPrivateKey(recipient.x25519), await importPublicKey(ephemeralPublic));
  const pq = await mlKemDecapsulate(recipient.mlkem.seed, kemCiphertext);
  return combine(pq, classic, { kemCiphertext, ephemeralPublic, mlkemPublic: recipient.mlkem.publicKey, x25519Public: recipient.x25519.publicKey }, label);
}

type Transcript = { kemCiphertext: Uint8Array; ephemeralPublic: Uint8Array; mlkemPublic: Uint8Array; x25519Public: Uint8Array };

async function combine(pqSecret: Uint8Array, classicSecret: Uint8Array, transcript: Transcript, label: Uint8Array): Promise<CryptoKey> {
  const ikmBytes = concatBytes(pqSecret, classicSecret);
  pqSecret.fill(0);
  classicSecret.fill(0);
  const salt = new Uint8Array(await subtle.digest("SHA-256", concatBytes(transcript.kemCiphertext, transcript.ephemeralPublic, transcript.mlkemPublic, transcript.x25519Public) as BufferSource));
  const ikm = await subtle.importKey("raw", ikmBytes as BufferSource, "HKDF", false, ["deriveKey"]);
  ikmBytes.fill(0);
  return subtle.deriveKey({ name: "HKDF", hash: "SHA-256", salt, info: label as BufferSource }, ikm, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
}
