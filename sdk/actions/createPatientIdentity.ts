import { Wallet } from "ethers";

import { generateEncryptionKeyPair, type EncryptionKeyPair } from "../crypto/x25519.js";

export type CreatePatientIdentityReturnType = { wallet: Wallet; encryptionKey: EncryptionKeyPair };

/**
 * A fresh patient (or clinician, or device) identity: an Ethereum wallet and an X25519 key pair
 * for receiving wrapped record keys. The CKKS key set comes from the fhe/ engine (`FheClient`) and
 * is registered with `registerPatient`. Store the result with `writeKeystore`.
 *
 * @example
 * const { wallet, encryptionKey } = await createPatientIdentity();
 */
export async function createPatientIdentity(): Promise<CreatePatientIdentityReturnType> {
  const wallet = Wallet.createRandom();
  return { wallet: new Wallet(wallet.privateKey), encryptionKey: await generateEncryptionKeyPair() };
}
