import { Wallet } from "ethers";

import type { FheClient } from "../../fhe/client.js";
import { generateEncryptionKeyPair, type EncryptionKeyPair } from "../crypto/x25519.js";

export type CreatePatientIdentityParameters = {
  /** Also generate a CKKS key set for this fhe/ parameter set (e.g. "ckks-2048-v1"). */
  paramSetId?: string;
};

export type CreatePatientIdentityReturnType = {
  wallet: Wallet;
  encryptionKey: EncryptionKeyPair;
  /** The CKKS key set, when `paramSetId` was given: `fhe.evaluationKeys()` goes to `registerPatient`. */
  fhe?: FheClient;
};

/**
 * A fresh patient (or clinician, or device) identity: an Ethereum wallet, an X25519 key pair for
 * receiving wrapped record keys and, for patients, a CKKS key set. Keep the secrets with
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
  if (!parameters.paramSetId) return { wallet, encryptionKey };
  // Loaded only when asked for: node-seal's WebAssembly is large.
  const { FheClient } = await import("../../fhe/client.js");
  return { wallet, encryptionKey, fhe: await FheClient.generate(parameters.paramSetId) };
}
