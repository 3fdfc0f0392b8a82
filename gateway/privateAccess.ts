/**
 * Reads under consent the chain does not publish (issue 12): a private consent shown by its
 * grantee, and a group consent used by an anonymous member of the group.
 *
 * - Grantee: a signed GET as usual (the signer is known) plus the grant in
 *   `x-medcipher-private-consent`. The grant must name the signer as grantee and the blob's owner
 *   as patient; ConsentManager.privateConsentAllows decides the rest (published, not revoked, the
 *   patient's signature, period, epoch, category, purpose).
 * - Group member: NO signed-request header; the grant (groupId ≠ 0) plus a Semaphore proof in
 *   `x-medcipher-group-access` (protocol/zk/access.ts). Its binding is checked here, membership by
 *   PrivacyGroups.verifyMembership, the nullifier against every nullifier accepted before, then
 *   privateConsentAllows. The member is known only by the nullifier.
 *
 * Chain views go through the chain policy's per-block cache (`view`), as the public consent checks
 * do, so a private revocation takes effect as fast as a public one. verifyMembership is not cached:
 * each proof is checked once (its nullifier is then spent).
 */
import { ZeroAddress } from "ethers";

import { decodeRevert } from "../protocol/revert.js";
import { categoryName, purposeName } from "../protocol/codes.js";
import type { ConsentManagerContract, PrivacyGroupsContract } from "../protocol/contracts.js";
import { decodePrivateConsentHeader, type ParsedPrivateConsentGrant } from "../protocol/privateConsent.js";
import { checkGroupAccessBinding, decodeGroupAccess, type GroupAccess } from "../protocol/zk/access.js";
import { toSolidityProof } from "../protocol/zk/proofFormat.js";
import { checksumAddress as getAddress } from "./address.js";
import { ForbiddenError, PrivateAccessError, type PrivateAccessCode } from "./errors.js";
import type { BlobMeta } from "./store/metadata.js";
import type { NullifierStore } from "./store/nullifiers.js";

/** A chain view memoised for the head block (the chain policy's `view`). */
export type ChainView = <T>(key: string, read: () => Promise<T>) => Promise<T>;

export type PrivateAccessOptions = {
  chainId: number;
  gatewayAddress: string;
  consent: Pick<ConsentManagerContract, "privateConsentAllows" | "getAddress">;
  groups: Pick<PrivacyGroupsContract, "verifyMembership" | "patientGroupId" | "getAddress">;
  view: ChainView;
  nullifiers: NullifierStore;
  /** How far a proof's timestamp may be from `now` (the gateway's timestamp window). */
  maxSkewSeconds: number;
};

export type GranteeRead = { signer: string; purpose: number; meta: BlobMeta; grantHeader: string };

export type GroupRead = {
  /** HTTP method and request target exactly as received (what the proof's message binds). */
  method: string;
  target: string;
  bodySha256: string;
  /**
   * The blob's metadata, asked only once the proof is accepted: as a signed read authenticates
   * before the blob is looked up, nobody learns whether a blob exists without a valid proof.
   */
  loadMeta: () => Promise<BlobMeta>;
  grantHeader: string;
  accessHeader: string;
  now: number;
  /**
   * Filled in as soon as the proof is accepted (membership verified, nullifier spent): from then
   * on a refusal is audited under this nullifier, as a signed request's is under its signer.
   */
  established: { nullifier?: string; groupId?: string; purpose?: number };
};

export type GroupGrant = { nullifier: string; groupId: string; purpose: number };

export type PrivateAccess = {
  authorizeGrantee(read: GranteeRead): Promise<"private-consent">;
  authorizeGroupMember(read: GroupRead): Promise<GroupGrant>;
};

/** Semaphore's and PrivacyGroups' reverts of verifyMembership, as the gateway's codes. */
const MEMBERSHIP_REVERTS: Record<string, PrivateAccessCode> = {
  RootBeforeRemoval: "GATEWAY_ZK_ROOT_BEFORE_REMOVAL",
  Semaphore__MerkleTreeRootIsExpired: "GATEWAY_ZK_ROOT_EXPIRED",
  Semaphore__MerkleTreeRootIsNotPartOfTheGroup: "GATEWAY_ZK_ROOT_UNKNOWN",
  Semaphore__GroupDoesNotExist: "GATEWAY_ZK_GROUP_UNKNOWN",
  Semaphore__GroupHasNoMembers: "GATEWAY_ZK_GROUP_UNKNOWN",
  Semaphore__MerkleTreeDepthIsNotSupported: "GATEWAY_ZK_PROOF_MALFORMED",
  Semaphore__InvalidProof: "GATEWAY_ZK_PROOF_INVALID",
};

export async function createPrivateAccess(options: PrivateAccessOptions): Promise<PrivateAccess> {
  const gateway = getAddress(options.gatewayAddress);
  const consentManager = getAddress(await options.consent.getAddress());
  const privacyGroups = getAddress(await options.groups.getAddress());
  // Every registered patient is in it: a consent to it would open the data to all of them. On
  // MedCipher's own Semaphore it is group 0, which an opening cannot name as a group (0 means an
  // individual grantee); this guards a PrivacyGroups deployed on a shared Semaphore.
  const patientsGroup = await options.groups.patientGroupId();

  /** The strict parser's verdict, and the grant must be for this deployment's ConsentManager. */
  function parseGrant(header: string): ParsedPrivateConsentGrant {
    let grant: ParsedPrivateConsentGrant;
    try {
      grant = decodePrivateConsentHeader(header);
    } catch (error) {
      const e = error as { code?: string; shortMessage?: string; message?: string; details?: Record<string, unknown> };
      const code = e.code === "PRIVATE_CONSENT_SIGNATURE" ? "GATEWAY_PRIVATE_CONSENT_SIGNATURE" : "GATEWAY_PRIVATE_CONSENT_MALFORMED";
      throw new PrivateAccessError(code, e.shortMessage ?? e.message ?? "Malformed private consent grant.", e.details);
    }
    if (grant.chainId !== options.chainId || grant.consentManager !== consentManager) {
      throw new ForbiddenError("the private consent was made for another deployment", { chainId: grant.chainId, consentManager: grant.consentManager, expectedChainId: options.chainId, expectedConsentManager: consentManager });
    }
    return grant;
  }

  /** ConsentManager.privateConsentAllows for the blob's category and the purpose, memoised per block. */
  async function checkAllows(grant: ParsedPrivateConsentGrant, meta: BlobMeta, purpose: number): Promise<void> {
    const owner = getAddress(meta.owner);
    if (grant.opening.patient !== owner) throw new ForbiddenError("the private consent is another patient's", { patient: grant.opening.patient, owner });
    const allowed = await options.view(`private:${grant.commitment}:${grant.signature}:${meta.category}:${purpose}`,
      () => options.consent.privateConsentAllows(grant.opening, grant.revocationHash, grant.signature, meta.category, purpose));
    if (!allowed) {
      throw new ForbiddenError(`no live private consent for ${categoryName(meta.category)} records for purpose ${purposeName(purpose)}`, {
        commitment: grant.commitment, category: meta.category, purpose,
      });
    }
  }

  /** PrivacyGroups.verifyMembership by eth_call; its reverts become codes a member can act on. */
  async function verifyMembership(groupId: bigint, access: GroupAccess): Promise<void> {
    let valid: boolean;
    try {
      valid = await options.groups.verifyMembership(groupId, toSolidityProof(access.proof));
    } catch (error) {
      const revert = decodeRevert(error);
      const code = revert ? MEMBERSHIP_REVERTS[revert.reason] : undefined;
      if (!code) throw error;
      throw new PrivateAccessError(code, `PrivacyGroups refused the membership proof: ${revert!.reason}.`, { groupId: groupId.toString(), root: access.proof.merkleTreeRoot, revert: revert!.reason });
    }
    if (!valid) throw new PrivateAccessError("GATEWAY_ZK_PROOF_INVALID", "The membership proof does not verify.", { groupId: groupId.toString() });
  }

  return {
    async authorizeGrantee(read) {
      const grant = parseGrant(read.grantHeader);
      const signer = getAddress(read.signer);
      if (grant.opening.groupId !== 0n || grant.opening.grantee === ZeroAddress) {
        throw new ForbiddenError("a group consent is used with a membership proof, not a signature", { groupId: grant.opening.groupId.toString() });
      }
      if (grant.opening.grantee !== signer) throw new ForbiddenError("the private consent names another grantee", { grantee: grant.opening.grantee, signer });
      if (read.purpose < 1 || read.purpose > 5) throw new ForbiddenError("a grantee must state a valid purpose of use", { purpose: read.purpose });
      await checkAllows(grant, read.meta, read.purpose);
      return "private-consent";
    },

    async authorizeGroupMember(read) {
      const grant = parseGrant(read.grantHeader);
      const { groupId } = grant.opening;
      if (groupId === 0n) throw new ForbiddenError("an individual's private consent is used with the grantee's signature, not a membership proof");
      if (groupId === patientsGroup) throw new ForbiddenError("a consent to the registered-patients group is refused: it would open the data to every registered patient", { groupId: groupId.toString() });
      let access: GroupAccess;
      try {
        access = decodeGroupAccess(read.accessHeader);
      } catch (error) {
        throw new PrivateAccessError("GATEWAY_ZK_PROOF_MALFORMED", (error as Error).message, (error as { details?: Record<string, unknown> }).details);
      }
      try {
        checkGroupAccessBinding(access, {
          chainId: options.chainId, privacyGroups, consentCommitment: grant.commitment,
          gateway, method: read.method, path: read.target, bodySha256: read.bodySha256,
          now: read.now, maxSkewSeconds: options.maxSkewSeconds,
        });
      } catch (error) {
        const e = error as { code?: string; shortMessage?: string; details?: Record<string, unknown> };
        if (e.code !== "ZK_STALE" && e.code !== "ZK_SCOPE_MISMATCH" && e.code !== "ZK_MESSAGE_MISMATCH") throw error;
        throw new PrivateAccessError(`GATEWAY_${e.code}`, e.shortMessage ?? "The access proof is bound to another request.", e.details);
      }
      await verifyMembership(groupId, access);
      const nullifier = `0x${BigInt(access.proof.nullifier).toString(16).padStart(64, "0")}`;
      // Spent before the consent is asked: the proof was for this one request, whatever the answer.
      if (!(await options.nullifiers.claim(nullifier, { groupId: groupId.toString(), timestamp: access.timestamp }))) {
        throw new PrivateAccessError("GATEWAY_ZK_NULLIFIER_REPLAY", "This membership proof's nullifier was already used.", { nullifier });
      }
      // The purpose is the consent's own: an anonymous request signs no fields to state another.
      const purpose = grant.opening.purpose;
      Object.assign(read.established, { nullifier, groupId: groupId.toString(), purpose });
      await checkAllows(grant, await read.loadMeta(), purpose);
      return { nullifier, groupId: groupId.toString(), purpose };
    },
  };
}
