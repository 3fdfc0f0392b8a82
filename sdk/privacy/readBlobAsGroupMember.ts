/**
 * A researcher reads a patient's blob as an anonymous member of the consent group the patient
 * consented to: one fresh membership proof per read (~1.5 s), no address, no signature. The
 * gateway audits the read under the proof's nullifier.
 */
import type { HttpTransport } from "../../core/http.js";
import { groupReadPath, sendGroupRead } from "../../protocol/groupRead.js";
import type { ParsedPrivateConsentGrant } from "../../protocol/privateConsent.js";
import type { SemaphoreArtifacts } from "../../protocol/zk/artifacts.js";
import type { Identity } from "../../protocol/zk/identity.js";
import type { Group } from "../../protocol/zk/prove.js";
import { groupAccessHeaders } from "./groupAccess.js";

export type ReadBlobAsGroupMemberParameters = {
  /** The gateway's base URL and its registered address. */
  url: string;
  gatewayAddress: string;
  blobId: string;
  /** The member's Semaphore identity (randomIdentity(), kept by the member). */
  identity: Identity;
  /** The consent group as the chain has it now: fetchGroup(provider, semaphore, grant.opening.groupId). */
  group: Group;
  /** The checked circuit files (readSemaphoreArtifacts() in Node, fetchSemaphoreArtifacts() in a browser). */
  artifacts: SemaphoreArtifacts;
  /** The patient's group-consent grant (parsePrivateConsentGrant of what the patient handed over). */
  grant: ParsedPrivateConsentGrant;
  /** PrivacyGroups' address on the grant's chain (part of the proof's scope). */
  privacyGroups: string;
  transport?: HttpTransport;
  timeoutMs?: number;
  nowSeconds?: number;
};

export type ReadBlobAsGroupMemberReturnType = Uint8Array;

/**
 * @example
 * const artifacts = await readSemaphoreArtifacts();
 * const group = await fetchGroup(provider, semaphoreAddress, grant.opening.groupId);
 * const bytes = await readBlobAsGroupMember({ url, gatewayAddress, blobId, identity, group, artifacts, grant, privacyGroups });
 */
export async function readBlobAsGroupMember(parameters: ReadBlobAsGroupMemberParameters): Promise<ReadBlobAsGroupMemberReturnType> {
  const headers = await groupAccessHeaders({
    identity: parameters.identity, group: parameters.group, artifacts: parameters.artifacts, grant: parameters.grant,
    privacyGroups: parameters.privacyGroups, gateway: parameters.gatewayAddress, method: "GET", path: groupReadPath(parameters.blobId),
    nowSeconds: parameters.nowSeconds,
  });
  return sendGroupRead({
    url: parameters.url, chainId: parameters.grant.chainId, gatewayAddress: parameters.gatewayAddress, blobId: parameters.blobId,
    headers, transport: parameters.transport, timeoutMs: parameters.timeoutMs,
  });
}
