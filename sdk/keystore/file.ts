/**
 * Keystore files (Node): the format of ./format.ts, one document per file, rewritten atomically
 * so that a crash mid-write leaves the old file or the new one, never half of either.
 */
import { readFile } from "node:fs/promises";

import { writeFileAtomic } from "../../core/node/atomicFile.js";
import { KeystoreError } from "../errors.js";
import { withAnonymousRequest } from "../privacy/anonymousSecrets.js";
import type { AnonymousRequestSecrets } from "../privacy/requestPredictionAnonymous.js";
import {
  decryptKeystore, DEFAULT_KDF, encryptKeystore, parseKeystore, serializeKeystore, withHeKeySet, withoutHeKeySet,
  type HeKeySet, type KdfCost, type KeystoreSecrets, type OpenedKeystore, type PqSigningKey,
} from "./format.js";
import type { HybridKeyPair } from "../crypto/hybrid.js";
import { recipientKeyFromSecrets, withHybridEncryptionKey } from "./hybridEncryptionKey.js";
import { withPqSigningKey } from "./pqSigningKey.js";

export async function writeKeystore(path: string, address: string, secrets: KeystoreSecrets, password: string, cost: KdfCost = DEFAULT_KDF): Promise<void> {
  await writeFileAtomic(path, serializeKeystore(await encryptKeystore(address, secrets, password, cost)));
}

async function readKeystoreText(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new KeystoreError(`Cannot read keystore ${path}.`, error);
  }
}

export async function readKeystore(path: string, password: string): Promise<OpenedKeystore> {
  return decryptKeystore(await readKeystoreText(path), password, path);
}

/** The public address of a keystore without decrypting it. */
export async function keystoreAddress(path: string): Promise<string> {
  return parseKeystore(await readKeystoreText(path), path).address;
}

/**
 * Adds a key set to the keystore at `path` (read, add, atomic rewrite under the same password and
 * KDF cost), unless one with the same keysHash is there. Call it before anything about the key
 * set is sent anywhere: from then on a lost connection or a killed process cannot lose the key.
 */
export async function saveHeKeySet(path: string, password: string, keySet: HeKeySet): Promise<{ saved: boolean }> {
  const { address, secrets, kdf } = await readKeystore(path, password);
  const next = withHeKeySet(secrets, keySet);
  if (next.added) await writeKeystore(path, address, next.secrets, password, kdf);
  return { saved: next.added };
}

/** Removes a key set (the patient no longer needs to decrypt anything made under it). */
export async function deleteHeKeySet(path: string, password: string, keysHash: string): Promise<{ deleted: boolean }> {
  const { address, secrets, kdf } = await readKeystore(path, password);
  const next = withoutHeKeySet(secrets, keysHash);
  if (next.removed) await writeKeystore(path, address, next.secrets, password, kdf);
  return { deleted: next.removed };
}

/**
 * Adds an anonymous request's secrets (its one-time accessKey and fresh CKKS secret key) to the
 * keystore at `path`, encrypted like the rest; see sdk/privacy/anonymousSecrets.ts.
 */
export async function saveAnonymousRequest(path: string, password: string, entry: AnonymousRequestSecrets): Promise<{ saved: boolean }> {
  const { address, secrets, kdf } = await readKeystore(path, password);
  const next = withAnonymousRequest(secrets, entry);
  if (next.added) await writeKeystore(path, address, next.secrets, password, kdf);
  return { saved: next.added };
}

/**
 * Adds a device's ML-DSA-65 key to the keystore at `path` unless it holds one (then the kept
 * entry is returned): save it before binding, so the key the chain commits to is never lost.
 */
export async function savePqSigningKey(path: string, password: string, entry: PqSigningKey): Promise<{ saved: boolean; entry: PqSigningKey }> {
  const { address, secrets, kdf } = await readKeystore(path, password);
  const next = withPqSigningKey(secrets, entry);
  if (next.added) await writeKeystore(path, address, next.secrets, password, kdf);
  return { saved: next.added, entry: next.secrets.pqSigning! };
}

/**
 * Adds a hybrid key (the ML-KEM-768 seed beside the X25519 pair) to the keystore at `path` unless
 * it holds one: save it before publishing, so the key the chain names is never lost. Returns the
 * pair the keystore holds afterwards.
 */
export async function saveHybridEncryptionKey(path: string, password: string, pair: HybridKeyPair): Promise<{ saved: boolean; pair: HybridKeyPair }> {
  const { address, secrets, kdf } = await readKeystore(path, password);
  const next = withHybridEncryptionKey(secrets, pair);
  if (next.added) await writeKeystore(path, address, next.secrets, password, kdf);
  const kept = await recipientKeyFromSecrets(next.secrets);
  return { saved: next.added, pair: kept as HybridKeyPair };
}
