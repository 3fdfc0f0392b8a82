/**
 * The errors of the zero-knowledge layer (protocol/zk/). Codes are stable (ZK_…): the SDK, the
 * gateway and the relayer tell cases apart by them, and the gateway sends them back to clients.
 */
import { BaseError } from "../../core/errors.js";

/** A circuit file does not hash to its pinned SHA-256, or could not be read. */
export class ZkArtifactError extends BaseError {
  override name = "ZkArtifactError";
  constructor(code: "ZK_ARTIFACT_DIGEST" | "ZK_ARTIFACT_UNAVAILABLE", message: string, details: Record<string, unknown>, cause?: unknown) {
    super(message, { code, details, cause });
  }
}

/** The identity is not a member of the group it is asked to prove membership of. */
export class ZkNotMemberError extends BaseError {
  override name = "ZkNotMemberError";
  constructor(commitment: bigint, groupSize: number) {
    super("The identity is not a member of the group.", { code: "ZK_NOT_MEMBER", details: { commitment: commitment.toString(), groupSize } });
  }
}

/** A proof (or a header carrying one) is not in the expected form. */
export class ZkMalformedProofError extends BaseError {
  override name = "ZkMalformedProofError";
  constructor(reason: string, details?: Record<string, unknown>) {
    super(`Malformed zero-knowledge proof: ${reason}`, { code: "ZK_PROOF_MALFORMED", details });
  }
}

/** A proof is well formed but bound to another scope, message or time than the one checked. */
export class ZkBindingError extends BaseError {
  override name = "ZkBindingError";
  constructor(code: "ZK_SCOPE_MISMATCH" | "ZK_MESSAGE_MISMATCH" | "ZK_STALE", message: string, details: Record<string, unknown>) {
    super(message, { code, details });
  }
}

/** The group's event history does not replay to the roots its events name (missing or reordered logs). */
export class ZkGroupHistoryError extends BaseError {
  override name = "ZkGroupHistoryError";
  constructor(message: string, details: Record<string, unknown>) {
    super(message, { code: "ZK_GROUP_HISTORY", details });
  }
}
