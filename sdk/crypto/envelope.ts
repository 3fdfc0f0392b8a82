/**
 * Envelope encryption of records.
 *
 * Each record gets a fresh AES-256-GCM data key. The data key is *wrapped* for a recipient's X25519
 * public key: an ephemeral X25519 key pair, ECDH with the recipient, HKDF-SHA256 over the shared
 * secret (salt = ephemeral public ‖ recipient public, info "medcipher/wrap/v1") gives a key that
 * encrypts the data key with AES-256-GCM. Sharing a record means wrapping the same data key again
 * for a grantee; the record ciphertext never changes.
 *
 * Sealed record layout: "MCE1" ‖ u32 big-endian header length ‖ header JSON ‖ AES-GCM ciphertext+tag.
 * The header (algorithm, IV, the wrap for the patient) is the GCM additional data, so it cannot be
 * swapped without failing decryption.
 *
 * Header `v: 2` (what `sealRecord` writes): the plaintext is padded to a size bucket
 * (core/padding.ts) before encryption, so a record's size no longer counts its readings; the
 * padding is inside the authenticated ciphertext and checked exactly when opened (PaddingError).
 * The header's fields have fixed lengths, so the whole sealed record is bucket + a constant.
 * `v: 1` records (unpadded, written before) still open.
 *
 * The wrap is versioned by its `alg`. "X25519-HKDF-SHA256-A256GCM" (above) is the classic wrap to a
 * 32-byte X25519 key; "X25519MLKEM768-HKDF-SHA256-A256GCM" is the hybrid wrap to a 1216-byte
 * X25519 ‖ ML-KEM-768 key (hybrid.ts: HKDF over both shared secrets, info "medcipher/wrap/v2"),
 * which stays secret against a quantum attacker as long as ML-KEM does. `wrapDataKey` picks by the
 * key's length; `unwrapDataKey` opens both, so every record written before still opens.
 */
import { base64UrlToBytes, bytesToBase64Url, bytesToUtf8, utf8ToBytes } from "../../core/bytes.js";
import { padToBucket, unpadFromBucket } from "../../core/padding.js";
import { DecryptionError, InvalidInputError } from "../errors.js";
import { HYBRID_PUBLIC_KEY_BYTES, hybridDecapsulate, hybridEncapsulate, isHybridKeyPair, x25519PairOf, X25519_PUBLIC_KEY_BYTES, type RecipientKeyPair } from "./hybrid.js";
import { generateEncryptionKeyPair, importPrivateKey, importPublicKey, sharedSecret, type EncryptionKeyPair } from "./x25519.js";

const subtle = globalThis.crypto.subtle;
const MAGIC = utf8ToBytes("MCE1");
const WRAP_INFO = utf8ToBytes("medcipher/wrap/v1");
const HYBRID_WRAP_INFO = utf8ToBytes("medcipher/wrap/v2");

export const CLASSIC_WRAP_ALG = "X25519-HKDF-SHA256-A256GCM";
export const HYBRID_WRAP_ALG = "X25519MLKEM768-HKDF-SHA256-A256GCM";

/** A data key wrapped for one recipient's X25519 key. All fields base64url. */
export type ClassicWrappedKey = { alg: typeof CLASSIC_WRAP_ALG; recipient: string; ephemeral: string; iv: string; ciphertext: string };
/**
 * A data key wrapped for one recipient's hybrid key. `recipient` is the X25519 part of the
 * recipient's key (the whole key is bound in the KEK's salt), `ephemeral` the X25519 ephemeral
 * public key, `kem` the ML-KEM-768 ciphertext (1088 B). All fields base64url.
 */
export type HybridWrappedKey = { alg: typeof HYBRID_WRAP_ALG; recipient: string; ephemeral: string; kem: string; iv: string; ciphertext: string };
export type WrappedKey = ClassicWrappedKey | HybridWrappedKey;

/** `v: 2`: plaintext padded to a size bucket; `v: 1`: unpadded (older records). */
export type EnvelopeHeader = { v: 1 | 2; alg: "A256GCM"; iv: string; wrap: WrappedKey };

const b64 = bytesToBase64Url;
const unb64 = base64UrlToBytes;
const randomBytes = (n: number) => globalThis.crypto.getRandomValues(new Uint8Array(n));

/**
 * The random values one wrap draws. Only the test vectors (test/protocol/vectors.test.ts) pass
 * them in, to prove the output byte-identical to the recorded one; every real wrap draws fresh
 * ones. Reusing an IV under one key breaks AES-GCM: never pass the same values twice.
 */
export type WrapRandomness = { ephemeral: EncryptionKeyPair; iv: Uint8Array };
/** The random values one sealed record draws (see WrapRandomness). */
export type RecordRandomness = { dataKey: Uint8Array; iv: Uint8Array; wrap: WrapRandomness };

const freshWrapRandomness = async (): Promise<WrapRandomness> => ({ ephemeral: await generateEncryptionKeyPair(), iv: randomBytes(12) });

async function wrapKeyFor(ephemeralPub: Uint8Array, recipientPub: Uint8Array, secret: Uint8Array): Promise<CryptoKey> {
  const ikm = await subtle.importKey("raw", secret as BufferSource, "HKDF", false, ["deriveKey"]);
  const salt = new Uint8Array(64);
  salt.set(ephemeralPub, 0);
  salt.set(recipientPub, 32);
  return subtle.deriveKey({ name: "HKDF", hash: "SHA-256", salt, info: WRAP_INFO }, ikm, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
}

/**
 * Wraps a raw 32-byte data key for `recipientPublicKey`: the classic wrap for a 32-byte X25519
 * key, the hybrid wrap for a 1216-byte X25519 ‖ ML-KEM-768 key (InvalidInputError for any other
 * length).
 */
export async function wrapDataKey(dataKey: Uint8Array, recipientPublicKey: Uint8Array): Promise<WrappedKey> {
  if (recipientPublicKey.length === HYBRID_PUBLIC_KEY_BYTES) return wrapDataKeyHybrid(dataKey, recipientPublicKey);
  if (recipientPublicKey.length !== X25519_PUBLIC_KEY_BYTES) {
    throw new InvalidInputError(`An encryption key is ${X25519_PUBLIC_KEY_BYTES} bytes (X25519) or ${HYBRID_PUBLIC_KEY_BYTES} bytes (X25519 ‖ ML-KEM-768), not ${recipientPublicKey.length}.`, { bytes: recipientPublicKey.length, reason: "bad-encryption-key-length" });
  }
  return wrapDataKeyWithRandomness(dataKey, recipientPublicKey, await freshWrapRandomness());
}

/** The hybrid wrap (X25519 + ML-KEM-768) of a data key for a 1216-byte hybrid public key. */
export async function wrapDataKeyHybrid(dataKey: Uint8Array, recipientHybridKey: Uint8Array): Promise<HybridWrappedKey> {
  const { key, ephemeralPublic, kemCiphertext } = await hybridEncapsulate(recipientHybridKey, HYBRID_WRAP_INFO);
  const iv = randomBytes(12);
  const ciphertext = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv }, key, dataKey as BufferSource));
  return { alg: HYBRID_WRAP_ALG, recipient: b64(recipientHybridKey.subarray(0, X25519_PUBLIC_KEY_BYTES)), ephemeral: b64(ephemeralPublic), kem: b64(kemCiphertext), iv: b64(iv), ciphertext: b64(ciphertext) };
}

/** @internal The classic wrap with its random values given (test vectors only; see WrapRandomness). */
export async function wrapDataKeyWithRandomness(dataKey: Uint8Array, recipientPublicKey: Uint8Array, randomness: WrapRandomness): Promise<ClassicWrappedKey> {
  const { ephemeral, iv } = randomness;
  const secret = await sharedSecret(await importPrivateKey(ephemeral), await importPublicKey(recipientPublicKey));
  const kek = await wrapKeyFor(ephemeral.publicKey, recipientPublicKey, secret);
  const ciphertext = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv: iv as BufferSource }, kek, dataKey as BufferSource));
  return { alg: "X25519-HKDF-SHA256-A256GCM", recipient: b64(recipientPublicKey), ephemeral: b64(ephemeral.publicKey), iv: b64(iv), ciphertext: b64(ciphertext) };
}

/**
 * Unwraps a data key with the recipient's key pair (classic or hybrid); DecryptionError if it was
 * not wrapped for it, was altered, or is a hybrid wrap and `recipient` has no ML-KEM key
 * (`details.reason` "mlkem-key-needed"). A hybrid pair opens classic wraps made to its X25519 part.
 */
export async function unwrapDataKey(wrapped: WrappedKey, recipient: RecipientKeyPair): Promise<Uint8Array> {
  const alg = (wrapped as { alg?: unknown }).alg;
  if (alg === HYBRID_WRAP_ALG) return unwrapHybrid(wrapped as HybridWrappedKey, recipient);
  if (alg !== CLASSIC_WRAP_ALG) throw new DecryptionError(`a wrapped data key of a known algorithm (got ${JSON.stringify(alg)})`);
  const pair = x25519PairOf(recipient);
  try {
    const ephemeralPub = unb64(wrapped.ephemeral);
    const secret = await sharedSecret(await importPrivateKey(pair), await importPublicKey(ephemeralPub));
    const kek = await wrapKeyFor(ephemeralPub, pair.publicKey, secret);
    return new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: unb64(wrapped.iv) }, kek, unb64(wrapped.ciphertext)));
  } catch (error) {
    throw new DecryptionError("the wrapped data key", error);
  }
}

async function unwrapHybrid(wrapped: HybridWrappedKey, recipient: RecipientKeyPair): Promise<Uint8Array> {
  if (!isHybridKeyPair(recipient)) {
    throw new DecryptionError("a hybrid (X25519 + ML-KEM-768) wrapped data key", undefined, { reason: "mlkem-key-needed", explanation: "it needs the recipient's ML-KEM-768 key as well, and this key pair is X25519 only" });
  }
  try {
    const kek = await hybridDecapsulate(recipient, unb64(wrapped.ephemeral), unb64(wrapped.kem), HYBRID_WRAP_INFO);
    return new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: unb64(wrapped.iv) }, kek, unb64(wrapped.ciphertext)));
  } catch (error) {
    throw new DecryptionError("the hybrid wrapped data key", error);
  }
}

export type SealedRecord = { sealed: Uint8Array; dataKey: Uint8Array };

/**
 * Encrypts `plaintext` under a fresh data key wrapped for `patientPublicKey` (32-byte X25519:
 * classic wrap; 1216-byte hybrid key: hybrid wrap).
 */
export async function sealRecord(plaintext: Uint8Array, patientPublicKey: Uint8Array): Promise<SealedRecord> {
  const dataKey = randomBytes(32);
  const iv = randomBytes(12);
  return sealUnder(plaintext, dataKey, iv, await wrapDataKey(dataKey, patientPublicKey), 2);
}

/**
 * @internal `sealRecord` with its random values given (test vectors only; see WrapRandomness).
 * `format` 1 writes the older, unpadded form (the recorded vectors are in it).
 */
export async function sealRecordWithRandomness(plaintext: Uint8Array, patientPublicKey: Uint8Array, randomness: RecordRandomness, format: 1 | 2 = 2): Promise<SealedRecord> {
  const { dataKey, iv } = randomness;
  return sealUnder(plaintext, dataKey, iv, await wrapDataKeyWithRandomness(dataKey, patientPublicKey, randomness.wrap), format);
}

async function sealUnder(plaintext: Uint8Array, dataKey: Uint8Array, iv: Uint8Array, wrap: WrappedKey, format: 1 | 2): Promise<SealedRecord> {
  const header: EnvelopeHeader = { v: format, alg: "A256GCM", iv: b64(iv), wrap };
  const headerBytes = utf8ToBytes(JSON.stringify(header));
  const key = await subtle.importKey("raw", dataKey as BufferSource, "AES-GCM", false, ["encrypt"]);
  const body = format === 2 ? padToBucket(plaintext) : plaintext;
  const ciphertext = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv: iv as BufferSource, additionalData: headerBytes }, key, body as BufferSource));
  if (body !== plaintext) body.fill(0);
  const sealed = new Uint8Array(MAGIC.length + 4 + headerBytes.length + ciphertext.length);
  sealed.set(MAGIC, 0);
  new DataView(sealed.buffer).setUint32(MAGIC.length, headerBytes.length);
  sealed.set(headerBytes, MAGIC.length + 4);
  sealed.set(ciphertext, MAGIC.length + 4 + headerBytes.length);
  return { sealed, dataKey };
}

export function parseSealedRecord(sealed: Uint8Array): { header: EnvelopeHeader; headerBytes: Uint8Array; ciphertext: Uint8Array } {
  const magicOk = sealed.length > 8 && MAGIC.every((byte, i) => sealed[i] === byte);
  if (!magicOk) throw new DecryptionError("a sealed record (bad magic)");
  const headerLength = new DataView(sealed.buffer, sealed.byteOffset, sealed.byteLength).getUint32(MAGIC.length);
  const headerBytes = sealed.subarray(8, 8 + headerLength);
  let header: EnvelopeHeader;
  try {
    header = JSON.parse(bytesToUtf8(headerBytes)) as EnvelopeHeader;
  } catch (error) {
    throw new DecryptionError("a sealed record header", error);
  }
  return { header, headerBytes, ciphertext: sealed.subarray(8 + headerLength) };
}

/** Decrypts a sealed record with its data key (from `unwrapDataKey`); strips a v2 record's padding (PaddingError if it is not exact). */
export async function openRecord(sealed: Uint8Array, dataKey: Uint8Array): Promise<Uint8Array> {
  const { header, headerBytes, ciphertext } = parseSealedRecord(sealed);
  if (header.v !== 1 && header.v !== 2) throw new DecryptionError(`a sealed record of a known version (got ${String(header.v)})`);
  let body: Uint8Array;
  try {
    const key = await subtle.importKey("raw", dataKey as BufferSource, "AES-GCM", false, ["decrypt"]);
    body = new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: unb64(header.iv), additionalData: headerBytes as BufferSource }, key, ciphertext as BufferSource));
  } catch (error) {
    throw new DecryptionError("the record", error);
  }
  return header.v === 2 ? unpadFromBucket(body) : body;
}

/** The patient's path: unwrap the data key from the record's own header, then decrypt. */
export async function openRecordAsPatient(sealed: Uint8Array, patient: RecipientKeyPair): Promise<Uint8Array> {
  const { header } = parseSealedRecord(sealed);
  return openRecord(sealed, await unwrapDataKey(header.wrap, patient));
}
