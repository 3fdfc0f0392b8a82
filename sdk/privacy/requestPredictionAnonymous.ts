/**
 * An anonymous prediction request: the patient proves membership of the patients' group for one
 * (epoch, slot), the relayer sends it. SKELETON against IPredictionRouter: the caller has already
 * made the fresh key set, encrypted and uploaded the input (gateway anonymous path) and knows
 * `inputHash`, `keysHash`, `inputUri`; the one-time `accessKey` wallet reads the result.
 */
import { ZeroAddress } from "ethers";

import type { SemaphoreArtifacts } from "../../protocol/zk/artifacts.js";
import { fetchGroup, type LogReader } from "../../protocol/zk/groupHistory.js";
import type { Identity } from "../../protocol/zk/identity.js";
import { anonymousMessage, anonymousRequestIdFor, anonymousScope, currentEpoch, type AnonymousRequest } from "../../protocol/zk/predict.js";
import { proveMembership, toSolidityProof, type SemaphoreProof } from "../../protocol/zk/prove.js";
import { relay } from "./relayer.js";

/** What this action reads from PredictionRouter and PrivacyGroups (ethers Contracts of their ABIs have it). */
export type AnonymousRequestContracts = {
  router: {
    getAddress(): Promise<string>;
    anonymousRequestsPerEpoch(): Promise<bigint>;
    checkAnonymousRequest(request: AnonymousRequest, proof: ReturnType<typeof toSolidityProof>): Promise<string>;
  };
  privacyGroups: { semaphore(): Promise<string>; patientGroupId(): Promise<bigint> };
};

export type RequestPredictionAnonymousParameters = {
  contracts: AnonymousRequestContracts;
  provider: LogReader & { getBlock(tag: "latest"): Promise<{ timestamp: number } | null> };
  chainId: bigint;
  identity: Identity;
  artifacts: SemaphoreArtifacts;
  request: Omit<AnonymousRequest, "epoch" | "slot">;
  /** Which of the epoch's slots to spend; the patient's client keeps track of the ones used. */
  slot: number;
  relayerUrl: string;
  /** Block to scan Semaphore events from (its deployment block). */
  fromBlock?: number;
};

export type RequestPredictionAnonymousReturnType = { requestId: string; transactionHash: string; proof: SemaphoreProof; request: AnonymousRequest };

export async function requestPredictionAnonymous(parameters: RequestPredictionAnonymousParameters): Promise<RequestPredictionAnonymousReturnType> {
  const { contracts, provider } = parameters;
  if (parameters.request.accessKey === ZeroAddress) throw new RangeError("An anonymous request needs a one-time access key.");
  const perEpoch = Number(await contracts.router.anonymousRequestsPerEpoch());
  if (!Number.isInteger(parameters.slot) || parameters.slot < 0 || parameters.slot >= perEpoch) throw new RangeError(`slot must be below ${perEpoch}.`);
  const router = await contracts.router.getAddress();
  const block = await provider.getBlock("latest");
  if (!block) throw new Error("No latest block.");
  const request: AnonymousRequest = { ...parameters.request, epoch: currentEpoch(block.timestamp), slot: parameters.slot };
  const group = await fetchGroup(provider, await contracts.privacyGroups.semaphore(), await contracts.privacyGroups.patientGroupId(), parameters.fromBlock);
  const context = { chainId: parameters.chainId, router };
  const proof = await proveMembership({ identity: parameters.identity, group, message: anonymousMessage(context, request), scope: anonymousScope(context, request.epoch, request.slot), artifacts: parameters.artifacts });
  const tuple = toSolidityProof(proof);
  // The same checks the transaction makes, as a view: a spent slot or a stale root fails here, not in the relayer's wallet.
  const requestId = await contracts.router.checkAnonymousRequest(request, tuple);
  if (requestId !== anonymousRequestIdFor(router, proof.nullifier)) throw new Error("The router's request id differs from protocol/zk's formula.");
  const { transactionHash } = await relay({ relayerUrl: parameters.relayerUrl, method: "requestPredictionAnonymous", args: [request, tuple] });
  return { requestId, transactionHash, proof, request };
}
