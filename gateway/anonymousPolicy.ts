/**
 * The gateway's rules for anonymous prediction requests (IPredictionRouter.requestPredictionAnonymous).
 *
 * An anonymous request names no patient: its blobs are owned by its one-time accessKey (an
 * address that is nobody's account, protocol/gateway.ts HEADER_ANONYMOUS), and the patient's
 * client signs its gateway requests with that key. So the gateway sees, and audits, only the
 * accessKey. What it allows, beyond the owner reading its own blobs:
 * - the accessKey uploads the request's input (`he-input`) and fresh public keys (`he-keys`),
 *   category PREDICTION, `ref` = the request id, and only the bytes the request commits to
 *   (`inputHash`, `keysHash`): (a) once the request is on-chain (`accessKeyOf(ref)` = signer), or
 *   (b) before it is sent, when the upload carries the request and its proof and
 *   `checkAnonymousRequest` (eth_call: the transaction's own checks) returns `ref`, and no other
 *   request of the same epoch slot (same id) was uploaded before submission;
 * - an oracle serving a pending anonymous request (`getRequest(ref).patient` = 0,
 *   `accessKeyOf(ref)` = owner) reads its input and keys and writes its result (chainPolicy.ts).
 */
import { ZeroAddress, ZeroHash } from "ethers";

import { Category } from "../protocol/codes.js";
import type { MedCipherContracts } from "../protocol/contracts.js";
import type { AnonymousUpload } from "../protocol/gateway.js";
import { decodeRevert, describeRevert } from "../protocol/revert.js";
import { toSolidityProof } from "../protocol/zk/proofFormat.js";
import { checksumAddress as getAddress } from "./address.js";
import { ForbiddenError } from "./errors.js";
import type { WriteAccess } from "./policy.js";

/** A request as the policy reads it (IPredictionRouter.getRequest). */
export type RequestView = { patient: string; status: number; inputHash: string };

export type AnonymousRulesOptions = {
  contracts: MedCipherContracts;
  /** chainPolicy's per-block memo: every chain read goes through it. */
  view: <T>(key: string, read: () => Promise<T>) => Promise<T>;
  request: (requestId: string) => Promise<RequestView>;
  /** First block searched for AnonymousPredictionRequested (the router's deployment block). */
  fromBlock?: number;
};

export type AnonymousRules = {
  /** Throws ForbiddenError unless the write is one of the request's own input or keys uploads. */
  authorizeUpload(access: WriteAccess, signer: string): Promise<void>;
  /**
   * Whether `access` (signed by its owner, no header) is an upload for an on-chain anonymous
   * request: true when `ref`'s accessKey is the signer, and then the upload is checked.
   */
  isOnChainUpload(access: WriteAccess, signer: string): Promise<boolean>;
  /**
   * The input and keys hashes of the anonymous request `ref` when its accessKey is `owner`;
   * undefined when `ref` is not an anonymous request of `owner`.
   */
  blobsOf(ref: string, owner: string): Promise<{ inputHash: string; keysHash(): Promise<string | undefined> } | undefined>;
};

/** Request ids whose pre-submission content is remembered (see `claim`); the oldest are forgotten first. */
export const MAX_PRESUBMISSION_CLAIMS = 65_536;

export function createAnonymousRules(options: AnonymousRulesOptions): AnonymousRules {
  const { contracts, view } = options;
  const fromBlock = options.fromBlock ?? 0;
  const claims = new Map<string, string>();

  /**
   * The request id depends only on the proof's nullifier (one per patient, epoch and slot), not on
   * the request's content: a patient could prove many different requests for one slot and upload
   * each one's input and keys under a fresh accessKey, unbounded and unlinkable. So before
   * submission a request id takes the first content (inputHash, keysHash) uploaded under it and
   * refuses others; once on-chain, the chain says which content it is (rule (a)). Kept in memory
   * (a restart forgets; the proof is valid for two epochs at most), bounded.
   */
  function claim(requestId: string, request: AnonymousUpload["request"]) {
    const content = `${request.inputHash}:${request.keysHash}`;
    const claimed = claims.get(requestId);
    if (claimed !== undefined && claimed !== content) {
      throw new ForbiddenError("another request of this epoch slot (same request id) was uploaded before submission: submit that one, or use another slot", { requestId });
    }
    if (claimed === undefined) {
      claims.set(requestId, content);
      if (claims.size > MAX_PRESUBMISSION_CLAIMS) claims.delete(claims.keys().next().value!);
    }
  }

  const accessKeyOf = (ref: string) => view(`accessKey:${ref}`, async () => getAddress(await contracts.router.accessKeyOf(ref)));

  /** The keysHash the request's AnonymousPredictionRequested event carries (getRequest has none). */
  const keysHashOf = (ref: string) => view(`anonKeys:${ref}`, async () => {
    const logs = await contracts.router.queryFilter(contracts.router.filters.AnonymousPredictionRequested(ref), fromBlock, "latest");
    const keysHash = logs.at(-1)?.args.keysHash;
    return keysHash === undefined ? undefined : keysHash.toLowerCase();
  });

  /** checkAnonymousRequest by eth_call: the request id, or ForbiddenError naming the router's reason. */
  const checkedRequestId = (upload: AnonymousUpload) => view(`anonCheck:${JSON.stringify(upload)}`, async () => {
    try {
      return (await contracts.router.checkAnonymousRequest(upload.request, toSolidityProof(upload.proof))).toLowerCase();
    } catch (error) {
      const revert = decodeRevert(error);
      if (revert) throw new ForbiddenError(`the router refuses the anonymous request: ${describeRevert(revert)}`, { revert: revert.reason });
      if ((error as { code?: unknown }).code === "CALL_EXCEPTION") throw new ForbiddenError("the router refuses the anonymous request (it reverted without a reason)");
      throw error; // the node failed, not the request: a 500, retried by the client
    }
  });

  function checkShape(access: WriteAccess, signer: string) {
    if (access.kind !== "he-input" && access.kind !== "he-keys") throw new ForbiddenError("an anonymous request's accessKey uploads only its input (he-input) and public keys (he-keys)", { kind: access.kind });
    if (getAddress(access.owner) !== signer) throw new ForbiddenError("an anonymous request's blobs are owned by its accessKey, which signs their upload", { signer, owner: access.owner });
    if (access.category !== Category.PREDICTION) throw new ForbiddenError("an anonymous request's blobs have category PREDICTION", { category: access.category });
    if (access.ref === ZeroHash) throw new ForbiddenError("an anonymous upload names its request id (ref)");
  }

  function checkHash(access: WriteAccess, expected: { inputHash: string; keysHash?: string }) {
    const wanted = access.kind === "he-input" ? expected.inputHash : expected.keysHash;
    if (wanted === undefined) throw new ForbiddenError("the request's keysHash is not known yet (no AnonymousPredictionRequested event): upload the keys with the request and proof", { requestId: access.ref });
    if (access.blobId !== wanted) {
      throw new ForbiddenError(`the blob is not the request's ${access.kind === "he-input" ? "input" : "public keys"}: its SHA-256 differs from the request's ${access.kind === "he-input" ? "inputHash" : "keysHash"}`, { blobId: access.blobId, expected: wanted });
    }
  }

  async function onChainUpload(access: WriteAccess, signer: string): Promise<boolean> {
    if (access.ref === ZeroHash || access.kind !== "he-input" && access.kind !== "he-keys") return false;
    if ((await accessKeyOf(access.ref)) !== signer) return false;
    checkShape(access, signer);
    const request = await options.request(access.ref);
    checkHash(access, { inputHash: request.inputHash, keysHash: access.kind === "he-keys" ? await keysHashOf(access.ref) : undefined });
    return true;
  }

  return {
    isOnChainUpload: onChainUpload,

    async authorizeUpload(access, signer) {
      if (await onChainUpload(access, signer)) return;
      const upload = access.anonymous;
      if (!upload) throw new ForbiddenError("no anonymous request with this accessKey is on-chain under ref, and the upload carries no request and proof", { requestId: access.ref });
      checkShape(access, signer);
      if (getAddress(upload.request.accessKey) !== signer) throw new ForbiddenError("the anonymous request names another accessKey than the signer", { signer, accessKey: upload.request.accessKey });
      checkHash(access, upload.request);
      const requestId = await checkedRequestId(upload);
      if (requestId !== access.ref.toLowerCase()) throw new ForbiddenError("ref is not the anonymous request's id", { ref: access.ref, requestId });
      claim(requestId, upload.request);
    },

    async blobsOf(ref, owner) {
      if (ref === ZeroHash || owner === ZeroAddress) return undefined;
      const request = await options.request(ref);
      if (request.patient !== ZeroAddress || (await accessKeyOf(ref)) !== owner) return undefined;
      return { inputHash: request.inputHash, keysHash: () => keysHashOf(ref) };
    },
  };
}

