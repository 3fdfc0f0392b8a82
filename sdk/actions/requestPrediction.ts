import { getAddress } from "ethers";

import type { Sha256Hex } from "../../core/hash.js";
import type { FheClient, Reading as FeatureReading } from "../../fhe/index.js";
import { sendTransaction } from "../chain/send.js";
import { requireGateway, type MedCipherClient } from "../client.js";
import { Category, Purpose } from "../../protocol/codes.js";
import { eventsIn } from "../../protocol/contracts.js";
import { ChainError } from "../errors.js";
import { currentKeysHash, requireKeySet } from "../keySets.js";
import { resolveRegisteredModel, type ModelSources } from "../predictions.js";

export type RequestPredictionParameters = {
  /** On-chain model id (ModelRegistry). */
  modelId: number;
  /** The patient's CKKS key set (fhe/ `FheClient`): only its public side is used to encrypt. */
  fhe: Pick<FheClient, "encrypt" | "paramSetId">;
  /** The model's input features, one object per tuple (names as in the model's encoding spec). */
  readings: FeatureReading | readonly FeatureReading[];
  /** The patient the prediction is for (default: the client, who must then be that patient). */
  patient?: string;
  /**
   * The keysHash of the key set `fhe` encrypts under (`HeKeySet.keysHash`, or sha256Hex of the
   * evaluation-keys blob a public encryptor was made from). Given, it must be the patient's
   * current on-chain key set (`KeySetMismatchError` otherwise, before anything is encrypted,
   * stored or sent): the request is recorded under that key set, and its result checked against it.
   */
  keysHash?: string;
  /** Model sources for this call (default: the client's `models`). */
  models?: ModelSources;
  /**
   * Send the input through the gateway's ingestion firewall (default true): the gateway
   * re-randomises the ciphertext under the patient's public key and stores that, and its id is
   * what goes on-chain, so the stored and evaluated input carries none of this encryptor's
   * randomness (docs/fhe.md "Reverse firewall"). `false` uploads the ciphertext as encrypted, for
   * a gateway that runs no firewall (GATEWAY_FIREWALL=off); a gateway that requires it refuses that.
   */
  firewall?: boolean;
};

export type RequestPredictionReturnType = { requestId: string; inputHash: Sha256Hex; transactionHash: string };

/**
 * Encodes the model's feature tuple, encrypts it under the patient's CKKS key, sends the
 * ciphertext through the gateway's ingestion firewall, which stores it re-randomised (category
 * PREDICTION), and calls `requestPrediction` with the stored blob's hash. The oracle then
 * evaluates it; wait with `waitForPrediction`, decrypt with `getPredictionResult`.
 *
 * Every request needs a sponsor: the caller's LINK deposit at the router or the patient's
 * governance-granted budget must cover the fee. Without one this throws `ChainError` with reason
 * `NoSponsor` before anything is encrypted, uploaded or sent.
 *
 * @example
 * const { requestId } = await requestPrediction(patientClient, { modelId: 1, fhe, keysHash, readings: [{ age: 54, … }] });
 */
export async function requestPrediction(client: MedCipherClient, parameters: RequestPredictionParameters): Promise<RequestPredictionReturnType> {
  const gateway = requireGateway(client);
  const patient = getAddress(parameters.patient ?? client.address);
  await checkSponsor(client, patient);
  if (parameters.keysHash !== undefined) requireKeySet({ expected: await currentKeysHash(client, patient), actual: parameters.keysHash, patient });
  const { artifact } = await resolveRegisteredModel(client, parameters.modelId, parameters.models ?? client.models);
  const input = parameters.fhe.encrypt(artifact, parameters.readings);
  // The purpose the router requires of a requester other than the patient (the gateway checks it).
  const upload = { owner: patient, category: Category.PREDICTION, purpose: Purpose.TREATDS };
  const inputHash = parameters.firewall === false
    ? await gateway.put(input, { ...upload, kind: "he-input" })
    : (await gateway.putFirewalled(input, { ...upload, ...(parameters.keysHash !== undefined ? { keysHash: parameters.keysHash } : {}) })).blobId;
  const inputUri = `${gateway.url}/v1/blobs/${inputHash}`;
  const receipt = await sendTransaction("requestPrediction", () => client.contracts.router.requestPrediction(patient, parameters.modelId, inputHash, inputUri));
  const [requested] = eventsIn(client.contracts.router, receipt.logs, "PredictionRequested");
  if (!requested) throw new ChainError("requestPrediction", "no PredictionRequested event in the receipt");
  return { requestId: requested.requestId, inputHash, transactionHash: receipt.hash };
}


/** What the router checks first (its `_charge`): the requester's deposit, else the patient's budget. */
async function checkSponsor(client: MedCipherClient, patient: string): Promise<void> {
  const router = client.contracts.router;
  const [fee, requester, sponsored] = await Promise.all([
    router.fee(),
    router.accountOf(client.address),
    router.accountOf(patient),
  ]);
  if (requester.deposit < fee && sponsored.sponsorBudget < fee) {
    // The reason the router's revert would carry, so callers handle both the same way.
    throw new ChainError("requestPrediction", "NoSponsor");
  }
}
