/**
 * The hybrid encryption key in a keystore (browser-safe): the X25519 pair stays in `encryption`
 * (unchanged, so older readers keep working), the ML-KEM-768 seed is added beside it in
 * `hybridEncryption` with the hash of the whole public key, which names the key without the
 * password and is checked when the pair is rebuilt.
 */
import { getBytes, hexlify } from "ethers";

import { base64UrlToBytes, bytesToBase64Url } from "../../core/bytes.js";
import { hybridPublicKey, hybridPublicKeyHash, type HybridKeyPair, type RecipientKeyPair } from "../crypto/hybrid.js";
import { mlKemKeyPairFromSeed, type MlKemKeyPair } from "../crypto/mlkem.js";
import type { EncryptionKeyPair } from "../crypto/x25519.js";
import { KeystoreError } from "../errors.js";
import type { HybridEncryptionEntry, KeystoreSecrets } from "./format.js";

/** The keystore entry for `pair` (its X25519 half must be the keystore's `encryption` pair). */
export function hybridEncryptionEntry(pair: HybridKeyPair): HybridEncryptionEntry {
  return { alg: "X25519MLKEM768", mlkemSeed: bytesToBase64Url(pair.mlkem.seed), publicKeyHash: hybridPublicKeyHash(hybridPublicKey(pair)), createdAt: new Date().toISOString() };
}

/** The keystore's X25519 pair (`encryption`), or undefined when it holds none. */
export function x25519PairFromSecrets(secrets: KeystoreSecrets): EncryptionKeyPair | undefined {
  if (!secrets.encryption) return undefined;
  return { publicKey: getBytes(secrets.encryption.publicKey), privateKey: getBytes(secrets.encryption.privateKey) };
}

/**
 * `secrets` with `pair` as its hybrid key, unless it holds one already (`replace` swaps it).
 * The pair's X25519 half must be the keystore's `encryption` pair (it is written there when absent).
 */
export function withHybridEncryptionKey(secrets: KeystoreSecrets, pair: HybridKeyPair, options: { replace?: boolean } = {}): { secrets: KeystoreSecrets; added: boolean } {
  if (secrets.hybridEncryption && !options.replace) return { secrets, added: false };
  const x25519 = x25519PairFromSecrets(secrets);
  if (x25519 && hexlify(x25519.publicKey) !== hexlify(pair.x25519.publicKey)) throw new KeystoreError("The hybrid key's X25519 half is not the keystore's encryption key pair.");
  const encryption = secrets.encryption ?? { publicKey: hexlify(pair.x25519.publicKey), privateKey: hexlify(pair.x25519.privateKey) };
  return { secrets: { ...secrets, encryption, hybridEncryption: hybridEncryptionEntry(pair) }, added: true };
}

/**
 * The keystore's key pair for decrypting: the hybrid pair when it holds an ML-KEM seed, else the
 * X25519 pair, else undefined. KeystoreError if the hybrid entry is damaged or does not match.
 */
export async function recipientKeyFromSecrets(secrets: KeystoreSecrets): Promise<RecipientKeyPair | undefined> {
  const x25519 = x25519PairFromSecrets(secrets);
  const entry = secrets.hybridEncryption;
  if (!entry) return x25519;
  if (!x25519) throw new KeystoreError("The keystore has an ML-KEM-768 key but no X25519 encryption key pair: it is damaged.");
  let mlkem: MlKemKeyPair;
  try {
    mlkem = await mlKemKeyPairFromSeed(base64UrlToBytes(entry.mlkemSeed));
  } catch (error) {
    throw new KeystoreError("The keystore's ML-KEM-768 key is damaged (or this runtime has no ML-KEM-768).", error);
  }
  const pair = { x25519, mlkem };
  if (hybridPublicKeyHash(hybridPublicKey(pair)) !== entry.publicKeyHash) throw new KeystoreError("The keystore's hybrid encryption key does not match its recorded public key hash.");
  return pair;
}
