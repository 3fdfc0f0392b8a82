/**
 * The ingestion firewall: `POST /v1/firewall/he-input/:rawId` (signed, method FIREWALL). The
 * gateway stands between the client that encrypts a prediction input and everything downstream
 * of the store; here it re-randomises the input (fhe/firewall.ts: checked, then ct + Enc_pk(0)
 * under the owner's current public key) and stores the result as the `he-input` blob, whose id
 * it returns. That id is what the client commits on-chain (requestPrediction) and what the
 * oracle evaluates, so neither ever holds bytes carrying the encryptor's own randomness.
 *
 * The owner's public key comes from the chain: keySetOf(owner) names the evaluation-keys blob
 * (keysHash), which this gateway stores (kind `he-keys`, checked public keys only at upload and
 * again here). Loaded SEAL keys are kept per keysHash, at most `maxCachedKeys`, least recently
 * used evicted and freed once no request holds them.
 *
 * `mode`: `required` — a direct PUT of an `he-input` is refused (GATEWAY_FIREWALL_REQUIRED), so
 * no client can opt out (a subverted one would); `offered` — the route is there, direct uploads
 * still accepted (older clients, test harnesses). Anonymous requests are exempt either way: their
 * inputHash is committed inside a zero-knowledge proof before upload (docs/fhe.md "Reverse firewall").
 */
import type { IncomingMessage } from "node:http";

import { ZeroAddress, ZeroHash } from "ethers";

import { BaseError } from "../core/errors.js";
import { isSha256Hex, sha256Hex, type Sha256Hex } from "../core/hash.js";
import { firewallInput, inputParamSetId, loadFirewallKey, type FirewallKey } from "../fhe/firewall.js";
import type { ModelArtifact } from "../fhe/model.js";
import { isBlobKind, type FirewallReply } from "../protocol/gateway.js";
import { checksumAddress as getAddress } from "./address.js";
import type { AuditLog } from "./audit/auditLog.js";
import type { AuthenticatedRequest } from "./auth/requestAuth.js";
import { BadRequestError, BlobConflictError, BlobIntegrityError, BlobTooLargeError, FirewallError } from "./errors.js";
import type { AccessPolicy } from "./policy.js";
import type { BlobStore } from "./store/blobStore.js";
import type { MetadataStore } from "./store/metadata.js";

export type FirewallMode = "required" | "offered";
export const FIREWALL_MODES: readonly FirewallMode[] = ["required", "offered"];

/** Default bound on loaded public keys: ~32 KiB of SEAL memory each at N=2048, ~640 KiB at N=8192. */
export const DEFAULT_MAX_CACHED_KEYS = 256;

export type IngestFirewallOptions = {
  mode: FirewallMode;
  /** The owner's key set on-chain (IdentityRegistry.keySetOf, paramSetId decoded); keysHash zero when none. */
  keySetOf(owner: string): Promise<{ keysHash: string; paramSetId: string }>;
  /** The evaluation-keys blob stored under `keysHash`, verified by the store, or undefined. */
  loadKeys(keysHash: Sha256Hex): Promise<Uint8Array | undefined>;
  /** Models whose inputs are checked exactly (count, binding) when an input is bound to one; others get the parameter set's check. */
  models?: readonly Pick<ModelArtifact, "id" | "encodingSpec" | "encodingSpecHash">[];
  maxCachedKeys?: number;
};

export type FirewalledUpload = { blob: Uint8Array; blobId: Sha256Hex; keysHash: Sha256Hex; ciphertexts: number };

export type IngestFirewall = {
  readonly mode: FirewallMode;
  /**
   * Re-randomises `owner`'s input under the owner's current public key. `assertedKeysHash` (the
   * request's `ref`; zero for none) must be that key set: a client that encrypted under another
   * patient's key, or an old key, learns it here instead of getting a result nobody can decrypt.
   * Throws FirewallError.
   */
  firewall(owner: string, input: Uint8Array, assertedKeysHash?: string): Promise<FirewalledUpload>;
  /** Public keys loaded now (metrics, tests). */
  cachedKeys(): number;
  /** Frees every cached key (once no request holds it). */
  dispose(): void;
};

type CachedKey = { key: Promise<FirewallKey>; holders: number; evicted: boolean };

export function createIngestFirewall(options: IngestFirewallOptions): IngestFirewall {
  const maxCachedKeys = options.maxCachedKeys ?? DEFAULT_MAX_CACHED_KEYS;
  // Map order is recency: a hit is re-inserted at the end, the first entry is the least recently used.
  const cache = new Map<string, CachedKey>();
  const models = new Map<string, NonNullable<IngestFirewallOptions["models"]>[number]>((options.models ?? []).map((model) => [model.encodingSpecHash, model]));

  const free = (entry: CachedKey) => {
    if (entry.evicted && entry.holders === 0) entry.key.then((key) => key.dispose(), () => undefined);
  };

  async function loadKey(keysHash: Sha256Hex, paramSetId: string): Promise<FirewallKey> {
    const bytes = await options.loadKeys(keysHash);
    if (bytes === undefined) throw new FirewallError("GATEWAY_FIREWALL_KEYS_UNAVAILABLE", "The owner's evaluation keys (named by keySetOf) are not stored at this gateway: upload them (kind he-keys) first.", { keysHash });
    if (sha256Hex(bytes) !== keysHash) throw new FirewallError("GATEWAY_FIREWALL_KEYS_UNAVAILABLE", "The stored evaluation keys do not hash to the owner's keysHash.", { keysHash });
    try {
      return await loadFirewallKey(bytes, paramSetId);
    } catch (error) {
      throw new FirewallError("GATEWAY_FIREWALL_KEYS_UNAVAILABLE", "The owner's evaluation keys hold no usable public key of their parameter set.", { keysHash, engineCode: (error as BaseError).code });
    }
  }

  /** A cached key, held until `release` (so an eviction meanwhile cannot free it under the caller). */
  async function acquire(keysHash: Sha256Hex, paramSetId: string): Promise<{ key: FirewallKey; release(): void }> {
    let entry = cache.get(keysHash);
    if (entry !== undefined) cache.delete(keysHash);
    else {
      entry = { key: loadKey(keysHash, paramSetId), holders: 0, evicted: false };
      // A failed load is not cached: the keys may be uploaded a moment later.
      entry.key.catch(() => { if (cache.get(keysHash) === entry) cache.delete(keysHash); });
    }
    cache.set(keysHash, entry);
    while (cache.size > maxCachedKeys) {
      const [oldest, victim] = cache.entries().next().value as [string, CachedKey];
      cache.delete(oldest);
      victim.evicted = true;
      free(victim);
    }
    const held = entry;
    held.holders += 1;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      held.holders -= 1;
      free(held);
    };
    try {
      return { key: await held.key, release };
    } catch (error) {
      release();
      throw error;
    }
  }

  return {
    mode: options.mode,
    cachedKeys: () => cache.size,
    dispose() {
      for (const entry of cache.values()) {
        entry.evicted = true;
        free(entry);
      }
      cache.clear();
    },

    async firewall(owner, input, assertedKeysHash = ZeroHash) {
      const keySet = await options.keySetOf(owner);
      const keysHash = keySet.keysHash.toLowerCase();
      if (keysHash === ZeroHash || !isSha256Hex(keysHash)) throw new FirewallError("GATEWAY_FIREWALL_NO_KEY_SET", "The owner has no key set on-chain: only a registered patient's inputs can be firewalled.", { owner });
      const asserted = assertedKeysHash.toLowerCase();
      if (asserted !== ZeroHash && asserted !== keysHash) {
        throw new FirewallError("GATEWAY_FIREWALL_KEY_MISMATCH", "The input was encrypted under another key set than the owner's current one (another patient's, or a rotated one).", { owner, expected: keysHash, asserted });
      }
      let declared: string;
      try {
        declared = inputParamSetId(input);
      } catch (error) {
        throw malformed(error);
      }
      if (declared !== keySet.paramSetId) {
        throw new FirewallError("GATEWAY_FIREWALL_WRONG_PARAMETER_SET", `The input is for parameter set "${declared}", the owner's key set is "${keySet.paramSetId}".`, { expected: keySet.paramSetId, actual: declared });
      }
      const { key, release } = await acquire(keysHash, keySet.paramSetId);
      try {
        const model = models.get(bindingOf(input));
        const { blob, ciphertexts } = firewallInput(key, input, model ? { model } : {});
        return { blob, blobId: sha256Hex(blob), keysHash, ciphertexts };
      } catch (error) {
        throw malformed(error);
      } finally {
        release();
      }
    },
  };
}

/** The input header's binding (bytes 48..80), to pick the model; the firewall checks the rest. */
function bindingOf(input: Uint8Array): string {
  let hex = "0x";
  for (const byte of input.subarray(48, 80)) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

function malformed(error: unknown): FirewallError {
  if (error instanceof FirewallError) return error;
  if (!(error instanceof BaseError)) throw error;
  return new FirewallError("GATEWAY_FIREWALL_MALFORMED_INPUT", `The input is not a well-formed ciphertext of its parameter set: ${error.shortMessage}`, { engineCode: error.code, ...(error.details ?? {}) });
}

export type FirewallRouteOptions = {
  firewall: IngestFirewall;
  policy: AccessPolicy;
  store: BlobStore;
  metadata: MetadataStore;
  audit: AuditLog;
  /** The `he-input` size limit (the raw upload; a seeded input about doubles behind the firewall, still far below it). */
  maxBytes: number;
  /** The gateway's upload budget: reserves `bytes`, returns the release. */
  reserveUpload(bytes: number): () => void;
  onBytesIn(bytes: number): void;
  now(): number;
};

export type FirewallRoute = {
  /** Serves one authenticated FIREWALL request for the raw body `rawId`: 201 and the FirewallReply. */
  handle(req: IncomingMessage, rawId: Sha256Hex, auth: AuthenticatedRequest): Promise<{ status: number; reply: FirewallReply }>;
};

/**
 * The route: the same authorisation as a direct upload of the owner's `he-input` (the owner, or a
 * grantee with live consent for PREDICTION / TREATDS), the raw body read whole (bounded) and
 * hashed against the signed id, the firewall, then the re-randomised blob stored, its metadata
 * and one audit entry (the write of the stored blob). A refused input stores nothing.
 */
export function createFirewallRoute(options: FirewallRouteOptions): FirewallRoute {
  return {
    async handle(req, rawId, auth) {
      const { kind, category, purpose } = auth.fields;
      if (!isBlobKind(kind) || kind !== "he-input") throw new BadRequestError("The firewall takes prediction inputs only (kind he-input).", { kind });
      const owner = getAddress(auth.fields.owner);
      if (owner === ZeroAddress) throw new BadRequestError("A blob must name its owner (patient).");
      const declared = Number(req.headers["content-length"] ?? NaN);
      if (Number.isFinite(declared) && declared > options.maxBytes) throw new BlobTooLargeError({ kind, maxBytes: options.maxBytes, bytes: declared });
      // As a direct upload of the patient's input would be authorised; ref (the asserted key set) is not the blob's ref.
      const reason = await options.policy.authorizeWrite({ signer: auth.signer, blobId: rawId, owner, kind, category, purpose, ref: ZeroHash });
      const release = options.reserveUpload(Number.isFinite(declared) ? declared : options.maxBytes);
      let raw: Uint8Array;
      try {
        raw = await readBody(req, options.maxBytes, options.onBytesIn);
      } finally {
        release();
      }
      const actual = sha256Hex(raw);
      if (actual !== rawId) throw new BlobIntegrityError({ blobId: rawId, actual, where: "upload" });
      const { blob, blobId, keysHash } = await options.firewall.firewall(owner, raw, auth.fields.ref);
      const wanted = { owner, kind, category, ref: ZeroHash };
      await options.store.put(blobId, blob);
      const { meta } = await options.metadata.create({ blobId, ...wanted, size: blob.length, writer: auth.signer, storedAt: new Date(options.now() * 1000).toISOString() });
      // A fresh encryption's id collides with nothing; only a (≈ impossible) second upload of the same bytes could find metadata.
      if (meta.owner !== owner || meta.kind !== kind || meta.category !== category) throw new BlobConflictError(blobId);
      await options.audit.append({ actor: auth.signer, action: "write", blobId, owner, purpose, outcome: "granted", reason });
      return { status: 201, reply: { blobId, rawBlobId: rawId, keysHash, size: blob.length } };
    },
  };
}

/** The whole request body, refused past `maxBytes` (also when no content-length bounded it). */
async function readBody(req: IncomingMessage, maxBytes: number, onBytes: (bytes: number) => void): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req.iterator({ destroyOnReturn: false })) {
      const bytes = chunk as Buffer;
      onBytes(bytes.length);
      size += bytes.length;
      if (size > maxBytes) throw new BlobTooLargeError({ kind: "he-input", maxBytes, bytes: size });
      chunks.push(bytes);
    }
  } finally {
    if (!req.readableEnded) req.resume();
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body;
}
