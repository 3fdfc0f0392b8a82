import { Wallet } from "ethers";

import type { FheClient } from "../../fhe/index.js";
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
 * receiving wrapped record keys and, for patients, a CKKS key set. Register it with
 * `registerPatient`; keep the secrets with `writeKeystore` (the CKKS secret key via
 * `fhe.exportSecretKey(passphrase)`).
 *
 * @example
 * const { wallet, encryptionKey, fhe } = await createPatientIdentity({ paramSetId: "ckks-2048-v1" });
 * await registerPatient(client, { encryptionPublicKey: encryptionKey.publicKey, evaluationKeys: fhe!.evaluationKeys(), paramSetId: paramSetIdToBytes32(fhe!.paramSetId) });
 */
export async function createPatientIdentity(parameters: CreatePatientIdentityParameters = {}): Promise<CreatePatientIdentityReturnType> {
  const wallet = new Wallet(Wallet.createRandom().privateKey);
  const encryptionKey = await generateEncryptionKeyPair();
  if (!parameters.paramSetId) return { wallet, encryptionKey };
  // Loaded only when asked for: node-seal's WebAssembly is large.
  const { FheClient } = await import("../../fhe/index.js");
  return { wallet, encryptionKey, fhe: await FheClient.generate(parameters.paramSetId) };
}
