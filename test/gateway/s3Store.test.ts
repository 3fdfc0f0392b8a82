import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { expect } from "chai";

import { sha256Hex } from "../../core/hash.js";
import { BlobIntegrityError, BlobStoreUnavailableError, BlobTooLargeError } from "../../gateway/errors.js";
import { createS3BlobStore, type S3BlobStore } from "../../gateway/store/s3Store.js";
import { startS3, type S3Endpoint } from "../services/s3.js";
import { signedGet, signedPut, startTestGateway } from "./helpers.js";

async function* chunked(bytes: Uint8Array, size = 64 * 1024): AsyncIterable<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

describe("gateway: S3 blob store (on s3rver)", function () {
  this.timeout(60_000);
  let s3: S3Endpoint;
  let spoolDir: string;
  let store: S3BlobStore;
  let raw: S3Client;
  const prefix = "blobs/";

  before(async function () {
    s3 = await startS3();
    spoolDir = await mkdtemp(join(tmpdir(), "medcipher-spool-"));
    store = await createS3BlobStore({ ...s3, prefix, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, spoolDir });
    raw = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" });
  });

  after(async function () {
    raw?.destroy();
    await store?.close();
    await s3?.stop();
    if (spoolDir) await rm(spoolDir, { recursive: true, force: true });
  });

  const keys = async () => ((await raw.send(new ListObjectsV2Command({ Bucket: s3.bucket }))).Contents ?? []).map((o) => o.Key);

  it("streams a blob through the spool into the bucket under <prefix><hash>, and serves it verified", async function () {
    const bytes = randomBytes(300_000);
    const id = sha256Hex(bytes);
    expect(await store.has(id)).to.equal(false);
    expect(await store.get(id)).to.equal(undefined);
    expect(await store.putStream(id, chunked(bytes), { maxBytes: 1_000_000, kind: "raw" })).to.equal(bytes.length);
    expect(await store.has(id)).to.equal(true);
    expect(Buffer.from((await store.get(id))!).equals(bytes)).to.equal(true);
    expect(await keys()).to.include(`${prefix}${id.slice(2)}`);
    expect(await readdir(spoolDir)).to.deep.equal([]);
    // Idempotent: the same upload again is fine.
    await store.put(id, bytes);
    expect(Buffer.from((await store.get(id))!).equals(bytes)).to.equal(true);
  });

  it("stores nothing for an oversized or mis-addressed stream, and leaves no spool file", async function () {
    const bytes = randomBytes(200_000);
    const before = await keys();
    let error = await store.putStream(sha256Hex(bytes), chunked(bytes), { maxBytes: 100_000, kind: "raw" }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(BlobTooLargeError);
    const wrongId = sha256Hex(randomBytes(8));
    error = await store.putStream(wrongId, chunked(bytes), { maxBytes: 1_000_000, kind: "raw" }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(BlobIntegrityError);
    error = await store.put(wrongId, bytes).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(BlobIntegrityError);
    expect(await keys()).to.deep.equal(before);
    expect(await readdir(spoolDir)).to.deep.equal([]);
  });

  it("refuses to serve an object tampered with in the bucket", async function () {
    const bytes = randomBytes(1000);
    const id = sha256Hex(bytes);
    await store.put(id, bytes);
    await raw.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `${prefix}${id.slice(2)}`, Body: randomBytes(1000) }));
    const error = await store.get(id).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(BlobIntegrityError);
    await store.delete(id);
    expect(await store.has(id)).to.equal(false);
  });

  it("answers BlobStoreUnavailableError (HTTP 503) when the endpoint is down, and readiness fails", async function () {
    const down = await createS3BlobStore({ endpoint: "http://127.0.0.1:1", bucket: "x", region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "a", secretAccessKey: "b" }, spoolDir, requestTimeoutMs: 2_000 });
    try {
      const bytes = randomBytes(5000);
      const id = sha256Hex(bytes);
      for (const attempt of [() => down.putStream(id, chunked(bytes), { maxBytes: 10_000, kind: "raw" }), () => down.get(id), () => down.has(id), () => down.checkReady()]) {
        const error = await attempt().catch((e: unknown) => e);
        expect(error).to.be.instanceOf(BlobStoreUnavailableError);
        expect((error as BlobStoreUnavailableError).httpStatus).to.equal(503);
        expect((error as BlobStoreUnavailableError).code).to.equal("GATEWAY_BLOB_STORE_UNAVAILABLE");
      }
      expect(await readdir(spoolDir)).to.deep.equal([]);
    } finally {
      await down.close();
    }
  });

  it("is ready when the bucket answers, and refuses a missing bucket", async function () {
    await store.checkReady();
    const missing = await createS3BlobStore({ ...s3, bucket: "no-such-bucket", forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, spoolDir });
    try {
      expect(await missing.checkReady().catch((e: unknown) => e)).to.be.instanceOf(BlobStoreUnavailableError);
    } finally {
      await missing.close();
    }
  });

  it("through HTTP: an unreachable bucket is 503 GATEWAY_BLOB_STORE_UNAVAILABLE for uploads and reads, /readyz names blobStore, nothing is recorded", async function () {
    const gw = await startTestGateway({
      backends: { blobStore: { kind: "s3", endpoint: "http://127.0.0.1:1", bucket: "gone", region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "a", secretAccessKey: "b" }, requestTimeoutMs: 2_000 } },
    });
    try {
      const bytes = new Uint8Array(randomBytes(300));
      const put = signedPut(gw.url, gw.key.address, gw.key, bytes, { owner: gw.key.address, kind: "record", category: 0 });
      for (const attempt of [1, 2]) {
        // The retry is not answered from a recorded reply: a 503 is never recorded, so it tries again.
        const response = await put();
        expect(response.status, `attempt ${attempt}`).to.equal(503);
        expect(((await response.json()) as { error: { code: string } }).error.code).to.equal("GATEWAY_BLOB_STORE_UNAVAILABLE");
      }
      // Nothing half-written: no metadata, so the blob is unknown (404), not a broken read.
      expect((await signedGet(gw.url, gw.key.address, gw.key, sha256Hex(bytes))()).status).to.equal(404);
      const ready = await fetch(`${gw.url}/readyz`);
      const body = (await ready.json()) as { failing: string[]; checks: { blobStore: { error: string } } };
      expect(ready.status).to.equal(503);
      expect(body.failing).to.deep.equal(["blobStore"]);
      expect(body.checks.blobStore.error).to.include("blob store is unavailable");
    } finally {
      await gw.close();
    }
  });
});
