/**
 * A researcher's anonymous access at the gateway: the headers for one request under a group
 * consent, a fresh membership proof each time. SKELETON: the gateway's route and its reading of
 * these headers are the gateway's side (protocol/zk/access.ts has the check it runs).
 */
import { sha256Hex } from "../../core/hash.js";
import { encodePrivateConsentHeader, HEADER_PRIVATE_CONSENT, type ParsedPrivateConsentGrant } from "../../protocol/privateConsent.js";
import { HEADER_GROUP_ACCESS, proveGroupAccess } from "../../protocol/zk/access.js";
import type { SemaphoreArtifacts } from "../../protocol/zk/artifacts.js";
import type { Group } from "../../protocol/zk/prove.js";
import type { Identity } from "../../protocol/zk/identity.js";

export type GroupAccessHeadersParameters = {
  identity: Identity;
  /** The consent group, rebuilt from the chain (fetchGroup with the grant's groupId). */
  group: Group;
  artifacts: SemaphoreArtifacts;
  grant: ParsedPrivateConsentGrant;
  privacyGroups: string;
  gateway: string;
  method: string;
  /** Request target as sent (path and query). */
  path: string;
  body?: Uint8Array;
  nowSeconds?: number;
};

export async function groupAccessHeaders(parameters: GroupAccessHeadersParameters): Promise<Record<string, string>> {
  const header = await proveGroupAccess({
    identity: parameters.identity, group: parameters.group, artifacts: parameters.artifacts,
    chainId: BigInt(parameters.grant.chainId), privacyGroups: parameters.privacyGroups, consentCommitment: parameters.grant.commitment,
    request: { gateway: parameters.gateway, method: parameters.method.toUpperCase(), path: parameters.path, bodySha256: sha256Hex(parameters.body ?? new Uint8Array()), timestamp: parameters.nowSeconds ?? Math.floor(Date.now() / 1000) },
  });
  return { [HEADER_GROUP_ACCESS]: header, [HEADER_PRIVATE_CONSENT]: encodePrivateConsentHeader(parameters.grant) };
}
