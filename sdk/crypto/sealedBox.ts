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
 */
import { utf8ToBytes } from "../../core/bytes.js";
import { padToBucket, unpadFromBucket } from "../../core/padding.js";
import { DecryptionError } from "../errors.js";
import { generateEncryptionKeyPair, importPrivateKey, importPublicKey, sharedSecret, type EncryptionKeyPair } from "./x25519.js";

const subtle = globalThis.crypto.subtle;
const MAGIC = utf8ToBytes("MCS1");
const INFO = utf8ToBytes("medcipher/sealed-box/v1");
const HEAD_BYTES = MAGIC.length + 32 + 12;

export function isSealedBox(bytes: Uint8Array): boolean {
  return bytes.length > HEAD_BYTES + 16 && MAGIC.every((byte, i) => bytes[i] === byte);
}

async function boxKey(ephemeralPublic: Uint8Array, recipientPublic: Uint8Array, secret: Uint8Array): Promise<CryptoKey> {
  const ikm = await subtle.importKey("raw", secret as BufferSource, "HKDF", false, ["deriveKey"]);
  const salt = new Uint8Array(64);
  salt.set(ephemeralPublic, 0);
  salt.set(recipientPublic, 32);
  return subtle.deriveKey({ name: "HKDF", hash: "SHA-256", salt, info: INFO }, ikm, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
}

/** Seals `plaintext` for the holder of `recipientPublicKey` (32-byte X25519). */
export async function sealBox(plaintext: Uint8Array, recipientPublicKey: Uint8Array): Promise<Uint8Array> {
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

/** Opens a box with the recipient's key pair: DecryptionError if it is not for that key or was altered; PaddingError if its padding is not exact. */
export async function openBox(box: Uint8Array, recipient: EncryptionKeyPair): Promise<Uint8Array> {
  if (!isSealedBox(box)) throw new DecryptionError("a sealed box (bad magic or too short)");
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
