/**
 * A device's ML-DSA-65 key in its keystore (browser-safe). Only the 32-byte seed is secret and
 * kept; the public key is re-derived from it, and its keccak256 is kept beside it so the key a
 * keystore holds can be named (and compared with the chain's `pqKeyHash`) without the password.
 */
import { base64UrlToBytes, bytesToBase64Url } from "../../core/bytes.js";
import { createMlDsaSigner, mlDsaKeyPairFromSeed, mlDsaPublicKeyHash, type MlDsaKeyPair, type MlDsaSigner } from "../../core/crypto/mldsa.js";
import { KeystoreError } from "../errors.js";
import type { KeystoreSecrets, PqSigningKey } from "./format.js";

/** The keystore entry for `keyPair`. */
export function pqSigningKeyEntry(keyPair: MlDsaKeyPair): PqSigningKey {
  return { alg: "ML-DSA-65", seed: bytesToBase64Url(keyPair.seed), publicKeyHash: mlDsaPublicKeyHash(keyPair.publicKey), createdAt: new Date().toISOString() };
}

/** `secrets` with `entry` as the device's ML-DSA key, unless it holds one already (a device keeps one key; `replace` swaps it). */
export function withPqSigningKey(secrets: KeystoreSecrets, entry: PqSigningKey, options: { replace?: boolean } = {}): { secrets: KeystoreSecrets; added: boolean } {
  if (secrets.pqSigning && !options.replace) return { secrets, added: false };
  return { secrets: { ...secrets, pqSigning: entry }, added: true };
}

/** A signer for the keystore's ML-DSA key, or undefined when it holds none. KeystoreError if the entry is damaged. */
export async function pqSignerOf(secrets: KeystoreSecrets): Promise<MlDsaSigner | undefined> {
  const entry = secrets.pqSigning;
  if (!entry) return undefined;
  let keyPair: MlDsaKeyPair;
  try {
    keyPair = await mlDsaKeyPairFromSeed(base64UrlToBytes(entry.seed));
  } catch (error) {
    throw new KeystoreError("The keystore's ML-DSA-65 signing key is damaged.", error);
  }
  if (mlDsaPublicKeyHash(keyPair.publicKey) !== entry.publicKeyHash) throw new KeystoreError("The keystore's ML-DSA-65 key does not match its recorded public key hash.");
  const signer = await createMlDsaSigner(keyPair);
  keyPair.seed.fill(0);
  return signer;
}
