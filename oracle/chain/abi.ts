import { Interface } from "ethers";

import { RequestStatus } from "../../protocol/codes.js";
import type { JobState } from "../store/states.js";

/** The slices of the contracts' ABIs the daemon uses (see contracts/interfaces/*.sol). */
export const operatorInterface = new Interface([
  "event OracleRequest(bytes32 indexed specId, address requester, bytes32 requestId, uint256 payment, address callbackAddr, bytes4 callbackFunctionId, uint256 cancelExpiration, uint256 dataVersion, bytes data)",
  "event OracleResponse(bytes32 indexed requestId)",
  "function fulfillOracleRequest2(bytes32 requestId, uint256 payment, address callbackAddress, bytes4 callbackFunctionId, uint256 expiration, bytes data) returns (bool)",
  "function isAuthorizedSender(address sender) view returns (bool)",
]);

export const routerInterface = new Interface([
  "event PredictionRequested(bytes32 indexed requestId, address indexed patient, uint32 indexed modelId, address requester, bytes32 inputHash, string inputUri, bytes32 keysHash, uint256 payment, uint40 expiresAt)",
  "event PredictionFulfilled(bytes32 indexed requestId, address indexed patient, bytes32 resultHash, string resultUri, bool onChain)",
  "event PredictionFailed(bytes32 indexed requestId, address indexed patient, uint16 failureCode)",
  "event PredictionRefused(bytes32 indexed requestId, address indexed patient, address requester, uint16 reasonCode)",
  "event PredictionCancelled(bytes32 indexed requestId, address indexed patient, address by)",
  "function getRequest(bytes32 requestId) view returns ((address patient, uint32 modelId, uint8 status, uint40 expiresAt, uint16 failureCode, address requester, bytes32 inputHash, bytes32 resultHash))",
  "function fulfilPrediction(bytes32 requestId, uint16 failureCode, bytes32 resultHash, string resultUri, bytes resultCiphertext)",
  "function modelRegistry() view returns (address)",
  "function consentManager() view returns (address)",
  "function onChainResults() view returns (bool)",
  "function identityRegistry() view returns (address)",
]);

/** The IdentityRegistry's role check (the oracle's /readyz asks for its ORACLE_ROLE). */
export const identityInterface = new Interface([
  "function hasRole(bytes32 role, address account) view returns (bool)",
  "function ORACLE_ROLE() view returns (bytes32)",
]);

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
