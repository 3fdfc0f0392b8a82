/**
 * A sealed box: bytes only the holder of one X25519 key can open, and that do not say whose key
 * it is. What record shares travel in (sdk/actions/shareRecord.ts): the gateway stores them but
 * must not read the grantee, record id, salt, Merkle proof or category in them.
 *
 * Layout: "MCS1" ‖ 32 B ephemeral X25519 public key ‖ 12 B IV ‖ AES-256-GCM(padded plaintext) ‖ 16 B tag.
 * key = HKDF-SHA256(ECDH(ephemeral, recipient), salt = ephemeral public ‖ recipient public,
 * info "medcipher/sealed-box/v1"); the first 48 bytes are the additional data. The recipient's
 * key is in the salt, not in the box (unlike a record's wrap, which names its recipient), so
 * nobody without it can tell for whom a box is. The plaintext is padded to a size bucket
 * (core/padding.ts) inside the ciphertext: a share's size does not tell its Merkle proof's depth.
 *
 * Hybrid layout (to a 1216-byte X25519 ‖ ML-KEM-768 key), "MCH1" ‖ 32 B ephemeral X25519 public key
 * ‖ 1088 B ML-KEM-768 ciphertext ‖ 12 B IV ‖ AES-256-GCM(padded plaintext) ‖ 16 B tag; the key is
 * hybrid.ts's combination of both shared secrets (info "medcipher/sealed-box/v2"), the first 1136
 * bytes the additional data. Again no recipient key in the box. `sealBox` picks the layout by the
 * key's length; `openBox` opens both, so "MCS1" boxes written before still open.
 */
import { utf8ToBytes } from "../../core/bytes.js";
import { padToBucket, unpadFromBucket } from "../../core/padding.js";
import { DecryptionError, InvalidInputError } from "../errors.js";
import { HYBRID_PUBLIC_KEY_BYTES, hybridDecapsulate, hybridEncapsulate, isHybridKeyPair, x25519PairOf, X25519_PUBLIC_KEY_BYTES, type RecipientKeyPair } from "./hybrid.js";
import { ML_KEM_768 } from "./mlkem.js";
import { generateEncryptionKeyPair, importPrivateKey, importPublicKey, sharedSecret, type EncryptionKeyPair } from "./x25519.js";

const subtle = globalThis.crypto.subtle;
const MAGIC = utf8ToBytes("MCS1");
const INFO = utf8ToBytes("medcipher/sealed-box/v1");
const HEAD_BYTES = MAGIC.length + 32 + 12;
// Not "MCS2": signed records (protocol/signedRecord.ts) already start "MCS1", and their next version would be "MCS2".
const HYBRID_MAGIC = utf8ToBytes("MCH1");
const HYBRID_INFO = utf8ToBytes("medcipher/sealed-box/v2");
const HYBRID_HEAD_BYTES = HYBRID_MAGIC.length + 32 + ML_KEM_768.ciphertextBytes + 12;
/** What a hybrid box adds to its padded plaintext: head and GCM tag (1152 B). */
export const HYBRID_BOX_OVERHEAD_BYTES = HYBRID_HEAD_BYTES + 16;
/** What a classic box adds to its padded plaintext (64 B). */
export const CLASSIC_BOX_OVERHEAD_BYTES = HEAD_BYTES + 16;

const startsWith = (bytes: Uint8Array, magic: Uint8Array) => magic.every((byte, i) => bytes[i] === byte);

/** A classic ("MCS1") or hybrid ("MCH1") sealed box, by its magic and minimum length. */
export function isSealedBox(bytes: Uint8Array): boolean {
  return isClassicBox(bytes) || isHybridBox(bytes);
}

function isClassicBox(bytes: Uint8Array): boolean {
  return bytes.length > HEAD_BYTES + 16 && startsWith(bytes, MAGIC);
}

function isHybridBox(bytes: Uint8Array): boolean {
  return bytes.length > HYBRID_HEAD_BYTES + 16 && startsWith(bytes, HYBRID_MAGIC);
}

async function boxKey(ephemeralPublic: Uint8Array, recipientPublic: Uint8Array, secret: Uint8Array): Promise<CryptoKey> {
  const ikm = await subtle.importKey("raw", secret as BufferSource, "HKDF", false, ["deriveKey"]);
  const salt = new Uint8Array(64);
  salt.set(ephemeralPublic, 0);
  salt.set(recipientPublic, 32);
  return subtle.deriveKey({ name: "HKDF", hash: "SHA-256", salt, info: INFO }, ikm, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
}

/**
 * Seals `plaintext` for the holder of `recipientPublicKey`: a classic box for a 32-byte X25519
 * key, a hybrid box for a 1216-byte X25519 ‖ ML-KEM-768 key (InvalidInputError otherwise).
 */
export async function sealBox(plaintext: Uint8Array, recipientPublicKey: Uint8Array): Promise<Uint8Array> {
  if (recipientPublicKey.length === HYBRID_PUBLIC_KEY_BYTES) return sealHybridBox(plaintext, recipientPublicKey);
  if (recipientPublicKey.length !== X25519_PUBLIC_KEY_BYTES) {
    throw new InvalidInputError(`A sealed box's key is ${X25519_PUBLIC_KEY_BYTES} bytes (X25519) or ${HYBRID_PUBLIC_KEY_BYTES} bytes (X25519 ‖ ML-KEM-768), not ${recipientPublicKey.length}.`, { bytes: recipientPublicKey.length, reason: "bad-encryption-key-length" });
  }
  const ephemeral = await generateEncryptionKeyPair();
  const secret = await sharedSecret(await importPrivateKey(ephemeral), await importPublicKey(recipientPublicKey));
  const key = await boxKey(ephemeral.publicKey, recipientPublicKey, secret);
  secret.fill(0);
  const head = new Uint8Array(HEAD_BYTES);
  head.set(MAGIC, 0);
  head.set(ephemeral.publicKey, MAGIC.length);
  const iv = globalThis.crypto.getRandomValues(new Uint8Array(12));
  head.set(iv, MAGIC.length + 32);
  const padded = padToBucket(plaintext);
  const ciphertext = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv, additionalData: head }, key, padded as BufferSource));
  padded.fill(0);
  const box = new Uint8Array(HEAD_BYTES + ciphertext.length);
  box.set(head, 0);
  box.set(ciphertext, HEAD_BYTES);
  return box;
}

/** The hybrid box ("MCH1") of `plaintext` for a 1216-byte hybrid key. */
export async function sealHybridBox(plaintext: Uint8Array, recipientHybridKey: Uint8Array): Promise<Uint8Array> {
  const { key, ephemeralPublic, kemCiphertext } = await hybridEncapsulate(recipientHybridKey, HYBRID_INFO);
  const head = new Uint8Array(HYBRID_HEAD_BYTES);
  head.set(HYBRID_MAGIC, 0);
  head.set(ephemeralPublic, HYBRID_MAGIC.length);
  head.set(kemCiphertext, HYBRID_MAGIC.length + 32);
  head.set(globalThis.crypto.getRandomValues(new Uint8Array(12)), HYBRID_HEAD_BYTES - 12);
  const padded = padToBucket(plaintext);
  const ciphertext = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv: head.slice(HYBRID_HEAD_BYTES - 12), additionalData: head }, key, padded as BufferSource));
  padded.fill(0);
  const box = new Uint8Array(HYBRID_HEAD_BYTES + ciphertext.length);
  box.set(head, 0);
  box.set(ciphertext, HYBRID_HEAD_BYTES);
  return box;
}

/**
 * Opens a box with the recipient's key pair (classic or hybrid): DecryptionError if it is not for
 * that key or was altered, or is a hybrid box and `recipient` has no ML-KEM key (`details.reason`
 * "mlkem-key-needed"); PaddingError if its padding is not exact.
 */
export async function openBox(box: Uint8Array, recipient: RecipientKeyPair): Promise<Uint8Array> {
  if (isHybridBox(box)) return openHybridBox(box, recipient);
  if (!isClassicBox(box)) throw new DecryptionError("a sealed box (bad magic or too short)");
  return openClassicBox(box, x25519PairOf(recipient));
}

async function openHybridBox(box: Uint8Array, recipient: RecipientKeyPair): Promise<Uint8Array> {
  if (!isHybridKeyPair(recipient)) {
    throw new DecryptionError("a hybrid (X25519 + ML-KEM-768) sealed box", undefined, { reason: "mlkem-key-needed", explanation: "it needs the recipient's ML-KEM-768 key as well, and this key pair is X25519 only" });
  }
  const head = box.subarray(0, HYBRID_HEAD_BYTES);
  let padded: Uint8Array;
  try {
    const ephemeralPublic = box.slice(HYBRID_MAGIC.length, HYBRID_MAGIC.length + 32);
    const kemCiphertext = box.slice(HYBRID_MAGIC.length + 32, HYBRID_HEAD_BYTES - 12);
    const key = await hybridDecapsulate(recipient, ephemeralPublic, kemCiphertext, HYBRID_INFO);
    padded = new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: box.slice(HYBRID_HEAD_BYTES - 12, HYBRID_HEAD_BYTES), additionalData: head as BufferSource }, key, box.subarray(HYBRID_HEAD_BYTES) as BufferSource));
  } catch (error) {
    throw new DecryptionError("the hybrid sealed box", error);
  }
  return unpadFromBucket(padded);
}

async function openClassicBox(box: Uint8Array, recipient: EncryptionKeyPair): Promise<Uint8Array> {
  const head = box.subarray(0, HEAD_BYTES);
  const ephemeralPublic = box.slice(MAGIC.length, MAGIC.length + 32);
  let padded: Uint8Array;
  try {
    const secret = await sharedSecret(await importPrivateKey(recipient), await importPublicKey(ephemeralPublic));
    const key = await boxKey(ephemeralPublic, recipient.publicKey, secret);
    secret.fill(0);
    padded = new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: box.slice(MAGIC.length + 32, HEAD_BYTES), additionalData: head as BufferSource }, key, box.subarray(HEAD_BYTES) as BufferSource));
  } catch (error) {
    throw new DecryptionError("the sealed box", error);
  }
  return unpadFromBucket(padded);
}
