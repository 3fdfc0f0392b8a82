/**
 * ML-KEM-768 (FIPS 203, category 3) on WebCrypto: the post-quantum half of the hybrid key wrap
 * (sdk/crypto/hybrid.ts). Node ≥ 24.7 implements it natively (with an ExperimentalWarning);
 * browsers as they ship the WICG "modern algorithms" draft. Where `crypto.subtle` has no ML-KEM,
 * every call throws MlKemUnavailableError (code MLKEM_UNAVAILABLE) rather than a bare
 * NotSupportedError, so a caller can tell "this runtime cannot" from "this key is bad".
 *
 * A private key is kept as its 64-byte FIPS 203 seed (d ‖ z, "raw-seed"): the whole secret, from
 * which the 1184-byte encapsulation key is re-derived.
 */
import { base64UrlToBytes } from "../../core/bytes.js";
import { BaseError } from "../../core/errors.js";

const subtle = globalThis.crypto.subtle;

export const ML_KEM_768 = {
  name: "ML-KEM-768",
  seedBytes: 64,
  publicKeyBytes: 1184,
  ciphertextBytes: 1088,
  sharedSecretBytes: 32,
} as const;

const ALGORITHM = { name: ML_KEM_768.name } as const;
// "raw-seed" / "raw-public" and encapsulateBits / decapsulateBits are the draft's; TypeScript's DOM types do not know them yet.
const RAW_SEED = "raw-seed" as unknown as "raw";
const RAW_PUBLIC = "raw-public" as unknown as "raw";
type KemSubtle = {
  encapsulateBits(algorithm: Algorithm, key: CryptoKey): Promise<{ sharedKey: ArrayBuffer; ciphertext: ArrayBuffer }>;
  decapsulateBits(algorithm: Algorithm, key: CryptoKey, ciphertext: BufferSource): Promise<ArrayBuffer>;
};
const kem = subtle as unknown as Partial<KemSubtle>;

/** This runtime's WebCrypto has no ML-KEM-768 (an older browser or Node < 24.7). */
export class MlKemUnavailableError extends BaseError {
  override name = "MlKemUnavailableError";
  constructor(cause?: unknown) {
    super("This runtime's WebCrypto does not implement ML-KEM-768 (needs Node >= 24.7 or a browser with the WICG modern-algorithms draft).", { code: "MLKEM_UNAVAILABLE", cause });
  }
}

/** An ML-KEM key or ciphertext that is malformed (wrong length) or that WebCrypto refuses. */
export class MlKemKeyError extends BaseError {
  override name = "MlKemKeyError";
  constructor(problem: string, details?: Record<string, unknown>, cause?: unknown) {
    super(`Unusable ML-KEM-768 input: ${problem}.`, { code: "MLKEM_KEY_INVALID", details, cause });
  }
}

/** `seed` is the secret (64 bytes); `publicKey` the 1184-byte encapsulation key derived from it. */
export type MlKemKeyPair = { publicKey: Uint8Array; seed: Uint8Array };

function requireKem(): KemSubtle {
  if (typeof kem.encapsulateBits !== "function" || typeof kem.decapsulateBits !== "function") throw new MlKemUnavailableError();
  return kem as KemSubtle;
}

/** True when this runtime's WebCrypto can generate, encapsulate and decapsulate ML-KEM-768. */
export async function mlKemAvailable(): Promise<boolean> {
  try {
    await generateMlKemKeyPair();
    return true;
  } catch (error) {
    if (error instanceof MlKemUnavailableError) return false;
    throw error;
  }
}

/** A fresh key pair (the seed from WebCrypto's CSPRNG). */
export async function generateMlKemKeyPair(): Promise<MlKemKeyPair> {
  requireKem();
  let pair: CryptoKeyPair;
  try {
    pair = (await subtle.generateKey(ALGORITHM, true, ["encapsulateBits", "decapsulateBits"] as unknown as KeyUsage[])) as CryptoKeyPair;
  } catch (error) {
    throw new MlKemUnavailableError(error);
  }
  return {
    publicKey: new Uint8Array(await subtle.exportKey(RAW_PUBLIC, pair.publicKey)),
    seed: new Uint8Array(await subtle.exportKey(RAW_SEED, pair.privateKey)),
  };
}

/** The key pair of a stored seed: the encapsulation key is re-derived (JWK `pub` of the private key). */
export async function mlKemKeyPairFromSeed(seed: Uint8Array): Promise<MlKemKeyPair> {
  const readable = await importSeed(seed, true);
  const jwk = await subtle.exportKey("jwk", readable);
  const publicKey = base64UrlToBytes((jwk as { pub?: string }).pub ?? "");
  if (publicKey.length !== ML_KEM_768.publicKeyBytes) throw new MlKemKeyError("WebCrypto derived no encapsulation key from the seed");
  return { publicKey, seed: Uint8Array.from(seed) };
}

/** A fresh shared secret (32 B) and its ciphertext (1088 B) for the holder of `publicKey`. */
export async function mlKemEncapsulate(publicKey: Uint8Array): Promise<{ sharedSecret: Uint8Array; ciphertext: Uint8Array }> {
  const api = requireKem();
  if (publicKey.length !== ML_KEM_768.publicKeyBytes) throw new MlKemKeyError(`an encapsulation key is ${ML_KEM_768.publicKeyBytes} bytes`, { bytes: publicKey.length });
  let key: CryptoKey;
  try {
    key = await subtle.importKey(RAW_PUBLIC, publicKey as BufferSource, ALGORITHM, false, ["encapsulateBits"] as unknown as KeyUsage[]);
  } catch (error) {
    // FIPS 203's encapsulation-key check (coefficients reduced mod q) fails here.
    throw new MlKemKeyError("WebCrypto refused the encapsulation key", { bytes: publicKey.length }, error);
  }
  const { sharedKey, ciphertext } = await api.encapsulateBits(ALGORITHM, key);
  return { sharedSecret: new Uint8Array(sharedKey), ciphertext: new Uint8Array(ciphertext) };
}

/**
 * The shared secret of `ciphertext` under `seed`'s key. ML-KEM rejects implicitly: an altered
 * ciphertext of the right length yields an unrelated secret (the AEAD after it then fails), not
 * an error; a wrong-length one is an MlKemKeyError.
 */
export async function mlKemDecapsulate(seed: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array> {
  const api = requireKem();
  if (ciphertext.length !== ML_KEM_768.ciphertextBytes) throw new MlKemKeyError(`a ciphertext is ${ML_KEM_768.ciphertextBytes} bytes`, { bytes: ciphertext.length });
  const key = await importSeed(seed, false);
  return new Uint8Array(await api.decapsulateBits(ALGORITHM, key, ciphertext as BufferSource));
}

async function importSeed(seed: Uint8Array, extractable: boolean): Promise<CryptoKey> {
  requireKem();
  if (seed.length !== ML_KEM_768.seedBytes) throw new MlKemKeyError(`a seed is ${ML_KEM_768.seedBytes} bytes`, { bytes: seed.length });
  try {
    return await subtle.importKey(RAW_SEED, seed as BufferSource, ALGORITHM, extractable, ["decapsulateBits"] as unknown as KeyUsage[]);
  } catch (error) {
    throw new MlKemKeyError("WebCrypto refused the seed", undefined, error);
  }
}
