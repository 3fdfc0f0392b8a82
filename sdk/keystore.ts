/**
 * The encrypted local keystore: one JSON file holding the secrets of one person or device —
 * the Ethereum private key, the X25519 encryption key pair and (for patients) the CKKS secret key
 * set — encrypted with AES-256-GCM under a key derived from a password with scrypt.
 * Node only (scrypt from node:crypto); browsers keep keys in their own storage.
 */
import { randomBytes, scrypt as scryptCallback, createCipheriv, createDecipheriv } from "node:crypto";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";

import { writeFileAtomic } from "../gateway/store/atomicFile.js";
import { KeystoreError } from "./errors.js";

const scrypt = promisify(scryptCallback) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

export type KeystoreSecrets = {
  /** 0x-hex secp256k1 private key. */
  privateKey: string;
  /** X25519 key pair, base64url. */
  encryption?: { publicKey: string; privateKey: string };
  /** Serialized CKKS secret key (base64), when this identity has an HE key set. */
  heSecretKey?: string;
  /** Anything else the owner wants kept encrypted (e.g. record salts index). */
  extra?: Record<string, unknown>;
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
