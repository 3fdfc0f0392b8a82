import { Interface } from "ethers";

import { identityRegistryAbi, modelRegistryAbi, operatorAbi, oracleQuorumAbi, predictionRouterAbi } from "../../protocol/abi/generated.js";
import { RequestStatus } from "../../protocol/codes.js";
import type { JobState } from "../store/states.js";

/**
 * The contracts the daemon reads and calls, as ethers Interfaces over the ABIs generated from the
 * artifacts (protocol/abi/generated.ts): the daemon speaks raw JSON-RPC, so it encodes and decodes
 * with these rather than holding Contract objects.
 */
export const operatorInterface = new Interface(operatorAbi);
export const routerInterface = new Interface(predictionRouterAbi);
/**
 * The k-of-n OracleQuorum, a drop-in for the Operator (same request event, same fulfilment call):
 * only its vote events and views are read through this.
 */
export const quorumInterface = new Interface(oracleQuorumAbi);
/** The IdentityRegistry (the oracle's /readyz asks whether it holds ORACLE_ROLE). */
export const identityInterface = new Interface(identityRegistryAbi);
export const modelRegistryInterface = new Interface(modelRegistryAbi);

/** IPredictionRouter.RequestStatus: one definition, in the SDK's codes. */
export { RequestStatus } from "../../protocol/codes.js";

/**
 * The job state that says what the chain says about a request that is no longer pending, so the
 * job store agrees with the chain: fulfilled there → `fulfilled`, failed or refused by the router
 * → `failed`, cancelled or expired → `refused` (nothing of ours counts).
 */
export function jobStateOfClosedRequest(status: number): JobState {
  if (status === RequestStatus.Fulfilled) return "fulfilled";
  if (status === RequestStatus.Failed || status === RequestStatus.Refused) return "failed";
  return "refused";
}

export const ORACLE_REQUEST_TOPIC = operatorInterface.getEvent("OracleRequest")!.topicHash;
export const PREDICTION_REQUESTED_TOPIC = routerInterface.getEvent("PredictionRequested")!.topicHash;
export const ANONYMOUS_PREDICTION_REQUESTED_TOPIC = routerInterface.getEvent("AnonymousPredictionRequested")!.topicHash;
