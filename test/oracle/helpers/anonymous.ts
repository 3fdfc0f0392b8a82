import type { Signer, Wallet } from "ethers";

import { sha256Hex } from "../../../core/hash.js";
import { FheClient } from "../../../fhe/client.js";
import { createGatewayClient, newAccessKey, type GatewayClient } from "../../../protocol/gatewayClient.js";
import type { SemaphoreArtifacts } from "../../../protocol/zk/artifacts.js";
import { fetchGroup } from "../../../protocol/zk/groupHistory.js";
import { randomIdentity, type Identity } from "../../../protocol/zk/identity.js";
import { anonymousMessage, anonymousRequestIdFor, anonymousScope, currentEpoch, type AnonymousRequest } from "../../../protocol/zk/predict.js";
import { proveMembership, toSolidityProof, type SemaphoreProof } from "../../../protocol/zk/prove.js";
import { readSemaphoreArtifacts } from "../../../sdk/node/semaphoreArtifacts.js";
import { READINGS, type Patient, type World } from "./world.js";

/**
 * The patient's client side of an anonymous prediction request, for gateway and oracle tests, all
 * real: a Semaphore identity in the registered-patients group, a fresh CKKS key set made for the
 * one request, the input encrypted under it, a one-time accessKey with its own gateway client, and
 * a real Groth16 proof (pinned depth-20 circuit files) binding the request.
 */
export type AnonymousMember = { identity: Identity; patient: Patient };

export type PreparedAnonymousRequest = {
  request: AnonymousRequest;
  proof: SemaphoreProof;
  requestId: string;
  accessKey: Wallet;
  /** A gateway client signing as the accessKey. */
  gateway: GatewayClient;
  /** The fresh key set (its secret key decrypts the result); dispose() when done. */
  fhe: FheClient;
  keys: Uint8Array;
  input: Uint8Array;
  modelName: keyof typeof READINGS;
};

let artifacts: Promise<SemaphoreArtifacts> | undefined;
const semaphoreArtifacts = () => (artifacts ??= readSemaphoreArtifacts());

/** `patient` (registered) joins the patients' group with a new identity. */
export async function joinPatientGroup(world: World, patient: Patient): Promise<AnonymousMember> {
  const identity = randomIdentity();
  await (await world.suite.groups.connect(patient.signer).joinPatientGroup(identity.commitment)).wait();
  return { identity, patient };
}

/** A gateway client for `world` signing with `signer`. */
export function gatewayClientFor(world: World, signer: Wallet | Signer): GatewayClient {
  return createGatewayClient({ url: world.gatewayUrl, signer: signer as never, chainId: world.chainId, gatewayAddress: world.gatewayKey.address });
}

/**
 * Everything up to (not including) the uploads and the relayed transaction. `keys`: the bytes
 * the request's keysHash names instead of the fresh key set's public keys (a mistake to refuse).
 */
export async function prepareAnonymousRequest(world: World, member: AnonymousMember, options: { slot?: number; modelName?: keyof typeof READINGS; epoch?: number; keys?: Uint8Array } = {}): Promise<PreparedAnonymousRequest> {
  const modelName = options.modelName ?? "maternal-risk-v1";
  const artifact = world.artifacts.find((m) => m.id === modelName)!;
  const fhe = await FheClient.generate(artifact.paramSetId);
  const keys = options.keys ?? fhe.evaluationKeys();
  const input = fhe.encrypt(artifact, READINGS[modelName]);
  const inputHash = sha256Hex(input);
  const accessKey = newAccessKey();
  const block = await world.ethers.provider.getBlock("latest");
  const request: AnonymousRequest = {
    modelId: world.modelIds[modelName]!,
    epoch: options.epoch ?? currentEpoch(block!.timestamp),
    slot: options.slot ?? 0,
    accessKey: accessKey.address,
    inputHash,
    keysHash: sha256Hex(keys),
    inputUri: `${world.gatewayUrl}/v1/blobs/${inputHash}`,
  };
  const router = world.suite.addresses.PredictionRouter;
  const context = { chainId: world.chainId, router };
  const group = await fetchGroup(world.ethers.provider, world.suite.addresses.Semaphore, await world.suite.groups.patientGroupId());
  const proof = await proveMembership({
    identity: member.identity, group, artifacts: await semaphoreArtifacts(),
    message: anonymousMessage(context, request), scope: anonymousScope(context, request.epoch, request.slot),
  });
  return { request, proof, requestId: anonymousRequestIdFor(router, proof.nullifier), accessKey, gateway: gatewayClientFor(world, accessKey), fhe, keys, input, modelName };
}

/** Uploads the keys and the input with the proof header (before submission), as the accessKey. */
export async function uploadBeforeSubmission(prepared: PreparedAnonymousRequest): Promise<void> {
  const { request, proof, requestId } = prepared;
  await prepared.gateway.putAnonymous(prepared.keys, { kind: "he-keys", request, proof, requestId });
  await prepared.gateway.putAnonymous(prepared.input, { kind: "he-input", request, proof, requestId });
}

/** Sends requestPredictionAnonymous from `relayer` (nobody's patient); returns the receipt's block. */
export async function submitAnonymous(world: World, prepared: PreparedAnonymousRequest, relayer: Signer): Promise<number> {
  const tx = await world.suite.router.connect(relayer).requestPredictionAnonymous(prepared.request, toSolidityProof(prepared.proof));
  return (await tx.wait())!.blockNumber;
}
