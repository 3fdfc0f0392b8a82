import { Wallet } from "ethers";

import type { FheClient } from "../../fhe/client.js";
import { generateHybridKeyPair, type HybridKeyPair } from "../crypto/hybrid.js";
import { MlKemUnavailableError } from "../crypto/mlkem.js";
import { generateEncryptionKeyPair, type EncryptionKeyPair } from "../crypto/x25519.js";

export type CreatePatientIdentityParameters = {
  /** Also generate a CKKS key set for this fhe/ parameter set (e.g. "ckks-2048-v1"). */
  paramSetId?: string;
};

export type CreatePatientIdentityReturnType = {
  wallet: Wallet;
  /** The X25519 pair (what `registerPatient` registers). */
  encryptionKey: EncryptionKeyPair;
  /**
   * The hybrid pair: `encryptionKey` (the same X25519 pair) and an ML-KEM-768 pair. Publish it
   * with `publishHybridEncryptionKey` and pass it as the client's `encryptionKey` to be wrapped
   * post-quantum; it opens what was wrapped to the X25519 key alone too. Keep `mlkem.seed` secret.
   * Absent where WebCrypto has no ML-KEM-768 (an older browser): the identity is X25519 only.
   */
  hybridKey?: HybridKeyPair;
  /** The CKKS key set, when `paramSetId` was given: `fhe.evaluationKeys()` goes to `registerPatient`. */
  fhe?: FheClient;
};

/**
 * A fresh patient (or clinician, or device) identity: an Ethereum wallet, an X25519 key pair for
 * receiving wrapped record keys, the hybrid (X25519 + ML-KEM-768) pair built on it and, for patients, a CKKS key set. Keep the secrets with
 * `writeKeystore`, then register with `registerPatient`, whose `saveKeySet` puts the CKKS key
 * set in the keystore before anything is sent. Call `fhe.evaluationKeys()` once and keep the
 * bytes: every call samples a new public key, hence a new keysHash.
 *
 * @example
 * const { wallet, encryptionKey, fhe } = await createPatientIdentity({ paramSetId: "ckks-2048-v1" });
 * await writeKeystore(file, wallet.address, { privateKey: wallet.privateKey }, password);
 * const evaluationKeys = fhe!.evaluationKeys();
 * const keySet = await heKeySetEntry(fhe!, evaluationKeys, password);
 * await registerPatient(client, { encryptionPublicKey: encryptionKey.publicKey, evaluationKeys, paramSetId: paramSetIdToBytes32(fhe!.paramSetId),
 *   saveKeySet: () => saveHeKeySet(file, password, keySet).then(() => undefined) });
 */
export async function createPatientIdentity(parameters: CreatePatientIdentityParameters = {}): Promise<CreatePatientIdentityReturnType> {
  const wallet = new Wallet(Wallet.createRandom().privateKey);
  const encryptionKey = await generateEncryptionKeyPair();
  const hybridKey = await hybridPairOn(encryptionKey);
  if (!parameters.paramSetId) return { wallet, encryptionKey, hybridKey };
  // Loaded only when asked for: node-seal's WebAssembly is large.
  const { FheClient } = await import("../../fhe/client.js");
  return { wallet, encryptionKey, hybridKey, fhe: await FheClient.generate(parameters.paramSetId) };
}

/** The hybrid pair on `x25519`, or undefined where this runtime has no ML-KEM-768 (never a reason to fail onboarding). */
async function hybridPairOn(x25519: EncryptionKeyPair): Promise<HybridKeyPair | undefined> {
  try {
    return await generateHybridKeyPair(x25519);
  } catch (error) {
    if (error instanceof MlKemUnavailableError) return undefined;
    throw error;
  }
}
