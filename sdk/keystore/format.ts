/**
 * The keystore format, browser-safe: one JSON document holding the secrets of one person or
 * device — the Ethereum private key, the X25519 encryption key pair and (for patients) the CKKS
 * key sets — encrypted with AES-256-GCM (WebCrypto) under a key derived from a password with
 * scrypt (@noble/hashes in browsers: WebCrypto has no scrypt; node:crypto's under Node). The
 * address is the GCM additional data.
 *
 * The bytes are those the CLI has always written (node:crypto scrypt + AES-GCM), so a file the
 * CLI wrote opens in a browser and a browser's backup opens in the CLI
 * (test/sdk/keystoreFormat.test.ts checks fixtures recorded with the old code).
 */
import { scryptAsync } from "@noble/hashes/scrypt.js";
import { decodeBase64, encodeBase64, toUtf8Bytes, toUtf8String } from "ethers";

import { KeystoreError } from "../errors.js";

export type KeystoreSecrets = {
  /** 0x-hex secp256k1 private key; absent when the account lives in a browser wallet (EIP-1193) and the keystore keeps the rest. */
  privateKey?: string;
  /** X25519 key pair, base64url. */
  encryption?: { publicKey: string; privateKey: string };
  /**
   * Serialized CKKS secret key (base64) of the newest key set; kept for keystores written before
   * `heKeySets` (read it through `heKeySetsOf`).
   */
  heSecretKey?: string;
  /**
   * Every CKKS key set this identity made, oldest first. The chain's `keySetOf` says which one is
   * current; older ones stay until the patient deletes them (results of requests made under
   * them still decrypt), a newer one not yet on-chain is a registration or rotation to resume.
   */
  heKeySets?: HeKeySet[];
  /** A device's ML-DSA-65 signing key (./pqSigningKey.ts), for bindings made with bindDevicePq. */
  pqSigning?: PqSigningKey;
  /**
   * The ML-KEM-768 half of the hybrid encryption key (./hybridEncryptionKey.ts); its X25519 half is
   * `encryption`. Keystores written before have none and still open (X25519 only).
   */
  hybridEncryption?: HybridEncryptionEntry;
  /** Anything else the owner wants kept encrypted (e.g. record salts index). */
  extra?: Record<string, unknown>;
};

/** A device's ML-DSA-65 key: the 32-byte FIPS 204 seed (base64url; the public key is derived from it) and keccak256 of the public key. */
export type PqSigningKey = { alg: "ML-DSA-65"; seed: string; publicKeyHash: string; createdAt: string };

/**
 * The ML-KEM-768 seed (64 B, base64url; the encapsulation key is derived from it) and keccak256 of
 * the whole 1216-byte hybrid public key (`encryption`'s X25519 public ‖ the ML-KEM key): what
 * `hybridEncryptionKeyOf(account).keyHash` holds once it is published.
 */
export type HybridEncryptionEntry = { alg: "X25519MLKEM768"; mlkemSeed: string; publicKeyHash: string; createdAt: string };

/** One CKKS key set, whole: enough to decrypt (secret key) and to re-publish (evaluation keys). */
export type HeKeySet = {
  /** SHA-256 of `evaluationKeys`: the on-chain keysHash and the gateway blob id. */
  keysHash: string;
  /** The fhe/ parameter set, e.g. "ckks-2048-v1". */
  paramSet: string;
  /** `FheClient.exportSecretKey(password)`, base64. */
  secretKey: string;
  /** The exact evaluation-keys blob published (base64): its public key is sampled afresh per call, so it cannot be re-derived. */
  evaluationKeys: string;
  createdAt: string;
};

/** The encrypted document, field for field (and in this order) as the CLI writes it. */
export type KeystoreJson = {
  version: 1;
  address: string;
  kdf: { name: "scrypt"; N: number; r: number; p: number; salt: string };
  cipher: { name: "aes-256-gcm"; iv: string; tag: string };
  ciphertext: string;
};

/** N = 2^17 (~128 MiB; ~0.3–0.6 s with node:crypto, ~0.6–0.9 s with @noble in Node, ~1–2 s in Chromium) by default; tests pass a smaller cost. */
export type KdfCost = { N: number; r: number; p: number };
export const DEFAULT_KDF: KdfCost = { N: 1 << 17, r: 8, p: 1 };

export type OpenedKeystore = { address: string; secrets: KeystoreSecrets; kdf: KdfCost };

const TAG_BYTES = 16;

/** WebCrypto's types want bytes on a plain ArrayBuffer; ethers' helpers type theirs more loosely. */
function plain(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}

type NativeScrypt = {
  scrypt(password: string, salt: Uint8Array, keylen: number, options: KdfCost & { maxmem: number }, callback: (error: Error | null, key: Uint8Array) => void): void;
};

/**
 * Under Node, scrypt runs on node:crypto (OpenSSL, ~0.3–0.6 s at N=2^17 against ~0.6–0.9 s for the
 * pure-JS one: every CLI command opens a keystore), reached through `process.getBuiltinModule` —
 * a runtime lookup, not an import, so bundles and browsers never see a Node built-in.
 */
const nativeCrypto = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.("node:crypto") as NativeScrypt | undefined;

/**
 * The 32-byte keystore key: scrypt over the NFKC-normalised password (so that the same password
 * typed on two keyboards, composed or decomposed, opens the file). `portable` forces the pure-JS
 * implementation browsers run (tests compare the two).
 */
export async function keystoreKeyBytes(password: string, salt: Uint8Array, cost: KdfCost, options: { portable?: boolean } = {}): Promise<Uint8Array> {
  const normalized = password.normalize("NFKC");
  const params = { N: cost.N, r: cost.r, p: cost.p, maxmem: 256 * cost.N * cost.r + 1024 * 1024 };
  if (nativeCrypto && !options.portable) {
    return new Promise((resolve, reject) => nativeCrypto.scrypt(normalized, salt, 32, params, (error, key) => (error ? reject(error) : resolve(new Uint8Array(key)))));
  }
  return scryptAsync(normalized, salt, { ...params, dkLen: 32 });
}

async function deriveKey(password: string, salt: Uint8Array, cost: KdfCost, usage: KeyUsage): Promise<CryptoKey> {
  const bytes = plain(await keystoreKeyBytes(password, salt, cost));
  try {
    return await crypto.subtle.importKey("raw", bytes, "AES-GCM", false, [usage]);
  } finally {
    bytes.fill(0);
  }
}

/** Encrypts `secrets` for `address` under `password` (fresh salt and IV). */
export async function encryptKeystore(address: string, secrets: KeystoreSecrets, password: string, cost: KdfCost = DEFAULT_KDF): Promise<KeystoreJson> {
  const salt = crypto.getRandomValues(new Uint8Array(32));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await deriveKey(password, salt, cost, "encrypt");
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: plain(toUtf8Bytes(address.toLowerCase())), tagLength: TAG_BYTES * 8 }, key, plain(toUtf8Bytes(JSON.stringify(secrets)))),
  );
  // WebCrypto appends the tag; the file keeps it apart (as node:crypto's getAuthTag gave it).
  return {
    version: 1,
    address,
    kdf: { name: "scrypt", N: cost.N, r: cost.r, p: cost.p, salt: encodeBase64(salt) },
    cipher: { name: "aes-256-gcm", iv: encodeBase64(iv), tag: encodeBase64(sealed.subarray(sealed.length - TAG_BYTES)) },
    ciphertext: encodeBase64(sealed.subarray(0, sealed.length - TAG_BYTES)),
  };
}

/** Parses and shape-checks a keystore document (text as the CLI writes it, or already parsed). */
export function parseKeystore(input: string | unknown, source = "keystore"): KeystoreJson {
  let value: unknown = input;
  if (typeof input === "string") {
    try {
      value = JSON.parse(input);
    } catch (error) {
      throw new KeystoreError(`${source} is not JSON.`, error);
    }
  }
  const file = value as Partial<KeystoreJson> | null;
  const wellFormed =
    file !== null && typeof file === "object" && file.version === 1 && typeof file.address === "string" &&
    file.kdf?.name === "scrypt" && [file.kdf.N, file.kdf.r, file.kdf.p].every(Number.isSafeInteger) && typeof file.kdf.salt === "string" &&
    file.cipher?.name === "aes-256-gcm" && typeof file.cipher.iv === "string" && typeof file.cipher.tag === "string" && typeof file.ciphertext === "string";
  if (!wellFormed) throw new KeystoreError(`Unsupported keystore format in ${source}.`);
  return file as KeystoreJson;
}

/** The text of a keystore document exactly as the CLI writes its files (a backup `medcipher --keystore` opens). */
export function serializeKeystore(file: KeystoreJson): string {
  return JSON.stringify(file, null, 2);
}

/** Decrypts a keystore document. Throws `KeystoreError` on a wrong password or an altered document. */
export async function decryptKeystore(input: string | KeystoreJson, password: string, source = "keystore"): Promise<OpenedKeystore> {
  const file = parseKeystore(input, source);
  const { N, r, p } = file.kdf;
  const key = await deriveKey(password, decodeBase64(file.kdf.salt), { N, r, p }, "decrypt");
  let plaintext: Uint8Array;
  try {
    const ciphertext = decodeBase64(file.ciphertext);
    const tag = decodeBase64(file.cipher.tag);
    const sealed = new Uint8Array(ciphertext.length + tag.length);
    sealed.set(ciphertext);
    sealed.set(tag, ciphertext.length);
    plaintext = new Uint8Array(
      await crypto.subtle.decrypt({ name: "AES-GCM", iv: plain(decodeBase64(file.cipher.iv)), additionalData: plain(toUtf8Bytes(file.address.toLowerCase())), tagLength: tag.length * 8 }, key, sealed),
    );
  } catch (error) {
    throw new KeystoreError("Wrong keystore password, or the keystore file was altered.", error);
  }
  return { address: file.address, secrets: JSON.parse(toUtf8String(plaintext)) as KeystoreSecrets, kdf: { N, r, p } };
}

/** The identity's key sets, oldest first (a pre-`heKeySets` keystore's lone secret key has no evaluation keys, hash unknown). */
export function heKeySetsOf(secrets: KeystoreSecrets): HeKeySet[] {
  return secrets.heKeySets ?? [];
}

/** `secrets` with `keySet` added (and made the newest), unless one with its keysHash is there. */
export function withHeKeySet(secrets: KeystoreSecrets, keySet: HeKeySet): { secrets: KeystoreSecrets; added: boolean } {
  const keySets = heKeySetsOf(secrets);
  if (keySets.some((k) => k.keysHash === keySet.keysHash)) return { secrets, added: false };
  return { secrets: { ...secrets, heKeySets: [...keySets, keySet], heSecretKey: keySet.secretKey }, added: true };
}

/** `secrets` without the key set `keysHash`. */
export function withoutHeKeySet(secrets: KeystoreSecrets, keysHash: string): { secrets: KeystoreSecrets; removed: boolean } {
  const keySets = heKeySetsOf(secrets);
  const kept = keySets.filter((k) => k.keysHash !== keysHash);
  if (kept.length === keySets.length) return { secrets, removed: false };
  return { secrets: { ...secrets, heKeySets: kept, heSecretKey: kept.at(-1)?.secretKey }, removed: true };
}
