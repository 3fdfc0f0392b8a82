import type { Sha256Hex } from "../../core/hash.js";
import type { FheClient, Prediction } from "../../fhe/index.js";
import { requireGateway, type MedCipherClient } from "../client.js";
import { Purpose, RequestStatus } from "../../protocol/codes.js";
import { IntegrityError, PredictionNotFulfilledError } from "../errors.js";
import { requestKeysHash, requireKeySet } from "../keySets.js";
import { resolveRegisteredModel, type ModelSources } from "../predictions.js";

export type GetPredictionResultParameters = {
  requestId: string;
  /** The patient's CKKS key set: decrypts the result. */
  fhe: Pick<FheClient, "decrypt">;
  /**
   * The keysHash of the key set `fhe` holds — `HeKeySet.keysHash` in the keystore, i.e.
   * `sha256Hex` of the evaluation-keys blob registered. It must be the one the request was made
   * under (its `PredictionRequested` event), else `KeySetMismatchError` and nothing is decrypted.
   */
  keysHash: string;
  /** Model sources for this call (default: the client's `models`). */
  models?: ModelSources;
  /** Flooding noise for a result that will leave the client (shareResult passes it; see sdk/results/release.ts). */
  noise?: (index: number) => number;
};

export type GetPredictionResultReturnType = { requestId: string; modelId: number; resultHash: string; keysHash: string; predictions: Prediction[] };

/**
 * Fetches a fulfilled request's encrypted result from the gateway, checks its SHA-256 against
 * the chain's `resultHash` and that it answers this request's input, checks that the key set
 * given is the one the request was made under, decrypts it and applies the model's output
 * function (sigmoid / softmax) — all on the client.
 *
 * @example
 * const { predictions } = await getPredictionResult(patientClient, { requestId, fhe, keysHash });
 */
export async function getPredictionResult(client: MedCipherClient, parameters: GetPredictionResultParameters): Promise<GetPredictionResultReturnType> {
  const request = await client.contracts.router.getRequest(parameters.requestId);
  if (Number(request.status) !== RequestStatus.Fulfilled) throw new PredictionNotFulfilledError(parameters.requestId, Number(request.status), Number(request.failureCode));
  // A wrong key set "decrypts" to noise that reads as a confident answer: refuse before decrypting.
  const keysHash = await requestKeysHash(client, parameters.requestId, request.patient);
  requireKeySet({ expected: keysHash, actual: parameters.keysHash, requestId: parameters.requestId, patient: request.patient });
  const modelId = Number(request.modelId);
  const { artifact } = await resolveRegisteredModel(client, modelId, parameters.models ?? client.models);
  const result = await requireGateway(client).get(request.resultHash, { purpose: Purpose.TREATDS, ref: parameters.requestId });
  // gateway.get already checked SHA-256(result) == resultHash, the id asked for; fhe checks the binding to the input.
  if (result.length === 0) throw new IntegrityError("Prediction result", { requestId: parameters.requestId });
  const predictions = parameters.fhe.decrypt(artifact, result, { inputHash: request.inputHash as Sha256Hex, ...(parameters.noise ? { noise: parameters.noise } : {}) });
  return { requestId: parameters.requestId, modelId, resultHash: request.resultHash, keysHash, predictions };
}
