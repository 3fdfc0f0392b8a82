/**
 * An anonymous prediction request, end to end, on the client:
 *
 *   fresh CKKS key set → encrypt the readings under it → fresh one-time accessKey wallet → a free
 *   (epoch, slot) → save the request's secrets (keystore) → prove membership of the patients'
 *   group → router.checkAnonymousRequest (eth_call) → upload input and public keys to the gateway
 *   as the accessKey with the anonymous header → relayer sends the request → (later) wait for
 *   fulfilment, read the result as the accessKey, decrypt with the fresh secret key.
 *
 * Nothing sent names the patient: the chain sees the relayer's address, a nullifier and a proof;
 * the gateway sees the accessKey's signatures and a key set used once. The patient's registered
 * key set is not used (its keysHash would link the request to the patient). What still links is
 * the network: the relayer and the gateway see the client's IP address — use Tor for both.
 *
 * The secrets that read the result (the fresh CKKS secret key and the accessKey) are handed to
 * `saveRequestSecrets` before anything leaves the client, so a restart can still fetch it
 * (getAnonymousPredictionResult with the saved entry).
 */
import { decodeBase64, Wallet, ZeroAddress } from "ethers";

import { sha256Hex, type Sha256Hex } from "../../core/hash.js";
import type { FheClient, Prediction } from "../../fhe/client.js";
import { checkPublicKeysOnly } from "../../fhe/keys.js";
import type { ModelArtifact } from "../../fhe/model.js";
import type { Reading } from "../../fhe/encoding.js";
import { Purpose, RequestStatus } from "../../protocol/codes.js";
import type { SemaphoreArtifacts } from "../../protocol/zk/artifacts.js";
import { fetchGroup, type LogReader } from "../../protocol/zk/groupHistory.js";
import type { Identity } from "../../protocol/zk/identity.js";
import { anonymousMessage, anonymousRequestIdFor, anonymousScope, currentEpoch, type AnonymousRequest } from "../../protocol/zk/predict.js";
import { proveMembership, toSolidityProof, type SemaphoreProof, type SolidityProof } from "../../protocol/zk/prove.js";
import { heKeySetEntry } from "../keystore/keySets.js";
import type { HeKeySet } from "../keystore/format.js";
import { IntegrityError, PredictionNotFulfilledError } from "../errors.js";
import { relay } from "./relayer.js";
import { findFreeSlot, type SlotRouter } from "./slots.js";

/** What the actions read from PredictionRouter and PrivacyGroups (`client.contracts.router` / `.groups` have it). */
export type AnonymousRequestContracts = {
  router: Omit<SlotRouter, "getRequest"> & {
    checkAnonymousRequest(request: AnonymousRequest, proof: SolidityProof): Promise<string>;
    getRequest(requestId: string): Promise<{ status: bigint; resultHash: string; inputHash: string; failureCode: bigint }>;
  };
  privacyGroups: { semaphore(): Promise<string>; patientGroupId(): Promise<bigint> };
};

/**
 * The gateway as seen by one accessKey: `createGatewayClient({ url, signer: accessKey, chainId,
 * gatewayAddress })` (sdk/gateway/client.ts) has these two methods once the gateway's anonymous
 * path is merged (branch `anon`: putAnonymous, and get with ref = request id).
 */
export type AnonymousGatewayClient = {
  putAnonymous(bytes: Uint8Array, parameters: { kind: "he-input" | "he-keys"; request: AnonymousRequest; requestId: string; proof?: SemaphoreProof }): Promise<string>;
  get(blobId: string, parameters: { purpose: number; ref?: string }): Promise<Uint8Array>;
};

export type AnonymousGateway = { url: string; clientFor(accessKey: Wallet): AnonymousGatewayClient };

/** One anonymous request's secrets, as the keystore keeps them (KeystoreSecrets.extra.anonymousRequests). */
export type AnonymousRequestSecrets = {
  requestId: string;
  router: string;
  chainId: number;
  request: AnonymousRequest;
  /** The one-time accessKey's private key (0x-hex): only its signature reads the result. */
  accessKey: string;
  /** The fresh CKKS key set, its secret key exported under the keystore password (heKeySetEntry). */
  keySet: HeKeySet;
  createdAt: string;
};

export type RequestPredictionAnonymousParameters = {
  contracts: AnonymousRequestContracts;
  provider: LogReader & { getBlock(tag: "latest"): Promise<{ timestamp: number } | null> };
  chainId: bigint;
  /** The patient's Semaphore identity (joinPatientGroup / derivePatientIdentity). */
  identity: Identity;
  artifacts: SemaphoreArtifacts;
  /** The model's artifact (its encoding and parameter set) and its on-chain id. */
  model: ModelArtifact;
  modelId: number;
  readings: Reading | readonly Reading[];
  gateway: AnonymousGateway;
  relayerUrl: string;
  /** Makes the fresh key set (default FheClient.generate, loaded lazily: it pulls in SEAL). */
  generateKeySet?: (paramSetId: string) => Promise<FheClient>;
  /** Keystore password: the fresh secret key is exported under it. */
  keystorePassword: string;
  /** Called before anything leaves the client; must persist (saveAnonymousRequest for a file keystore). */
  saveRequestSecrets(secrets: AnonymousRequestSecrets): Promise<void>;
  /** Block to scan Semaphore events from (its deployment block). */
  fromBlock?: number;
  /** Slots to leave alone (e.g. one a request in flight on another device is about to spend). */
  skipSlots?: readonly number[];
};

export type RequestPredictionAnonymousReturnType = {
  requestId: string;
  transactionHash: string | null;
  request: AnonymousRequest;
  secrets: AnonymousRequestSecrets;
  proof: SemaphoreProof;
};

export async function requestPredictionAnonymous(parameters: RequestPredictionAnonymousParameters): Promise<RequestPredictionAnonymousReturnType> {
  const { contracts, provider } = parameters;
  const router = await contracts.router.getAddress();
  const block = await provider.getBlock("latest");
  if (!block) throw new Error("No latest block.");
  const epoch = currentEpoch(block.timestamp);

  const generate = parameters.generateKeySet ?? (async (id: string) => (await import("../../fhe/client-entry.js")).FheClient.generate(id));
  const fhe = await generate(parameters.model.paramSetId);
  try {
    // A key set for this request alone: the registered one's keysHash would name the patient.
    const keys = fhe.evaluationKeys();
    checkPublicKeysOnly(keys, parameters.model.paramSetId);
    const input = fhe.encrypt(parameters.model, parameters.readings);
    const accessKey = new Wallet(Wallet.createRandom().privateKey);
    const inputHash = sha256Hex(input);
    const keysHash = sha256Hex(keys);
    const { slot, requestId } = await findFreeSlot({ router: contracts.router, chainId: parameters.chainId, identity: parameters.identity, epoch, skip: parameters.skipSlots });
    const request: AnonymousRequest = {
      modelId: parameters.modelId, epoch, slot, accessKey: accessKey.address, inputHash, keysHash,
      // Content-addressed, naming no gateway: the gateway's URL would say which clinic's service
      // the patient uses, and a chain observer would share it with the patient's public requests.
      inputUri: `medcipher://blob/${inputHash}`,
    };
    const secrets: AnonymousRequestSecrets = {
      requestId, router, chainId: Number(parameters.chainId), request, accessKey: accessKey.privateKey,
      keySet: await heKeySetEntry(fhe, keys, parameters.keystorePassword), createdAt: new Date().toISOString(),
    };
    await parameters.saveRequestSecrets(secrets);

    const { proof, tuple } = await proveAnonymousRequest({ ...parameters, router, request, requestId });
    const gateway = parameters.gateway.clientFor(accessKey);
    // Keys first: the oracle fetches them once it sees the request; both before the relayer sends it.
    await gateway.putAnonymous(keys, { kind: "he-keys", request, requestId, proof });
    await gateway.putAnonymous(input, { kind: "he-input", request, requestId, proof });
    const { transactionHash } = await relay({ relayerUrl: parameters.relayerUrl, to: router, method: "requestPredictionAnonymous", args: [request, tuple], wait: true });
    return { requestId, transactionHash, request, secrets, proof };
  } finally {
    fhe.dispose();
  }
}

/**
 * Proves membership for `request`'s (epoch, slot) and asks the router, by eth_call, whether it
 * would take it: a spent slot or a stale root fails here, not in the relayer's wallet.
 */
export async function proveAnonymousRequest(parameters: {
  contracts: AnonymousRequestContracts; provider: LogReader; chainId: bigint; router: string; identity: Identity; artifacts: SemaphoreArtifacts;
  request: AnonymousRequest; requestId?: string; fromBlock?: number;
}): Promise<{ proof: SemaphoreProof; tuple: SolidityProof; requestId: string }> {
  if (parameters.request.accessKey === ZeroAddress) throw new RangeError("An anonymous request needs a one-time access key.");
  const group = await fetchGroup(parameters.provider, await parameters.contracts.privacyGroups.semaphore(), await parameters.contracts.privacyGroups.patientGroupId(), parameters.fromBlock);
  const context = { chainId: parameters.chainId, router: parameters.router };
  const proof = await proveMembership({
    identity: parameters.identity, group, artifacts: parameters.artifacts,
    message: anonymousMessage(context, parameters.request), scope: anonymousScope(context, parameters.request.epoch, parameters.request.slot),
  });
  const tuple = toSolidityProof(proof);
  const requestId = await parameters.contracts.router.checkAnonymousRequest(parameters.request, tuple);
  const expected = parameters.requestId ?? anonymousRequestIdFor(parameters.router, proof.nullifier);
  if (requestId !== expected || requestId !== anonymousRequestIdFor(parameters.router, proof.nullifier)) throw new IntegrityError("Anonymous request id", { requestId, expected });
  return { proof, tuple, requestId };
}

export type GetAnonymousPredictionResultParameters = {
  contracts: Pick<AnonymousRequestContracts, "router">;
  gateway: AnonymousGateway;
  secrets: AnonymousRequestSecrets;
  model: ModelArtifact;
  keystorePassword: string;
  /** Wait this long for fulfilment (default 0: the request must be fulfilled already). */
  timeoutMs?: number;
  pollIntervalMs?: number;
  importKeySet?: (exported: Uint8Array, password: string) => Promise<FheClient>;
};

/** Waits for fulfilment, reads the result as the request's accessKey and decrypts it with the request's own secret key. */
export async function getAnonymousPredictionResult(parameters: GetAnonymousPredictionResultParameters): Promise<{ requestId: string; resultHash: string; predictions: Prediction[] }> {
  const { secrets } = parameters;
  const deadline = Date.now() + (parameters.timeoutMs ?? 0);
  let onChain = await parameters.contracts.router.getRequest(secrets.requestId);
  while (Number(onChain.status) === RequestStatus.Pending && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, parameters.pollIntervalMs ?? 500));
    onChain = await parameters.contracts.router.getRequest(secrets.requestId);
  }
  if (Number(onChain.status) !== RequestStatus.Fulfilled) throw new PredictionNotFulfilledError(secrets.requestId, Number(onChain.status), Number(onChain.failureCode));
  if (onChain.inputHash.toLowerCase() !== secrets.request.inputHash.toLowerCase()) throw new IntegrityError("Anonymous request input", { requestId: secrets.requestId });
  const result = await parameters.gateway.clientFor(new Wallet(secrets.accessKey)).get(onChain.resultHash, { purpose: Purpose.TREATDS, ref: secrets.requestId });
  if (result.length === 0) throw new IntegrityError("Prediction result", { requestId: secrets.requestId });
  const load = parameters.importKeySet ?? (async (exported: Uint8Array, password: string) => (await import("../../fhe/client-entry.js")).FheClient.importSecretKey(exported, password));
  const fhe = await load(decodeBase64(secrets.keySet.secretKey), parameters.keystorePassword);
  try {
    return { requestId: secrets.requestId, resultHash: onChain.resultHash, predictions: fhe.decrypt(parameters.model, result, { inputHash: secrets.request.inputHash as Sha256Hex }) };
  } finally {
    fhe.dispose();
  }
}
