import type { Sha256Hex } from "../core/hash.js";
import type { AnonymousUpload, BlobKind } from "../protocol/gateway.js";
import type { BlobMeta } from "./store/metadata.js";

/** The rule that allowed an access; it is written to the audit log. */
export type GrantReason = "owner" | "device" | "consent" | "oracle" | "anonymous" | "private-consent" | "group-consent";

export type ReadAccess = { signer: string; blobId: Sha256Hex; purpose: number; ref: string; meta: BlobMeta };
/** `anonymous`: the decoded `x-medcipher-anonymous` header, when the upload carries one (anonymousPolicy.ts). */
export type WriteAccess = { signer: string; blobId: Sha256Hex; owner: string; kind: BlobKind; category: number; purpose: number; ref: string; anonymous?: AnonymousUpload };

/**
 * Who may do what. The gateway asks on every request; implementations throw ForbiddenError with
 * a reason a person can act on. The production policy reads the chain (gateway/chainPolicy.ts).
 */
export interface AccessPolicy {
  authorizeRead(access: ReadAccess): Promise<GrantReason>;
  authorizeWrite(access: WriteAccess): Promise<GrantReason>;
  /** May `signer` read the audit trail of patient `owner`? */
  authorizeAuditRead(signer: string, owner: string): Promise<void>;
}
