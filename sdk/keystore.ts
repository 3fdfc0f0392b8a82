/**
 * The encrypted local keystore: one JSON file holding the secrets of one person or device —
 * the Ethereum private key, the X25519 encryption key pair and (for patients) the CKKS secret key
 * set — encrypted with AES-256-GCM under a key derived from a password with scrypt.
 * Node only (scrypt from node:crypto); browsers keep keys in their own storage.
 */
import { randomBytes, scrypt as scryptCallback, createCipheriv, createDecipheriv } from "node:crypto";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";

import { sha256Hex } from "../core/hash.js";
import { writeFileAtomic } from "../core/node/atomicFile.js";
import { KeystoreError } from "./errors.js";

const scrypt = promisify(scryptCallback) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

export type KeystoreSecrets = {
  /** 0x-hex secp256k1 private key. */
  privateKey: string;
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
  /** Anything else the owner wants kept encrypted (e.g. record salts index). */
  extra?: Record<string, unknown>;
};

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

type KeystoreFile = {
  version: 1;
  address: string;
  kdf: { name: "scrypt"; N: number; r: number; p: number; salt: string };
  cipher: { name: "aes-256-gcm"; iv: string; tag: string };
  ciphertext: string;
};

/** N = 2^17 (~128 MiB, ~0.3 s here) by default; tests pass a smaller cost. */
export type KdfCost = { N: number; r: number; p: number };
export const DEFAULT_KDF: KdfCost = { N: 1 << 17, r: 8, p: 1 };

async function deriveKey(password: string, salt: Buffer, cost: KdfCost): Promise<Buffer> {
  return scrypt(password.normalize("NFKC"), salt, 32, { ...cost, maxmem: 256 * cost.N * cost.r + 1024 * 1024 });
}

export async function writeKeystore(path: string, address: string, secrets: KeystoreSecrets, password: string, cost: KdfCost = DEFAULT_KDF): Promise<void> {
  const salt = randomBytes(32);
  const iv = randomBytes(12);
  const key = await deriveKey(password, salt, cost);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(address.toLowerCase()));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(secrets), "utf8"), cipher.final()]);
  const file: KeystoreFile = {
    version: 1,
    address,
    kdf: { name: "scrypt", ...cost, salt: salt.toString("base64") },
    cipher: { name: "aes-256-gcm", iv: iv.toString("base64"), tag: cipher.getAuthTag().toString("base64") },
    ciphertext: ciphertext.toString("base64"),
  };
  await writeFileAtomic(path, JSON.stringify(file, null, 2));
}

export async function readKeystore(path: string, password: string): Promise<{ address: string; secrets: KeystoreSecrets; kdf: KdfCost }> {
  let file: KeystoreFile;
  try {
    file = JSON.parse(await readFile(path, "utf8")) as KeystoreFile;
  } catch (error) {
    throw new KeystoreError(`Cannot read keystore ${path}.`, error);
  }
  if (file.version !== 1 || file.kdf?.name !== "scrypt") throw new KeystoreError(`Unsupported keystore format in ${path}.`);
  const key = await deriveKey(password, Buffer.from(file.kdf.salt, "base64"), file.kdf);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(file.cipher.iv, "base64"));
    decipher.setAAD(Buffer.from(file.address.toLowerCase()));
    decipher.setAuthTag(Buffer.from(file.cipher.tag, "base64"));
    const plaintext = Buffer.concat([decipher.update(Buffer.from(file.ciphertext, "base64")), decipher.final()]);
    const { N, r, p } = file.kdf;
    return { address: file.address, secrets: JSON.parse(plaintext.toString("utf8")) as KeystoreSecrets, kdf: { N, r, p } };
  } catch (error) {
    throw new KeystoreError("Wrong keystore password, or the keystore file was altered.", error);
  }
}

/** The public address of a keystore without decrypting it. */
export async function keystoreAddress(path: string): Promise<string> {
  const file = JSON.parse(await readFile(path, "utf8")) as KeystoreFile;
  return file.address;
}

/** The identity's key sets, oldest first (a pre-`heKeySets` keystore's lone secret key has no evaluation keys, hash unknown). */
export function heKeySetsOf(secrets: KeystoreSecrets): HeKeySet[] {
  return secrets.heKeySets ?? [];
}

/**
 * Adds a key set to the keystore at `path` (read, add, atomic rewrite under the same password and
 * KDF cost), unless one with the same keysHash is there. Call it before anything about the key
 * set is sent anywhere: from then on a lost connection or a killed process cannot lose the key.
 */
export async function saveHeKeySet(path: string, password: string, keySet: HeKeySet): Promise<{ saved: boolean }> {
  const { address, secrets, kdf } = await readKeystore(path, password);
  const keySets = heKeySetsOf(secrets);
  if (keySets.some((k) => k.keysHash === keySet.keysHash)) return { saved: false };
  await writeKeystore(path, address, { ...secrets, heKeySets: [...keySets, keySet], heSecretKey: keySet.secretKey }, password, kdf);
  return { saved: true };
}

/** Removes a key set (the patient no longer needs to decrypt anything made under it). */
export async function deleteHeKeySet(path: string, password: string, keysHash: string): Promise<{ deleted: boolean }> {
  const { address, secrets, kdf } = await readKeystore(path, password);
  const keySets = heKeySetsOf(secrets);
  const kept = keySets.filter((k) => k.keysHash !== keysHash);
  if (kept.length === keySets.length) return { deleted: false };
  const heSecretKey = kept.at(-1)?.secretKey;
  await writeKeystore(path, address, { ...secrets, heKeySets: kept, heSecretKey }, password, kdf);
  return { deleted: true };
}

/**
 * The keystore entry for a freshly generated key set: the secret key exported under the keystore
 * password, with the exact evaluation-keys blob that will be published.
 */
export async function heKeySetEntry(fhe: { readonly paramSetId: string; exportSecretKey(passphrase: string): Promise<Uint8Array> }, evaluationKeys: Uint8Array, password: string): Promise<HeKeySet> {
  return {
    keysHash: sha256Hex(evaluationKeys),
    paramSet: fhe.paramSetId,
    secretKey: Buffer.from(await fhe.exportSecretKey(password)).toString("base64"),
    evaluationKeys: Buffer.from(evaluationKeys).toString("base64"),
    createdAt: new Date().toISOString(),
  };
}
