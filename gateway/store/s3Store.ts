import { createReadStream } from "node:fs";
import { mkdir, readdir, rm } from "node:fs/promises";

import { DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";

import { isSha256Hex, sha256Hex, type Sha256Hex } from "../../core/hash.js";
import { tempPathIn } from "../../core/node/atomicFile.js";
import { BadRequestError, BlobIntegrityError, BlobStoreUnavailableError } from "../errors.js";
import type { BlobStore } from "./blobStore.js";
import { spoolVerified } from "./spool.js";

/** Where and how to reach an S3-compatible bucket (AWS, MinIO, R2, …). */
export type S3BlobStoreOptions = {
  /** Endpoint URL; empty or absent: AWS's own endpoint for `region`. */
  endpoint?: string;
  bucket: string;
  region: string;
  /** Key prefix inside the bucket (e.g. "gateway/"), so several deployments can share a bucket. */
  prefix?: string;
  /** Path-style URLs (`endpoint/bucket/key`): MinIO and most self-hosted endpoints need it. */
  forcePathStyle?: boolean;
  /** Explicit credentials; absent: the SDK's default chain (AWS_ACCESS_KEY_ID…, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Uploads are spooled and verified here before they go to the bucket. */
  spoolDir: string;
  /** Time limit of one S3 request. */
  requestTimeoutMs?: number;
};

export type S3BlobStore = BlobStore & {
  /** Throws BlobStoreUnavailableError unless the bucket answers. */
  checkReady(): Promise<void>;
  close(): Promise<void>;
};

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

const ignore = () => undefined;
const SILENT_LOGGER = { trace: ignore, debug: ignore, info: ignore, warn: ignore, error: ignore };

/**
 * Blobs as objects `<prefix><hash>` in one bucket. A streamed upload is spooled to disk and
 * verified (size limit, SHA-256) before a single PutObject, which S3 makes visible atomically: the
 * bucket never holds a partial or unverified blob. Every read is re-hashed, as the directory store's.
 * An endpoint that is down or refuses is a BlobStoreUnavailableError (HTTP 503), never a 500.
 */
export async function createS3BlobStore(options: S3BlobStoreOptions): Promise<S3BlobStore> {
  const prefix = options.prefix ?? "";
  const client = new S3Client({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    forcePathStyle: options.forcePathStyle ?? false,
    ...(options.credentials ? { credentials: options.credentials } : {}),
    // The SDK's default CRC32 trailers (since 3.729) are not understood by several S3 clones;
    // integrity is ours anyway: every blob is addressed and re-verified by its SHA-256.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 2,
    // Without a logger the SDK writes some failures to the console ("non-retryable streaming
    // request"); every failure is already a BlobStoreUnavailableError the gateway logs and answers.
    logger: SILENT_LOGGER,
    requestHandler: { requestTimeout: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, connectionTimeout: 3_000 },
  });
  await mkdir(options.spoolDir, { recursive: true });
  await cleanSpool(options.spoolDir);

  const keyOf = (id: Sha256Hex) => {
    if (!isSha256Hex(id)) throw new BadRequestError("Blob id must be 0x-prefixed lowercase SHA-256 hex.", { blobId: id });
    return `${prefix}${id.slice(2)}`;
  };

  async function send<T>(operation: "put" | "get" | "has" | "delete" | "ready", id: Sha256Hex | undefined, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw unavailable(operation, id, error);
    }
  }

  return {
    async put(id, bytes) {
      const actual = sha256Hex(bytes);
      if (actual !== id) throw new BlobIntegrityError({ blobId: id, actual, where: "upload" });
      const key = keyOf(id);
      await send("put", id, () => client.send(new PutObjectCommand({ Bucket: options.bucket, Key: key, Body: bytes, ContentLength: bytes.length })));
    },

    async putStream(id, chunks, limit) {
      const key = keyOf(id);
      const spool = tempPathIn(options.spoolDir);
      try {
        const size = await spoolVerified(spool, id, chunks, limit, { sync: false });
        // A stream body is sent once (the SDK does not retry it): a failure is a 503 and the
        // client retries the upload.
        await send("put", id, () => client.send(new PutObjectCommand({ Bucket: options.bucket, Key: key, Body: createReadStream(spool), ContentLength: size })));
        return size;
      } finally {
        await rm(spool, { force: true });
      }
    },

    async get(id) {
      const key = keyOf(id);
      const bytes = await send("get", id, async () => {
        try {
          const response = await client.send(new GetObjectCommand({ Bucket: options.bucket, Key: key }));
          return response.Body ? await response.Body.transformToByteArray() : new Uint8Array();
        } catch (error) {
          if (isNotFound(error)) return undefined;
          throw error;
        }
      });
      if (bytes === undefined) return undefined;
      const actual = sha256Hex(bytes);
      if (actual !== id) throw new BlobIntegrityError({ blobId: id, actual, where: "store" });
      return bytes;
    },

    async has(id) {
      const key = keyOf(id);
      return send("has", id, async () => {
        try {
          await client.send(new HeadObjectCommand({ Bucket: options.bucket, Key: key }));
          return true;
        } catch (error) {
          if (isNotFound(error)) return false;
          throw error;
        }
      });
    },

    async delete(id) {
      const key = keyOf(id);
      await send("delete", id, () => client.send(new DeleteObjectCommand({ Bucket: options.bucket, Key: key })));
    },

    async checkReady() {
      await send("ready", undefined, () => client.send(new HeadBucketCommand({ Bucket: options.bucket })));
    },

    async close() {
      client.destroy();
    },
  };
}

function isNotFound(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return false;
  return error.name === "NoSuchKey" || error.name === "NotFound" || error.$metadata.httpStatusCode === 404;
}

function unavailable(operation: "put" | "get" | "has" | "delete" | "ready", id: Sha256Hex | undefined, error: unknown): BlobStoreUnavailableError {
  const reason = error instanceof S3ServiceException ? `${error.name} (HTTP ${error.$metadata.httpStatusCode ?? "?"})` : ((error as NodeJS.ErrnoException).code ?? (error as Error).name ?? "unknown error");
  return new BlobStoreUnavailableError({ operation, ...(id ? { blobId: id } : {}), reason }, error);
}

/** Spool files of uploads a crash interrupted were never acknowledged: removed at start. */
async function cleanSpool(spoolDir: string): Promise<void> {
  for (const name of await readdir(spoolDir)) await rm(`${spoolDir}/${name}`, { force: true });
}
