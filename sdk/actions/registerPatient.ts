import { hexlify, ZeroHash } from "ethers";

import { sha256Hex, type Sha256Hex } from "../../core/hash.js";
import { checkPublicKeysOnly } from "../../fhe/keys.js";
import { sendTransaction } from "../chain/send.js";
import { requireGateway, type MedCipherClient } from "../client.js";
import { Category } from "../../protocol/codes.js";
import { InvalidInputError } from "../errors.js";
import { paramSetIdFromBytes32 } from "../predictions.js";

/** The steps of onboarding, in the order they run; `onProgress` names each before it starts. */
export type OnboardingStep = "save" | "upload" | "send" | "confirm";

export type KeySetToSave = { keysHash: Sha256Hex; paramSetId: string; evaluationKeys: Uint8Array };

export type RegisterPatientParameters = {
  /** The patient's X25519 public key (32 bytes): records are wrapped to it. */
  encryptionPublicKey: Uint8Array;
  /** The serialized evaluation keys (public, relinearisation, Galois) from fhe/. */
  evaluationKeys: Uint8Array;
  /** The CKKS parameter-set id (bytes32) the keys belong to. */
  paramSetId: string;
  /**
   * Persists the whole key set (the CKKS secret key with these evaluation keys) and resolves once
   * it is durable. Called before anything is sent: a failure after it never loses the key. In
   * Node, `saveHeKeySet` (sdk/keystore.js) does it. Omit only when the caller saved it already.
   */
  saveKeySet?: (keySet: KeySetToSave) => Promise<void>;
  /** Progress: called as each step starts (the CLI prints these). */
  onProgress?: (step: OnboardingStep, detail: string) => void;
  /** Give up waiting for the registration receipt after this long (TimeoutError). Default: wait. */
  receiptTimeoutMs?: number;
};

export type RegisterPatientReturnType = {
  keysHash: Sha256Hex;
  keysUri: string;
  /** Absent when the patient was already registered with this key set (a resumed registration). */
  transactionHash?: string;
  /** True when the account was already registered with this key set: only the (idempotent) upload ran. */
  alreadyRegistered: boolean;
};

/**
 * Registers the client's account as a patient, in an order that cannot strand them: the key set
 * is saved first (`saveKeySet`), then the evaluation keys are uploaded to the gateway (it accepts
 * a key-set upload from an account that is not registered yet), then the registration
 * transaction commits to the keys' hash. Calling it again with the same key set resumes: the
 * upload is idempotent, and a patient already registered with this keysHash is not sent again.
 * A patient registered with another key set gets an InvalidInputError naming `rotateKeySet`.
 *
 * @example
 * await registerPatient(client, { encryptionPublicKey: encryptionKey.publicKey, evaluationKeys, paramSetId,
 *   saveKeySet: (k) => saveHeKeySet(keystoreFile, password, { ... }) });
 */
export async function registerPatient(client: MedCipherClient, parameters: RegisterPatientParameters): Promise<RegisterPatientReturnType> {
  const gateway = requireGateway(client);
  if (parameters.encryptionPublicKey.length !== 32) throw new InvalidInputError("encryptionPublicKey must be 32 bytes (X25519).");
  if (parameters.paramSetId === ZeroHash) throw new InvalidInputError("paramSetId must not be zero.");
  checkKeySetToPublish(parameters.evaluationKeys, parameters.paramSetId);
  const keysHash = sha256Hex(parameters.evaluationKeys);
  const keysUri = `${gateway.url}/v1/blobs/${keysHash}`;
  const progress = parameters.onProgress ?? (() => undefined);

  const [registeredHash] = await client.contracts.identity.keySetOf(client.address);
  const registered = registeredHash !== ZeroHash;
  if (registered && registeredHash.toLowerCase() !== keysHash) {
    throw new InvalidInputError(`${client.address} is already registered with another key set (${registeredHash}); rotate to a new one with rotateKeySet (CLI: medcipher patient rotate-keys).`, {
      patient: client.address, registeredKeysHash: registeredHash, keysHash,
    });
  }

  if (parameters.saveKeySet) {
    progress("save", `saving the key set ${keysHash}`);
    await parameters.saveKeySet({ keysHash, paramSetId: parameters.paramSetId, evaluationKeys: parameters.evaluationKeys });
  }
  await uploadKeySet(client, parameters.evaluationKeys, keysHash, progress);
  if (registered) return { keysHash, keysUri, alreadyRegistered: true };

  progress("send", "sending the registration transaction");
  const receipt = await sendTransaction(
    "registerPatient",
    () => client.contracts.identity.registerPatient(keysHash, parameters.paramSetId, keysUri, hexlify(parameters.encryptionPublicKey)),
    { timeoutMs: parameters.receiptTimeoutMs, onSent: (hash) => progress("confirm", `waiting for ${hash}`) },
  );
  return { keysHash, keysUri, transactionHash: receipt.hash, alreadyRegistered: false };
}

/**
 * Refuses, before anything is saved, uploaded or sent, a key set that is not public keys only of
 * the named parameter set (fhe/keys.ts checkPublicKeysOnly: the check the gateway and the oracle
 * run too). A secret key passed here by mistake throws NotPublicKeysError (FHE_NOT_PUBLIC_KEYS)
 * and never leaves the client.
 */
export function checkKeySetToPublish(evaluationKeys: Uint8Array, paramSetIdBytes32: string): void {
  checkPublicKeysOnly(evaluationKeys, paramSetIdFromBytes32(paramSetIdBytes32));
}

/**
 * Stores an evaluation-keys blob on the gateway, bound to its hash (`ref` = keysHash: the gateway
 * takes a key set from a not-yet-registered owner only in that form). Idempotent: a blob already
 * stored with the same metadata is answered 200.
 */
export async function uploadKeySet(client: MedCipherClient, evaluationKeys: Uint8Array, keysHash: Sha256Hex, progress: (step: OnboardingStep, detail: string) => void): Promise<void> {
  progress("upload", `uploading the evaluation keys (${evaluationKeys.length} bytes) to ${requireGateway(client).url}`);
  await requireGateway(client).put(evaluationKeys, { owner: client.address, kind: "he-keys", category: Category.PREDICTION, ref: keysHash });
}
