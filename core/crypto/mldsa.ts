/**
 * ML-DSA-65 (FIPS 204, category 3) on WebCrypto: the post-quantum signature a device puts on
 * every record batch it uploads (protocol/signedRecord.ts). Node ≥ 24.7 implements it natively
 * (with an ExperimentalWarning); browsers as they ship the WICG "modern algorithms" draft.
 *
 * Why -65 and not -44: it matches ML-KEM-768's category 3 (the hybrid key wrap), and a device
 * signs once per record batch (50 readings by default), not per reading, so its 3309-byte
 * signature and ~2 ms signing cost nothing that matters on a wearable.
 *
 * A key is kept as its 32-byte FIPS 204 seed ("raw-seed"): the whole secret, from which the
 * 1952-byte public key is re-derived. The chain knows the public key by its keccak256
 * (IdentityRegistry.bindDevicePq's `pqKeyHash`).
 */
import { keccak_256 } from "@noble/hashes/sha3.js";

import { base64UrlToBytes, bytesToHexString } from "../bytes.js";
import { BaseError } from "../errors.js";

const subtle = globalThis.crypto.subtle;

export const ML_DSA_65 = {
  name: "ML-DSA-65",
  seedBytes: 32,
  publicKeyBytes: 1952,
  signatureBytes: 3309,
  /** FIPS 204 caps the context string at 255 bytes. */
  maxContextBytes: 255,
} as const;

const ALGORITHM = { name: ML_DSA_65.name } as const;
// "raw-seed" and "raw-public" are the draft's formats; TypeScript's DOM types do not know them yet.
const RAW_SEED = "raw-seed" as unknown as "raw";
const RAW_PUBLIC = "raw-public" as unknown as "raw";

/** An ML-DSA key that is missing, malformed, or not usable with this runtime's WebCrypto. */
export class MlDsaKeyError extends BaseError {
  override name = "MlDsaKeyError";
  constructor(problem: string, details?: Record<string, unknown>, cause?: unknown) {
    super(`Unusable ML-DSA-65 key: ${problem}.`, { code: "MLDSA_KEY_INVALID", details, cause });
  }
}

/** `seed` is the secret (32 bytes); `publicKey` the raw 1952-byte key derived from it. */
export type MlDsaKeyPair = { seed: Uint8Array; publicKey: Uint8Array };

/**
 * A key ready to sign with: the seed imported once as a non-extractable CryptoKey. What the SDK
 * passes around (ingestReadings' `pqSigner`), so signing never re-imports the seed.
 */
export type MlDsaSigner = {
  publicKey: Uint8Array;
  /** keccak256(publicKey), 0x-hex: what the device's binding commits to on-chain. */
  publicKeyHash: string;
  sign(message: Uint8Array, context: Uint8Array): Promise<Uint8Array>;
};

/** A fresh key pair (the seed from WebCrypto's CSPRNG). */
export async function generateMlDsaKeyPair(): Promise<MlDsaKeyPair> {
  const pair = (await subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
  return {
    seed: new Uint8Array(await subtle.exportKey(RAW_SEED, pair.privateKey)),
    publicKey: new Uint8Array(await subtle.exportKey(RAW_PUBLIC, pair.publicKey)),
  };
}

/** The key pair of a stored seed: the public key is re-derived (JWK `pub` of the private key). */
export async function mlDsaKeyPairFromSeed(seed: Uint8Array): Promise<MlDsaKeyPair> {
  const readable = await importSeed(seed, true);
  const jwk = await subtle.exportKey("jwk", readable);
  const publicKey = base64UrlToBytes((jwk as { pub?: string }).pub ?? "");
  if (publicKey.length !== ML_DSA_65.publicKeyBytes) throw new MlDsaKeyError("WebCrypto derived no public key from the seed");
  return { seed: Uint8Array.from(seed), publicKey };
}

/** A signer for `keyPair` (its public key is checked against the seed: a mismatched pair is refused). */
export async function createMlDsaSigner(keyPair: MlDsaKeyPair): Promise<MlDsaSigner> {
  const derived = await mlDsaKeyPairFromSeed(keyPair.seed);
  if (!sameBytes(derived.publicKey, keyPair.publicKey)) throw new MlDsaKeyError("the public key is not the seed's");
  const privateKey = await importSeed(keyPair.seed, false);
  return {
    publicKey: derived.publicKey,
    publicKeyHash: mlDsaPublicKeyHash(derived.publicKey),
    sign: (message, context) => signWith(privateKey, message, context),
  };
}

/** Signs `message` under the FIPS 204 `context` string (domain separation); 3309-byte signature. */
export async function mlDsaSign(seed: Uint8Array, message: Uint8Array, context: Uint8Array): Promise<Uint8Array> {
  return signWith(await importSeed(seed, false), message, context);
}

/**
 * True only for a valid signature of `message` under `context` by `publicKey`. False for a wrong,
 * malformed or wrong-length signature; MlDsaKeyError for a public key that is not 1952 bytes
 * WebCrypto accepts (a caller's bug or a malformed record, not a forgery).
 */
export async function mlDsaVerify(publicKey: Uint8Array, signature: Uint8Array, message: Uint8Array, context: Uint8Array): Promise<boolean> {
  checkContext(context);
  const key = await importMlDsaPublicKey(publicKey);
  if (signature.length !== ML_DSA_65.signatureBytes) return false;
  try {
    return await subtle.verify({ ...ALGORITHM, context } as Algorithm, key, signature as BufferSource, message as BufferSource);
  } catch {
    return false;
  }
}

/** A raw public key as a CryptoKey (import once, verify many). */
export async function importMlDsaPublicKey(publicKey: Uint8Array): Promise<CryptoKey> {
  if (publicKey.length !== ML_DSA_65.publicKeyBytes) throw new MlDsaKeyError(`a public key is ${ML_DSA_65.publicKeyBytes} bytes`, { bytes: publicKey.length });
  try {
    return await subtle.importKey(RAW_PUBLIC, publicKey as BufferSource, ALGORITHM, true, ["verify"]);
  } catch (error) {
    throw new MlDsaKeyError("WebCrypto refused the public key", { bytes: publicKey.length }, error);
  }
}

/** keccak256 of the raw public key, 0x-hex: the on-chain `pqKeyHash`. */
export function mlDsaPublicKeyHash(publicKey: Uint8Array): string {
  if (publicKey.length !== ML_DSA_65.publicKeyBytes) throw new MlDsaKeyError(`a public key is ${ML_DSA_65.publicKeyBytes} bytes`, { bytes: publicKey.length });
  return `0x${bytesToHexString(keccak_256(publicKey))}`;
}

async function importSeed(seed: Uint8Array, extractable: boolean): Promise<CryptoKey> {
  if (seed.length !== ML_DSA_65.seedBytes) throw new MlDsaKeyError(`a seed is ${ML_DSA_65.seedBytes} bytes`, { bytes: seed.length });
  try {
    return await subtle.importKey(RAW_SEED, seed as BufferSource, ALGORITHM, extractable, ["sign"]);
  } catch (error) {
    throw new MlDsaKeyError("WebCrypto refused the seed (does this runtime implement ML-DSA-65?)", undefined, error);
  }
}

async function signWith(privateKey: CryptoKey, message: Uint8Array, context: Uint8Array): Promise<Uint8Array> {
  checkContext(context);
  return new Uint8Array(await subtle.sign({ ...ALGORITHM, context } as Algorithm, privateKey, message as BufferSource));
}

function checkContext(context: Uint8Array): void {
  if (context.length > ML_DSA_65.maxContextBytes) throw new RangeError(`An ML-DSA context is at most ${ML_DSA_65.maxContextBytes} bytes, not ${context.length}.`);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
