import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { isSha256Hex, sha256Hex } from "../../core/hash.js";
import { checkPublicKeysOnly } from "../../fhe/keys.js";
import { BadRequestInputError, FailureReason, GatewayRefusalError, NonRetryableError, RetryableError } from "../errors.js";
import type { PredictionDetails } from "../store/jobStore.js";

/**
 * Blob access for the oracle: a gateway (anything with the SDK gateway client's `get`/`put`)
 * behind a content-addressed cache in memory (bounded, least recently used out). Evaluation keys
 * are fetched once per key set, not per request, and also kept on disk, so a restart does not
 * fetch every patient's keys again. It holds only what the gateway serves the oracle (ciphertexts
 * and public evaluation keys) and the results it computed.
 *
 * Inputs and results stay in memory only: after a crash a step in hand fetches its input again
 * or evaluates again (deterministic), which costs less than writing two files per request did
 * (creating a file takes about a millisecond here; a burst paid it hundreds of times).
 */
export type GatewayBackend = {
  /** `ref`: the prediction request the oracle serves (the gateway authorises oracle access by it). */
  get(blobId: string, parameters: { purpose: number; ref?: string }): Promise<Uint8Array>;
  put(bytes: Uint8Array, parameters: { owner: string; kind: "he-result"; category: number; purpose?: number; ref?: string }): Promise<string>;
  readonly url: string;
};

/** Purpose of use the oracle names when it reads (HL7 TREATDS, "treatment decision support"). */
export const ORACLE_READ_PURPOSE = 4;
/** Record category of prediction inputs and results (contracts/libraries/ConsentCodes.sol). */
export const PREDICTION_CATEGORY = 7;

export type BlobRole = "input" | "keys";

/** An anonymous request's key set is its own, made for it alone and never used again: memory only, not on disk. */
export function keysCaching(prediction: PredictionDetails): { oneTime: boolean } {
  return { oneTime: prediction.accessKey !== undefined };
}

export type OracleBlobs = ReturnType<typeof createOracleBlobs>;

/** Default bound of the in-memory cache: a burst's inputs, results and key sets (~15 KiB each at ckks-2048). */
export const DEFAULT_MEMORY_CACHE_BYTES = 64 * 1024 * 1024;

export function createOracleBlobs({ gateway, cacheDir, memoryBytes = DEFAULT_MEMORY_CACHE_BYTES, onError, onTiming }: {
  gateway: GatewayBackend;
  cacheDir: string;
  memoryBytes?: number;
  onError?: (error: unknown) => void;
  onTiming?: (op: "get" | "put", seconds: number) => void;
}) {
  mkdirSync(cacheDir, { recursive: true });
  // Insertion order is recency: a hit moves the entry to the end, eviction takes from the front.
  const memory = new Map<string, Uint8Array>();
  let memoryUsed = 0;

  function remember(blobId: string, bytes: Uint8Array): void {
    const previous = memory.get(blobId);
    if (previous) {
      memory.delete(blobId);
      memoryUsed -= previous.length;
    }
    if (bytes.length > memoryBytes) return;
    memory.set(blobId, bytes);
    memoryUsed += bytes.length;
    for (const [oldest, old] of memory) {
      if (memoryUsed <= memoryBytes) break;
      memory.delete(oldest);
      memoryUsed -= old.length;
    }
  }
  const pathOf = (blobId: string) => {
    if (!isSha256Hex(blobId)) throw new NonRetryableError("Not a blob id", { code: "ORACLE_BAD_BLOB_ID", details: { blobId } });
    return join(cacheDir, blobId.slice(2));
  };

  /**
   * A key set is cached and used only if it holds public keys only (fhe/keys.ts): a secret key
   * uploaded by mistake fails the request here, before it is written to the oracle's disk.
   */
  function requirePublicKeys(blobId: string, bytes: Uint8Array): void {
    try {
      checkPublicKeysOnly(bytes);
    } catch (error) {
      const e = error as { code?: string; details?: { reason?: string } };
      throw new BadRequestInputError(FailureReason.KeysUnavailable, "keys blob does not hold public keys only", {
        details: { blobId, engineCode: e.code, why: e.details?.reason },
        cause: error,
      });
    }
  }

  /**
   * Memory first, then (keys only: nothing else is written there) the disk copy of an earlier
   * run, hash-checked before it is believed.
   */
  function readCached(blobId: string, role?: BlobRole): Uint8Array | undefined {
    const inMemory = memory.get(blobId);
    if (inMemory) {
      remember(blobId, inMemory);
      return inMemory;
    }
    if (role !== "keys") return undefined;
    try {
      const bytes = new Uint8Array(readFileSync(pathOf(blobId)));
      if (sha256Hex(bytes) === blobId) {
        requirePublicKeys(blobId, bytes);
        remember(blobId, bytes);
        return bytes;
      }
      rmSync(pathOf(blobId), { force: true });
    } catch (error) {
      if (error instanceof BadRequestInputError) {
        rmSync(pathOf(blobId), { force: true }); // cached before the check existed: never again
        throw error;
      }
      // not cached
    }
    return undefined;
  }

  /**
   * Kept in memory; keys also on disk, written in the background (nothing waits for it) by
   * rename, so a reader never sees half a blob. Not fsynced: every disk read re-checks the hash.
   */
  function writeCached(blobId: string, bytes: Uint8Array, role?: BlobRole, oneTime = false): void {
    remember(blobId, bytes);
    if (role !== "keys" || oneTime) return;
    const target = pathOf(blobId);
    const temp = `${target}.${randomBytes(6).toString("hex")}.tmp`;
    void writeFile(temp, bytes)
      .then(() => rename(temp, target))
      .catch(() => rm(temp, { force: true }).catch(() => undefined));
  }

  /** Maps a gateway failure onto the oracle's classes: outages retry, refusals are bad input. */
  function classify(error: unknown, role: BlobRole, blobId: string): Error {
    onError?.(error);
    const e = error as { name?: string; status?: number; code?: string };
    const missing = role === "input" ? FailureReason.InputUnavailable : FailureReason.KeysUnavailable;
    const mismatch = role === "input" ? FailureReason.InputHashMismatch : FailureReason.KeysHashMismatch;
    if (e.name === "IntegrityError") return new BadRequestInputError(mismatch, `${role} blob does not hash to its on-chain id`, { details: { blobId }, cause: error });
    if (e.name === "GatewayRequestError" && typeof e.status === "number") {
      if (e.status === 429 || e.status >= 500) return new RetryableError(`gateway answered ${e.status}`, { code: "ORACLE_GATEWAY_BUSY", cause: error });
      if (e.status === 404) return new BadRequestInputError(missing, `${role} blob is not on the gateway`, { details: { blobId }, cause: error });
      // Authorisation and conflict answers prove nothing about the input: the gateway may have
      // judged against a branch a reorg dropped, or answered a retry it had already processed.
      if (e.status === 401 || e.status === 403 || e.status === 409) {
        return new GatewayRefusalError(missing, e.status, `gateway refused the oracle's read of the ${role} (${e.status} ${e.code ?? ""})`.trim(), { details: { blobId, gatewayCode: e.code }, cause: error });
      }
      if (e.status === 413 || e.status === 400) return new BadRequestInputError(missing, `gateway rejected the ${role} read`, { details: { blobId, gatewayCode: e.code }, cause: error });
    }
    // Unreachable gateway, forged or missing response signature, timeouts: try again later.
    return new RetryableError(`gateway unavailable while reading the ${role}`, { code: "ORACLE_GATEWAY_UNAVAILABLE", cause: error, details: { blobId } });
  }

  async function fetchFromGateway(blobId: string, role: BlobRole, requestId: string, oneTime: boolean): Promise<Uint8Array> {
    let bytes: Uint8Array;
    const started = performance.now();
    try {
      bytes = await gateway.get(blobId, { purpose: ORACLE_READ_PURPOSE, ref: requestId });
    } catch (error) {
      throw classify(error, role, blobId);
    } finally {
      onTiming?.("get", (performance.now() - started) / 1000);
    }
    if (sha256Hex(bytes) !== blobId) {
      throw new BadRequestInputError(role === "input" ? FailureReason.InputHashMismatch : FailureReason.KeysHashMismatch, `${role} blob does not hash to its on-chain id`);
    }
    if (role === "keys") requirePublicKeys(blobId, bytes);
    writeCached(blobId, bytes, role, oneTime);
    return bytes;
  }

  const inFlight = new Map<string, Promise<Uint8Array>>();

  return {
    /**
     * The blob from the cache, else from the gateway (verified there and again here), cached.
     * `oneTime`: a key set made for this one request (an anonymous request's), never used again:
     * kept in memory only, not on disk (`forget` it when the request settles).
     */
    async fetch(blobId: string, role: BlobRole, requestId: string, options: { oneTime?: boolean } = {}): Promise<Uint8Array> {
      const oneTime = options.oneTime ?? false;
      if (!isSha256Hex(blobId)) {
        throw new BadRequestInputError(role === "input" ? FailureReason.InputUnavailable : FailureReason.KeysUnavailable, `${role} hash is not a SHA-256 id`);
      }
      const cached = readCached(blobId, role);
      if (cached) return cached;
      // Single flight: the jobs of one patient share a key set; a burst must not fetch it once per
      // job. A failed shared fetch is not inherited (the gateway judged another request's `ref`):
      // the waiting job then asks for itself.
      const pending = inFlight.get(blobId);
      if (pending) {
        try {
          return await pending;
        } catch {
          return fetchFromGateway(blobId, role, requestId, oneTime);
        }
      }
      const fetching = fetchFromGateway(blobId, role, requestId, oneTime).finally(() => inFlight.delete(blobId));
      inFlight.set(blobId, fetching);
      return fetching;
    },

    /** A computed result kept by `keep` (memory only). */
    cached: (blobId: string) => readCached(blobId),
    /** Keeps a computed result until it is stored (memory only). */
    keep: (blobId: string, bytes: Uint8Array) => writeCached(blobId, bytes),

    /**
     * Stores a result ciphertext on the gateway as `owner`'s blob (the patient, or an anonymous
     * request's accessKey); idempotent (content-addressed):
     * identical bytes already stored count as stored. Every refusal is retryable.
     */
    async storeResult(bytes: Uint8Array, owner: string, requestId: string): Promise<{ resultHash: string; resultUri: string }> {
      let blobId: string;
      const started = performance.now();
      try {
        blobId = await gateway.put(bytes, { owner, kind: "he-result", category: PREDICTION_CATEGORY, purpose: ORACLE_READ_PURPOSE, ref: requestId });
      } catch (error) {
        onError?.(error);
        const e = error as { name?: string; status?: number; code?: string };
        const expectedId = sha256Hex(bytes);
        // 409: the gateway already holds these exact bytes (content-addressed: the id is their
        // SHA-256), stored by an earlier upload, possibly under another request id after a
        // reorg re-numbered requests. The result is there: that is success.
        if (e.name === "GatewayRequestError" && e.status === 409) {
          blobId = expectedId;
        } else if (e.name === "GatewayRequestError" && e.status !== undefined && e.status >= 400 && e.status < 500 && e.status !== 429) {
          // No 4xx on an upload proves the result bad (401 replay of a retried request, 403 from
          // a stale chain view …): a fresh, newly signed upload is tried again later.
          throw new GatewayRefusalError(FailureReason.StorageFailed, e.status, `gateway refused the result upload (${e.status} ${e.code ?? ""})`.trim(), { cause: error });
        } else {
          throw new RetryableError("gateway unavailable while storing the result", { code: "ORACLE_GATEWAY_UNAVAILABLE", cause: error });
        }
      } finally {
        onTiming?.("put", (performance.now() - started) / 1000);
      }
      return { resultHash: blobId, resultUri: `${gateway.url.replace(/\/+$/, "")}/v1/blobs/${blobId}` };
    },

    /** Drops a settled request's input, result or one-time keys from memory (they are never on disk). */
    forget(blobId: string): void {
      const inMemory = memory.get(blobId);
      if (inMemory) {
        memory.delete(blobId);
        memoryUsed -= inMemory.length;
      }
    },
  };
}
