import { id as keccakUtf8, ZeroAddress, ZeroHash, type Provider } from "ethers";

import { Category, categoryName, Purpose, purposeName, RequestStatus } from "../protocol/codes.js";
import { HEADER_ANONYMOUS } from "../protocol/gateway.js";
import type { MedCipherContracts } from "../protocol/contracts.js";
import { checksumAddress as getAddress } from "./address.js";
import { createAnonymousRules } from "./anonymousPolicy.js";
import { ForbiddenError } from "./errors.js";
import type { AccessPolicy, GrantReason, ReadAccess, WriteAccess } from "./policy.js";
import type { ChainView } from "./privateAccess.js";
import type { DeviceViews } from "./recordSignatures.js";

export const ORACLE_ROLE = keccakUtf8("ORACLE_ROLE");

export type ChainPolicyOptions = {
  contracts: MedCipherContracts;
  provider: Provider;
  /**
   * How long a fetched head block is reused. Every chain view is cached for the block (by hash)
   * it was read at, so the staleness of any decision is at most one block plus this many
   * milliseconds. 0 asks for the head block on every request (exact, one extra RPC call each).
   */
  blockNumberTtlMs?: number;
  /** Told of every chain view asked: `true` when the view came from the block's cache (metrics). */
  onView?: (cacheHit: boolean) => void;
  /** First block searched for the router's events (its deployment block); default 0. */
  fromBlock?: number;
};

/**
 * Onboarding uploads the evaluation keys before the registration that commits to their hash (so
 * a failed upload never leaves a registered patient without keys): an account that is not a
 * patient yet may store exactly that, its own `he-keys` blob, category PREDICTION, with `ref`
 * naming the blob's own hash (the keysHash it will register). Nothing else before registration.
 */
function isKeySetBeforeRegistration(access: WriteAccess): boolean {
  return access.kind === "he-keys" && access.category === Category.PREDICTION && access.ref.toLowerCase() === access.blobId;
}

/** An input or keys upload naming a request (`ref`) that is not the onboarding key set: an anonymous request's, or nothing. */
function isPredictionBlob(access: WriteAccess): boolean {
  return (access.kind === "he-input" || access.kind === "he-keys") && access.ref !== ZeroHash && !isKeySetBeforeRegistration(access);
}

/**
 * Authorisation from the chain, per request:
 * - the owner (a registered patient) reads and writes their blobs; before registering, only their
 *   evaluation keys (isKeySetBeforeRegistration);
 * - a device bound to the patient now (IdentityRegistry.deviceOwner) writes the patient's records
 *   and their shares (`wrapped-key`: delegated sharing, the record's key wrapped to a grantee);
 * - a grantee the PredictionRouter would accept as requester writes the patient's `he-input` only
 *   (authorizeRequesterInput);
 * - a grantee reads under live consent for the blob's category and the request's purpose
 *   (ConsentManager.hasAccess), or a record-scoped consent for the record the blob was stored under;
 * - an oracle (ORACLE_ROLE) reads only the input ciphertext and the patient's evaluation keys named
 *   by a pending prediction request (`ref` = request id), and writes only that request's result;
 * - an anonymous request's accessKey uploads the request's input and keys, and the oracle serving
 *   it reads them and writes its result, owned by the accessKey (anonymousPolicy.ts).
 * Everything else is refused with the reason.
 */
export function createChainAccessPolicy(options: ChainPolicyOptions): AccessPolicy & { viewCacheSize(): number; view: ChainView; devices: DeviceViews } {
  const { contracts, provider } = options;
  const ttl = options.blockNumberTtlMs ?? 0;
  let blockPromise: Promise<string> | undefined;
  let blockFetchedAt = -Infinity;
  let cacheBlockHash = "";
  const cache = new Map<string, Promise<unknown>>();

  /**
   * The head block's hash. Views are keyed by hash, not number: a reorg that replaces the head
   * with another block at the same height (same number, new hash) drops every cached view, so
   * no decision is made against a dropped branch.
   */
  function currentBlockHash(): Promise<string> {
    const now = performance.now();
    if (!blockPromise || now - blockFetchedAt > ttl) {
      blockFetchedAt = now;
      const pending = provider.getBlock("latest").then((block) => {
        if (!block?.hash) throw new Error("the node returned no head block");
        return block.hash;
      });
      pending.catch(() => { if (blockPromise === pending) blockPromise = undefined; });
      blockPromise = pending;
    }
    return blockPromise;
  }

  /** One chain view, memoised for the current head block (concurrent callers share one RPC call). */
  async function view<T>(key: string, read: () => Promise<T>): Promise<T> {
    const blockHash = await currentBlockHash();
    if (blockHash !== cacheBlockHash) {
      cache.clear();
      cacheBlockHash = blockHash;
    }
    let pending = cache.get(key) as Promise<T> | undefined;
    options.onView?.(pending !== undefined);
    if (!pending) {
      pending = read();
      cache.set(key, pending);
      pending.catch(() => cache.delete(key));
    }
    return pending;
  }

  const isPatient = (a: string) => view(`isPatient:${a}`, () => contracts.identity.isPatient(a));
  const deviceOwner = (d: string) => view(`deviceOwner:${d}`, async () => getAddress(await contracts.identity.deviceOwner(d)));
  const isOracle = (a: string) => view(`oracle:${a}`, () => contracts.identity.hasRole(ORACLE_ROLE, a));
  const devicePqKeyHash = (d: string) => view(`pqKey:${d}`, async () => (await contracts.identity.deviceOf(d)).pqKeyHash.toLowerCase());
  const pqKeyBoundSince = (d: string, p: string, k: string) => view(`pqSince:${d}:${p}:${k}`, async () => Number(await contracts.identity.pqKeyBoundSince(d, p, k)));
  const request = (r: string) => view(`request:${r}`, async () => {
    const q = await contracts.router.getRequest(r);
    return { patient: getAddress(q.patient), status: Number(q.status), inputHash: q.inputHash.toLowerCase() };
  });
  const keysHashOf = (p: string) => view(`keys:${p}`, async () => (await contracts.identity.keySetOf(p)).keysHash.toLowerCase());
  const hasAccess = (g: string, p: string, c: number, u: number) => view(`access:${g}:${p}:${c}:${u}`, () => contracts.consent.hasAccess(g, p, c, u));
  const hasRecordAccess = (g: string, p: string, r: string, c: number, u: number) =>
    view(`raccess:${g}:${p}:${r}:${c}:${u}`, () => contracts.consent.hasRecordAccess(g, p, r, c, u));

  const anonymous = createAnonymousRules({ contracts, view, request, fromBlock: options.fromBlock });

  /**
   * The blobs of the pending request `ref` whose blobs `owner` owns: the patient's, or for an
   * anonymous request (patient zero) its accessKey's.
   */
  async function pendingRequestFor(ref: string, owner: string): Promise<{ inputHash: string; keysHash(): Promise<string | undefined> }> {
    if (ref === ZeroHash) throw new ForbiddenError("an oracle must name the prediction request it serves (ref)");
    const r = await request(ref);
    if (r.status !== RequestStatus.Pending) throw new ForbiddenError("the prediction request is not pending", { requestId: ref, status: r.status });
    if (r.patient === owner) return { inputHash: r.inputHash, keysHash: () => keysHashOf(owner) };
    const anonymousBlobs = r.patient === ZeroAddress ? await anonymous.blobsOf(ref, owner) : undefined;
    if (anonymousBlobs) return anonymousBlobs;
    throw new ForbiddenError("the prediction request is for another patient", { requestId: ref });
  }

  /**
   * A clinician requesting a prediction for a patient uploads the encrypted input first. The rule
   * mirrors PredictionRouter._checkRequest/_mayRequest for `msg.sender != patient`: the patient is
   * registered and the signer holds live consent ConsentManager.hasAccess(signer, patient,
   * PREDICTION, TREATDS); the upload must say so itself (kind he-input, category PREDICTION,
   * purpose TREATDS), so the audit entry names the purpose it was granted under.
   * Why it leaks nothing: the blob is a ciphertext under the patient's public key (only the patient
   * holds the secret key), the grantee learns nothing it did not already send, and the oracle's
   * result is encrypted for the patient as well, which the grantee cannot read. The worst a grantee
   * can do is store bytes the patient did not ask for, as it could by requesting on chain.
   */
  async function authorizeRequesterInput(access: WriteAccess, signer: string, owner: string): Promise<void> {
    if (access.category !== Category.PREDICTION) throw new ForbiddenError("a requester's input has category PREDICTION", { category: access.category });
    if (access.purpose !== Purpose.TREATDS) {
      throw new ForbiddenError("a requester uploads an input under purpose TREATDS (treatment decision support), as the router requires", { purpose: access.purpose });
    }
    if (!(await isPatient(owner))) throw new ForbiddenError("the owner is not a registered patient", { owner });
    if (!(await hasAccess(signer, owner, Category.PREDICTION, Purpose.TREATDS))) {
      throw new ForbiddenError("no live consent for PREDICTION records for purpose TREATDS", { grantee: signer, patient: owner, category: Category.PREDICTION, purpose: Purpose.TREATDS });
    }
  }

  return {
    viewCacheSize: () => cache.size,
    /** The same per-block memo, for other chain checks (gateway/privateAccess.ts): one staleness bound for all. */
    view,
    /** The device bindings, through the same memo, for record signatures (gateway/recordSignatures.ts). */
    devices: { deviceOwner, devicePqKeyHash, pqKeyBoundSince },

    async authorizeWrite(access: WriteAccess): Promise<GrantReason> {
      const signer = getAddress(access.signer);
      const owner = getAddress(access.owner);
      if (access.kind === "he-result") {
        if (!(await isOracle(signer))) throw new ForbiddenError("only an oracle writes prediction results");
        await pendingRequestFor(access.ref, owner);
        if (access.category !== Category.PREDICTION) throw new ForbiddenError("prediction results have category PREDICTION");
        return "oracle";
      }
      if (access.anonymous) {
        await anonymous.authorizeUpload(access, signer);
        return "anonymous";
      }
      if (signer === owner) {
        if (await isPatient(owner)) return "owner";
        if (await anonymous.isOnChainUpload(access, signer)) return "anonymous";
        if (isPredictionBlob(access)) {
          throw new ForbiddenError(`the owner is not a registered patient, nor the accessKey of an anonymous request on-chain under ref (before submission, send the request and its proof in ${HEADER_ANONYMOUS})`, { owner, requestId: access.ref });
        }
        if (!isKeySetBeforeRegistration(access)) throw new ForbiddenError("the owner is not a registered patient", { owner });
        return "owner";
      }
      if (access.kind === "he-input") {
        await authorizeRequesterInput(access, signer, owner);
        return "consent";
      }
      if ((await deviceOwner(signer)) === owner) {
        // Its records, and their data keys wrapped to the grantees live at upload (delegated
        // sharing: sealed boxes the gateway cannot read, like the patient's own shares).
        if (access.kind !== "record" && access.kind !== "wrapped-key") throw new ForbiddenError("a device writes records and their shares only", { kind: access.kind });
        return "device";
      }
      throw new ForbiddenError("only the patient or a device bound to the patient may store the patient's blobs", { signer, owner });
    },

    async authorizeRead(access: ReadAccess): Promise<GrantReason> {
      const signer = getAddress(access.signer);
      const { meta } = access;
      const owner = getAddress(meta.owner);
      if (signer === owner) return "owner";
      if (access.ref !== ZeroHash && (await isOracle(signer))) {
        const r = await pendingRequestFor(access.ref, owner);
        if (access.blobId === r.inputHash || access.blobId === (await r.keysHash())) return "oracle";
        throw new ForbiddenError("an oracle reads only the input and evaluation keys of the request it serves", { requestId: access.ref });
      }
      if (access.purpose < 1 || access.purpose > 5) throw new ForbiddenError("a grantee must state a valid purpose of use", { purpose: access.purpose });
      if (await hasAccess(signer, owner, meta.category, access.purpose)) return "consent";
      if (meta.ref !== ZeroHash && (await hasRecordAccess(signer, owner, meta.ref, meta.category, access.purpose))) return "consent";
      throw new ForbiddenError(`no live consent for ${categoryName(meta.category)} records for purpose ${purposeName(access.purpose)}`, {
        grantee: signer, patient: owner, category: meta.category, purpose: access.purpose,
      });
    },

    async authorizeAuditRead(signer, owner) {
      if (getAddress(signer) !== getAddress(owner)) throw new ForbiddenError("only the patient reads their audit trail");
    },
  };
}
