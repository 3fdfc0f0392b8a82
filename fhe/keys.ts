/**
 * Key blobs.
 *
 * Evaluation keys (kind 3) — what the patient publishes; its SHA-256 is the `keysHash` the
 * patient commits on-chain. Payload:
 * ```
 * u8 section count, then per section:
 *   u8 type (1 public key, 2 relinearisation keys, 3 Galois keys)
 *   u8 step count, i32 LE steps …          (Galois keys only; 0 otherwise)
 *   u32 LE length, SEAL bytes (seeded; compression none for the public key, zstd for key-switching keys)
 * ```
 * A set without key switching (ckks-2048-v1) carries the public key only: devices can encrypt
 * to the patient with it, and the blob still names the parameter set.
 *
 * Encrypted secret key (kind 4) — the only form in which a secret key leaves the client.
 * Payload: `u8 log2(N_scrypt), u8 r, u8 p, 16 B salt, 12 B IV, AES-256-GCM(ciphertext ‖ 16 B tag)`,
 * key = scrypt(passphrase, salt), the 96-byte header as additional authenticated data.
 *
 * Browser-safe: scrypt from @noble/hashes (WebCrypto has no scrypt), AES-256-GCM from WebCrypto.
 * The bytes are those node:crypto produced before (test/protocol/vectors.test.ts).
 */
import { scryptAsync } from "@noble/hashes/scrypt.js";

import { utf8ToBytes } from "../core/bytes.js";

import { hexToBytes, payloadOf, readBlobHeader, writeBlob } from "./blob.js";
import { checkSeedRecord, sealCiphertextMetadata } from "./ciphertext-codec.js";
import { MalformedBlobError, NotPublicKeysError, WrongParameterSetError, WrongPassphraseError } from "./errors.js";
import { getParameterSet } from "./params.js";

export const KeySection = { publicKey: 1, relinKeys: 2, galoisKeys: 3 } as const;
export type KeySectionName = keyof typeof KeySection;

export type EvaluationKeySections = {
  publicKey?: Uint8Array;
  relinKeys?: Uint8Array;
  galoisKeys?: { steps: number[]; bytes: Uint8Array };
};

const SEAL_HEADER_PREFIX = [0x5e, 0xa1, 0x10, 0x04, 0x01];
const MAX_GALOIS_STEPS = 64;

/** Upper bounds on each section, from the parameter set (checked before SEAL parses a section). */
export function keySectionLimits(paramSetId: string): { publicKey: number; relinKeys: number; galoisKeysPerStep: number; blob: number } {
  const set = getParameterSet(paramSetId);
  const primes = set.coeffModulusBits.length;
  const ciphertextBytes = 2 * set.polyModulusDegree * primes * 8 + 1024;
  const keySwitchingKey = Math.max(1, primes - 1) * ciphertextBytes + 1024;
  const publicKey = ciphertextBytes;
  const relinKeys = set.keySwitching ? keySwitchingKey : 0;
  const galoisKeysPerStep = set.keySwitching ? keySwitchingKey : 0;
  return { publicKey, relinKeys, galoisKeysPerStep, blob: 96 + 1 + publicKey + relinKeys + MAX_GALOIS_STEPS * (galoisKeysPerStep + 4) + 64 };
}

export function writeEvaluationKeysBlob(paramSetId: string, sections: EvaluationKeySections): Uint8Array {
  const parts: Uint8Array[] = [];
  let count = 0;
  const section = (type: number, steps: number[], bytes: Uint8Array) => {
    const head = new Uint8Array(2 + steps.length * 4 + 4);
    const view = new DataView(head.buffer);
    head[0] = type;
    head[1] = steps.length;
    steps.forEach((step, i) => view.setInt32(2 + i * 4, step, true));
    view.setUint32(2 + steps.length * 4, bytes.length, true);
    parts.push(head, bytes);
    count++;
  };
  if (sections.publicKey) section(KeySection.publicKey, [], sections.publicKey);
  if (sections.relinKeys) section(KeySection.relinKeys, [], sections.relinKeys);
  if (sections.galoisKeys) section(KeySection.galoisKeys, sections.galoisKeys.steps, sections.galoisKeys.bytes);
  const payload = new Uint8Array(1 + parts.reduce((n, p) => n + p.length, 0));
  payload[0] = count;
  let offset = 1;
  for (const part of parts) {
    payload.set(part, offset);
    offset += part.length;
  }
  return writeBlob(
    { kind: "evaluationKeys", codec: "raw", seeded: true, paramSetId, chainIndex: 0, ciphertextSize: 0, scaleLog2: 0, readings: 0 },
    payload,
  );
}

/**
 * Checks an evaluation-key blob without SEAL: header, parameter set, section types, counts,
 * lengths against the set's limits, and each section's SEAL header (magic, version, size).
 */
export function readEvaluationKeysBlob(blob: Uint8Array, expectedParamSetId: string): EvaluationKeySections {
  const limits = keySectionLimits(expectedParamSetId);
  const header = readBlobHeader(blob, "evaluationKeys", limits.blob);
  if (header.paramSetId !== expectedParamSetId) throw new WrongParameterSetError(expectedParamSetId, header.paramSetId);
  if (header.codec !== "raw" || header.chainIndex !== 0 || header.ciphertextSize !== 0 || header.scaleLog2 !== 0 || header.readings !== 0) {
    throw new MalformedBlobError("evaluation-key header fields must be zero");
  }
  const payload = payloadOf(blob);
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const need = (offset: number, bytes: number) => {
    if (offset + bytes > payload.length) throw new MalformedBlobError("evaluation-key section truncated");
  };
  need(0, 1);
  const count = payload[0] as number;
  const sections: EvaluationKeySections = {};
  let offset = 1;
  for (let s = 0; s < count; s++) {
    need(offset, 2);
    const type = payload[offset] as number;
    const stepCount = payload[offset + 1] as number;
    offset += 2;
    if (type !== KeySection.galoisKeys && stepCount !== 0) throw new MalformedBlobError("steps on a non-Galois section");
    if (stepCount > MAX_GALOIS_STEPS) throw new MalformedBlobError("too many Galois steps", { steps: stepCount });
    need(offset, stepCount * 4 + 4);
    const steps = Array.from({ length: stepCount }, (_, i) => view.getInt32(offset + i * 4, true));
    offset += stepCount * 4;
    const length = view.getUint32(offset, true);
    offset += 4;
    need(offset, length);
    const bytes = payload.subarray(offset, offset + length);
    offset += length;
    const limit =
      type === KeySection.publicKey ? limits.publicKey : type === KeySection.relinKeys ? limits.relinKeys : type === KeySection.galoisKeys ? limits.galoisKeysPerStep * stepCount : -1;
    if (limit < 0) throw new MalformedBlobError("unknown key section", { type });
    if (length > limit) throw new MalformedBlobError("key section larger than the parameter set allows", { type, length, limit });
    checkSealHeader(bytes);
    // The public key is what devices load: uncompressed only, so no decompression happens there.
    if (type === KeySection.publicKey && bytes[5] !== 0) throw new MalformedBlobError("public key section must be uncompressed");
    const already = type === KeySection.publicKey ? sections.publicKey : type === KeySection.relinKeys ? sections.relinKeys : sections.galoisKeys;
    if (already !== undefined) throw new MalformedBlobError("duplicate key section", { type });
    if (type === KeySection.publicKey) sections.publicKey = bytes;
    else if (type === KeySection.relinKeys) sections.relinKeys = bytes;
    else {
      if (new Set(steps).size !== steps.length || steps.length === 0) throw new MalformedBlobError("Galois steps empty or repeated");
      sections.galoisKeys = { steps, bytes };
    }
  }
  if (offset !== payload.length) throw new MalformedBlobError("trailing bytes after the key sections");
  return sections;
}

/**
 * THE check that an evaluation-keys blob holds public keys only — the gateway runs it before it
 * stores an `he-keys` upload, the SDK before it uploads or registers a key set, the oracle before
 * it caches or uses one. Without SEAL (so it runs in the gateway and the browser):
 * - the blob is an evaluation-keys blob (kind 3) of a known parameter set (`expectedParamSetId`
 *   when given), its sections well formed (readEvaluationKeysBlob);
 * - it has a public-key section, and that section's SEAL bytes are, metadata byte for byte, a
 *   public key of the set: a ciphertext of size 2 in NTT form at the key level (its pinned
 *   parms_id, every prime), scale 1, seeded (as FheClient writes it) or full, with a valid seed
 *   record. A secret key saved there instead is a SEAL Plaintext (no size field, a coefficient
 *   count where the size would be) and fails at byte 48.
 * - key-switching sections exist only on sets with key switching (their size limit is 0
 *   elsewhere) and are zstd SEAL data of bounded size; their content is checked by SEAL when the
 *   evaluator loads them (fhe/reference.ts).
 * Throws NotPublicKeysError (code FHE_NOT_PUBLIC_KEYS) with the engine error as its cause.
 */
export function checkPublicKeysOnly(blob: Uint8Array, expectedParamSetId?: string): { paramSetId: string; sections: EvaluationKeySections } {
  let paramSetId: string;
  let sections: EvaluationKeySections;
  try {
    // Header only (no payload read): the size cap that matters is the set's, applied next.
    paramSetId = expectedParamSetId ?? readBlobHeader(blob, "evaluationKeys", Number.MAX_SAFE_INTEGER).paramSetId;
    sections = readEvaluationKeysBlob(blob, paramSetId);
  } catch (error) {
    const e = error as { code?: string; shortMessage?: string };
    throw new NotPublicKeysError("not a well-formed evaluation-keys blob", { engineCode: e.code }, error);
  }
  const publicKey = sections.publicKey;
  if (publicKey === undefined) throw new NotPublicKeysError("no public key section", { paramSetId });
  const set = getParameterSet(paramSetId);
  const expectedPublicKey = (seeded: boolean) =>
    sealCiphertextMetadata(hexToBytes(`0x${set.keyParmsIdHex}`), { n: set.polyModulusDegree, moduli: set.coeffModulusBits.length, size: 2, scale: 1, seeded });
  const form = [true, false].map(expectedPublicKey).find((layout) => layout.totalBytes === publicKey.length);
  if (form === undefined) throw new NotPublicKeysError("the public-key section has the size of no public key of the set", { paramSetId, bytes: publicKey.length });
  const offset = form.metadata.findIndex((byte, i) => publicKey[i] !== byte);
  if (offset !== -1) throw new NotPublicKeysError("the public-key section is not a SEAL public key of the set", { paramSetId, offset });
  if (form.suffixBytes > 0) {
    try {
      checkSeedRecord(publicKey.subarray(publicKey.length - form.suffixBytes));
    } catch (error) {
      throw new NotPublicKeysError("the public key's seed record is not SEAL's", { paramSetId }, error);
    }
  }
  if ((sections.relinKeys !== undefined || sections.galoisKeys !== undefined) && !set.keySwitching) {
    throw new NotPublicKeysError("key-switching keys on a set without key switching", { paramSetId });
  }
  for (const bytes of [sections.relinKeys, sections.galoisKeys?.bytes]) {
    if (bytes !== undefined && bytes[5] !== 2) throw new NotPublicKeysError("key-switching sections are zstd-compressed SEAL data", { paramSetId });
  }
  return { paramSetId, sections };
}

function checkSealHeader(bytes: Uint8Array): void {
  if (bytes.length < 16 || SEAL_HEADER_PREFIX.some((b, i) => bytes[i] !== b)) throw new MalformedBlobError("key section is not SEAL 4.1 data");
  const compression = bytes[5] as number;
  if (compression !== 0 && compression !== 2) throw new MalformedBlobError("key section compression must be none or zstd");
  const declared = new DataView(bytes.buffer, bytes.byteOffset + 8, 8).getBigUint64(0, true);
  if (declared !== BigInt(bytes.length)) throw new MalformedBlobError("key section length disagrees with its SEAL header");
}

// ---------------------------------------------------------------------------------------------
// Secret-key export

/** scrypt cost: N = 2^15, r = 8, p = 1 (32 MiB, ~0.1 s); import accepts 2^14..2^20. */
export type ScryptCost = { logN: number; r: number; p: number };
export const SCRYPT_DEFAULTS: Readonly<ScryptCost> = { logN: 15, r: 8, p: 1 };

const subtle = globalThis.crypto.subtle;

/**
 * The AES-256-GCM key scrypt derives from the passphrase (NFC, UTF-8), as a non-extractable
 * CryptoKey; the raw bytes are wiped once imported. `maxmem` is exactly what noble allocates,
 * 128·r·(N + p + 1) bytes (plus slack), so every cost `openSecretKey` accepts runs, as it did on
 * node:crypto; the default cost needs 32 MiB.
 */
async function deriveKey(passphrase: string, salt: Uint8Array, logN: number, r: number, p: number, usage: KeyUsage): Promise<CryptoKey> {
  const raw = await scryptAsync(utf8ToBytes(passphrase.normalize("NFC")), salt, { N: 2 ** logN, r, p, dkLen: 32, maxmem: 128 * r * (2 ** logN + p + 1) + 1024 * 1024 });
  try {
    return await subtle.importKey("raw", raw as BufferSource, "AES-GCM", false, [usage]);
  } finally {
    raw.fill(0);
  }
}

/** The random values one sealing draws. Only the test vectors pass them in; never reuse them. */
export type SecretKeySealRandomness = { salt: Uint8Array; iv: Uint8Array };

export async function sealSecretKey(paramSetId: string, secretKeyBytes: Uint8Array, passphrase: string, cost: Readonly<ScryptCost> = SCRYPT_DEFAULTS): Promise<Uint8Array> {
  const randomness = { salt: globalThis.crypto.getRandomValues(new Uint8Array(16)), iv: globalThis.crypto.getRandomValues(new Uint8Array(12)) };
  return sealSecretKeyWithRandomness(paramSetId, secretKeyBytes, passphrase, cost, randomness);
}

/** @internal `sealSecretKey` with its salt and IV given (test vectors only). */
export async function sealSecretKeyWithRandomness(
  paramSetId: string,
  secretKeyBytes: Uint8Array,
  passphrase: string,
  cost: Readonly<ScryptCost>,
  randomness: SecretKeySealRandomness,
): Promise<Uint8Array> {
  const { salt, iv } = randomness;
  if (salt.length !== 16 || iv.length !== 12) throw new RangeError("sealSecretKey: salt is 16 bytes, IV 12.");
  const key = await deriveKey(passphrase, salt, cost.logN, cost.r, cost.p, "encrypt");
  const bodyLength = 3 + 16 + 12 + secretKeyBytes.length + 16;
  // The header is authenticated: write it first with an empty body of the right length.
  const blob = writeBlob(
    { kind: "secretKey", codec: "raw", seeded: false, paramSetId, chainIndex: 0, ciphertextSize: 0, scaleLog2: 0, readings: 0 },
    new Uint8Array(bodyLength),
  );
  const body = payloadOf(blob);
  body.set([cost.logN, cost.r, cost.p], 0);
  body.set(salt, 3);
  body.set(iv, 19);
  // WebCrypto's AES-GCM output is ciphertext ‖ 16-byte tag: the layout written before.
  const sealed = await subtle.encrypt({ name: "AES-GCM", iv: iv as BufferSource, additionalData: blob.slice(0, 96) }, key, secretKeyBytes as BufferSource);
  body.set(new Uint8Array(sealed), 31);
  return blob;
}

/** Returns the SEAL secret-key bytes and parameter set; `WrongPassphraseError` if authentication fails. */
export async function openSecretKey(blob: Uint8Array, passphrase: string): Promise<{ paramSetId: string; secretKeyBytes: Uint8Array }> {
  const header = readBlobHeader(blob, "secretKey", 4 * 1024 * 1024);
  getParameterSet(header.paramSetId);
  const body = payloadOf(blob);
  if (body.length < 3 + 16 + 12 + 16 + 16) throw new MalformedBlobError("encrypted secret key too short");
  const [logN, r, p] = [body[0] as number, body[1] as number, body[2] as number];
  if (logN < 14 || logN > 20 || r < 1 || r > 32 || p < 1 || p > 4) throw new MalformedBlobError("scrypt cost outside the accepted range", { logN, r, p });
  const key = await deriveKey(passphrase, body.slice(3, 19), logN, r, p, "decrypt");
  let secretKeyBytes: ArrayBuffer;
  try {
    secretKeyBytes = await subtle.decrypt({ name: "AES-GCM", iv: body.slice(19, 31), additionalData: blob.slice(0, 96) }, key, body.slice(31));
  } catch {
    throw new WrongPassphraseError();
  }
  return { paramSetId: header.paramSetId, secretKeyBytes: new Uint8Array(secretKeyBytes) };
}
