import { ZeroHash } from "ethers";

import { sha256Hex, type Sha256Hex } from "../../core/hash.js";
import { sendTransaction } from "../chain/send.js";
import { requireGateway, type MedCipherClient } from "../client.js";
import { InvalidInputError } from "../errors.js";
import { checkKeySetToPublish, uploadKeySet, type KeySetToSave, type OnboardingStep } from "./registerPatient.js";

export type RotateKeySetParameters = {
  /** The new key set's serialized evaluation keys (fhe/). */
  evaluationKeys: Uint8Array;
  /** Its CKKS parameter-set id (bytes32); may differ from the current one. */
  paramSetId: string;
  /** Persists the new key set; called before anything is sent (see registerPatient). Keep the old one: results of requests made under it decrypt only with it. */
  saveKeySet?: (keySet: KeySetToSave) => Promise<void>;
  onProgress?: (step: OnboardingStep, detail: string) => void;
  receiptTimeoutMs?: number;
};

export type RotateKeySetReturnType = {
  keysHash: Sha256Hex;
  keysUri: string;
  /** The key set replaced (equal to keysHash when the rotation had already landed). */
  previousKeysHash: string;
  /** Absent when the chain already had this key set (a resumed rotation). */
  transactionHash?: string;
  alreadyRotated: boolean;
};

/**
 * Replaces the patient's key set: the new one is saved first, uploaded to the gateway, then the
 * registry's commitment is rotated (`KeySetRotated`, keyVersion + 1). Requests made from then on
 * are evaluated under the new keys. Calling it again with the same key set resumes (upload
 * again, no second transaction once the chain has it).
 *
 * @example
 * const next = await FheClient.generate("ckks-2048-v1");
 * await rotateKeySet(client, { evaluationKeys: next.evaluationKeys(), paramSetId: paramSetIdToBytes32(next.paramSetId), saveKeySet });
 */
export async function rotateKeySet(client: MedCipherClient, parameters: RotateKeySetParameters): Promise<RotateKeySetReturnType> {
  const gateway = requireGateway(client);
  if (parameters.paramSetId === ZeroHash) throw new InvalidInputError("paramSetId must not be zero.");
  checkKeySetToPublish(parameters.evaluationKeys, parameters.paramSetId);
  const keysHash = sha256Hex(parameters.evaluationKeys);
  const keysUri = `${gateway.url}/v1/blobs/${keysHash}`;
  const progress = parameters.onProgress ?? (() => undefined);

  const [currentHash] = await client.contracts.identity.keySetOf(client.address);
  if (currentHash === ZeroHash) throw new InvalidInputError(`${client.address} is not a registered patient: register first (registerPatient; CLI: medcipher patient register).`, { patient: client.address });
  const alreadyRotated = currentHash.toLowerCase() === keysHash;

  if (parameters.saveKeySet) {
    progress("save", `saving the key set ${keysHash}`);
    await parameters.saveKeySet({ keysHash, paramSetId: parameters.paramSetId, evaluationKeys: parameters.evaluationKeys });
  }
  await uploadKeySet(client, parameters.evaluationKeys, keysHash, progress);
  if (alreadyRotated) return { keysHash, keysUri, previousKeysHash: currentHash, alreadyRotated };

  progress("send", "sending the key-set rotation transaction");
  const receipt = await sendTransaction(
    "rotateKeySet",
    () => client.contracts.identity.rotateKeySet(keysHash, parameters.paramSetId, keysUri),
    { timeoutMs: parameters.receiptTimeoutMs, onSent: (hash) => progress("confirm", `waiting for ${hash}`) },
  );
  return { keysHash, keysUri, previousKeysHash: currentHash, transactionHash: receipt.hash, alreadyRotated };
}
