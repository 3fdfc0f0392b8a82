/**
 * A registered patient joins the registered-patients group with the Semaphore identity derived
 * from its signing key (protocol/zk/identity.ts), once. Sent by the patient itself: joining is
 * public (who is registered is already public); what stays private is which member later proves.
 * SKELETON against IPrivacyGroups; after the contracts merge, pass `client.contracts.groups`.
 */
import { derivePatientIdentity, type Identity } from "../../protocol/zk/identity.js";

/** What this action needs of PrivacyGroups (an ethers Contract of privacyGroupsAbi has it). */
export type PrivacyGroupsForJoin = {
  getAddress(): Promise<string>;
  commitmentOf(patient: string): Promise<bigint>;
  joinPatientGroup(commitment: bigint): Promise<{ wait(): Promise<{ hash: string } | null> }>;
};

export type JoinPatientGroupParameters = {
  privacyGroups: PrivacyGroupsForJoin;
  chainId: bigint;
  patient: string;
  /** The patient's 32-byte signing key (keystore). */
  patientSecret: Uint8Array;
  generation?: number;
};

export type JoinPatientGroupReturnType = { identity: Identity; transactionHash: string | null; alreadyJoined: boolean };

/**
 * @example
 * const { identity } = await joinPatientGroup({ privacyGroups: client.contracts.groups, chainId, patient: client.address, patientSecret });
 */
export async function joinPatientGroup(parameters: JoinPatientGroupParameters): Promise<JoinPatientGroupReturnType> {
  const identity = derivePatientIdentity(parameters.patientSecret, { chainId: parameters.chainId, privacyGroups: await parameters.privacyGroups.getAddress(), generation: parameters.generation });
  const current = await parameters.privacyGroups.commitmentOf(parameters.patient);
  if (current === identity.commitment) return { identity, transactionHash: null, alreadyJoined: true };
  // A different non-zero commitment: an older generation; the caller replaces it (replacePatientCommitment) knowingly.
  const receipt = await (await parameters.privacyGroups.joinPatientGroup(identity.commitment)).wait();
  return { identity, transactionHash: receipt?.hash ?? null, alreadyJoined: false };
}
