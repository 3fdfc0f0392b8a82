import { hexlify, ZeroHash } from "ethers";

import { sha256Hex, type Sha256Hex } from "../../core/hash.js";
import { sendTransaction } from "../chain/send.js";
import { requireGateway, type MedCipherClient } from "../client.js";
import { Category } from "../codes.js";
import { InvalidInputError } from "../errors.js";

export type RegisterPatientParameters = {
  /** The patient's X25519 public key (32 bytes): records are wrapped to it. */
  encryptionPublicKey: Uint8Array;
  /** The serialized evaluation keys (public, relinearisation, Galois) from fhe/. */
  evaluationKeys: Uint8Array;
  /** The CKKS parameter-set id (bytes32) the keys belong to. */
  paramSetId: string;
};

export type RegisterPatientReturnType = { keysHash: Sha256Hex; keysUri: string; transactionHash: string };

/**
 * Registers the client's account as a patient, then stores the evaluation keys on the gateway
 * (registration first: the gateway only stores blobs for registered patients; the keys' hash is
 * known before the upload, so the registry can commit to it).
 *
 * @example
 * await registerPatient(client, { encryptionPublicKey: encryptionKey.publicKey, evaluationKeys, paramSetId });
 */
export async function registerPatient(client: MedCipherClient, parameters: RegisterPatientParameters): Promise<RegisterPatientReturnType> {
  const gateway = requireGateway(client);
  if (parameters.encryptionPublicKey.length !== 32) throw new InvalidInputError("encryptionPublicKey must be 32 bytes (X25519).");
  if (parameters.paramSetId === ZeroHash) throw new InvalidInputError("paramSetId must not be zero.");
  const keysHash = sha256Hex(parameters.evaluationKeys);
  const keysUri = `${gateway.url}/v1/blobs/${keysHash}`;
  const receipt = await sendTransaction("registerPatient", () =>
    client.contracts.identity.registerPatient!(keysHash, parameters.paramSetId, keysUri, hexlify(parameters.encryptionPublicKey)));
  await gateway.put(parameters.evaluationKeys, { owner: client.address, kind: "he-keys", category: Category.PREDICTION });
  return { keysHash, keysUri, transactionHash: receipt.hash };
}
