import { readdir, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

import { expect } from "chai";
import { BaseWallet, hexlify, randomBytes, Wallet, ZeroAddress, ZeroHash } from "ethers";

import { sha256Hex } from "../../core/hash.js";
import { readAuditLogFile } from "../../gateway/audit/auditLog.js";
import { verifyAuditChain } from "../../protocol/audit/entries.js";
import { encodeAuthHeader, HEADER_AUTH, requestDigest, type GatewayRequestFields } from "../../protocol/gateway.js";
import { GatewayRequestError, GatewaySignatureError } from "../../sdk/errors.js";
import { createGatewayClient } from "../../sdk/gateway/client.js";
import { signedGet, startTestGateway, type TestGateway } from "./helpers.js";

async function expectCode(promise: Promise<unknown>, code: string) {
  try {
    await promise;
  } catch (error) {
    expect((error as { code?: string }).code, String(error)).to.equal(code);
    return error;
  }
  expect.fail(`expected ${code}`);
}

describe("gateway: storage, authentication, limits", function () {
  let gw: TestGateway;
  const patient = Wallet.createRandom();
  const stranger = Wallet.createRandom();
  const client = (signer: BaseWallet, overrides: { chainId?: number; gatewayAddress?: string; url?: string } = {}) =>
    createGatewayClient({ url: overrides.url ?? gw.url, signer, chainId: overrides.chainId ?? 31337, gatewayAddress: overrides.gatewayAddress ?? gw.key.address });

  beforeEach(async function () {
    gw = await startTestGateway({ limits: { maxBytes: { record: 64 * 1024 } as never } });
  });
  afterEach(async function () {
    await gw.close();
  });

  it("stores a blob under its SHA-256 and serves it back to its owner", async function () {
    const bytes = randomBytes(1000);
    const id = await client(patient).put(bytes, { owner: patient.address, kind: "record", category: 0 });
    expect(id).to.equal(sha256Hex(bytes));
    expect(hexlify(await client(patient).get(id, { purpose: 1 }))).to.equal(hexlify(bytes));
  });

  it("refuses an upload whose bytes do not match the id", async function () {
    const bytes = randomBytes(100);
    const wrongId = sha256Hex(randomBytes(100));
    const fields: GatewayRequestFields = { method: "PUT", blobId: wrongId, purpose: 0, owner: patient.address, kind: "record", category: 0, ref: ZeroHash, timestamp: Math.floor(Date.now() / 1000), nonce: hexlify(randomBytes(32)), gateway: gw.key.address };
    const signature = patient.signingKey.sign(requestDigest(31337, fields)).serialized;
    const { method: _m, blobId: _b, ...rest } = fields;
    const response = await fetch(`${gw.url}/v1/blobs/${wrongId}`, { method: "PUT", body: Buffer.from(bytes), headers: { [HEADER_AUTH]: encodeAuthHeader({ ...rest, signer: patient.address, chainId: 31337, signature }) } });
    expect(response.status).to.equal(422);
    expect(((await response.json()) as { error: { code: string } }).error.code).to.equal("GATEWAY_BLOB_INTEGRITY");
  });

  it("never serves a blob tampered with on disk", async function () {
    const bytes = randomBytes(2000);
    const id = await client(patient).put(bytes, { owner: patient.address, kind: "record", category: 0 });
    const shard = join(gw.dir, "blobs", id.slice(2, 4));
    const [file] = await readdir(shard);
    const tampered = Buffer.from(bytes);
    tampered[10] = tampered[10]! ^ 0xff;
    await writeFile(join(shard, file!), tampered);
    const error = await expectCode(client(patient).get(id, { purpose: 1 }), "GATEWAY_BLOB_INTEGRITY");
    expect((error as GatewayRequestError).status).to.equal(422);
  });

  it("refuses a replayed request", async function () {
    const id = await client(patient).put(randomBytes(10), { owner: patient.address, kind: "record", category: 0 });
    const send = signedGet(gw.url, gw.key.address, patient, id);
    expect((await send()).status).to.equal(200);
    const replay = await send();
    expect(replay.status).to.equal(401);
    expect(((await replay.json()) as { error: { code: string } }).error.code).to.equal("GATEWAY_AUTH_REPLAY");
  });

  it("refuses an expired request and one from the future", async function () {
    const id = await client(patient).put(randomBytes(10), { owner: patient.address, kind: "record", category: 0 });
    const now = Math.floor(Date.now() / 1000);
    for (const timestamp of [now - 3600, now + 3600]) {
      const response = await signedGet(gw.url, gw.key.address, patient, id, { timestamp })();
      expect(response.status).to.equal(401);
      expect(((await response.json()) as { error: { code: string } }).error.code).to.equal("GATEWAY_AUTH_EXPIRED");
    }
  });

  it("tells an SDK client why its request was refused, in a response signed for that request", async function () {
    // A gateway whose clock is an hour ahead finds every request expired.
    const skewed = await startTestGateway({ now: () => Math.floor(Date.now() / 1000) + 3600 });
    try {
      for (const session of [false, true]) {
        const c = createGatewayClient({ url: skewed.url, signer: patient, chainId: 31337, gatewayAddress: skewed.key.address, session });
        await expectCode(c.put(randomBytes(10), { owner: patient.address, kind: "record", category: 0 }), "GATEWAY_AUTH_EXPIRED");
      }
    } finally {
      await skewed.close();
    }
  });

  it("refuses a request signed for another chain id or another gateway", async function () {
    const id = await client(patient).put(randomBytes(10), { owner: patient.address, kind: "record", category: 0 });
    const wrongChain = await signedGet(gw.url, gw.key.address, patient, id, { chainId: 1 })();
    expect(((await wrongChain.json()) as { error: { code: string } }).error.code).to.equal("GATEWAY_AUTH_WRONG_DOMAIN");
    // The SDK signed for chain 1, so it also expects a chain-1 response signature: it rejects the answer.
    await expectCode(client(patient, { chainId: 1 }).get(id, { purpose: 1 }), "SDK_GATEWAY_SIGNATURE");
    const otherGateway = Wallet.createRandom().address;
    const wrongGateway = await signedGet(gw.url, otherGateway, patient, id)();
    expect(wrongGateway.status).to.equal(401);
  });

  it("refuses a signature from someone other than the claimed signer", async function () {
    const id = await client(patient).put(randomBytes(10), { owner: patient.address, kind: "record", category: 0 });
    const fields: GatewayRequestFields = { method: "GET", blobId: id, purpose: 1, owner: ZeroAddress, kind: "", category: 0, ref: ZeroHash, timestamp: Math.floor(Date.now() / 1000), nonce: hexlify(randomBytes(32)), gateway: gw.key.address };
    const signature = stranger.signingKey.sign(requestDigest(31337, fields)).serialized;
    const { method: _m, blobId: _b, ...rest } = fields;
    const response = await fetch(`${gw.url}/v1/blobs/${id}`, { headers: { [HEADER_AUTH]: encodeAuthHeader({ ...rest, signer: patient.address, chainId: 31337, signature }) } });
    expect(response.status).to.equal(401);
    const unsigned = await fetch(`${gw.url}/v1/blobs/${id}`);
    expect(unsigned.status).to.equal(401);
  });

  it("refuses an unauthorised read and audits the refusal", async function () {
    const id = await client(patient).put(randomBytes(10), { owner: patient.address, kind: "record", category: 0 });
    await expectCode(client(stranger).get(id, { purpose: 1 }), "GATEWAY_FORBIDDEN");
    const entries = await readAuditLogFile(join(gw.dir, "audit.jsonl"));
    const last = entries.at(-1)!;
    expect(last).to.include({ actor: stranger.address, outcome: "refused", reason: "GATEWAY_FORBIDDEN", blobId: id, owner: patient.address });
    expect(verifyAuditChain(entries).seq).to.equal(entries.length);
  });

  it("refuses an oversized upload, by header and by streamed size", async function () {
    await expectCode(client(patient).put(randomBytes(64 * 1024 + 1), { owner: patient.address, kind: "record", category: 0 }), "GATEWAY_BLOB_TOO_LARGE");
    // One byte over a hybrid share (a 4 KiB bucket in an X25519 + ML-KEM-768 sealed box, + 1152 B).
    await expectCode(client(patient).put(randomBytes(4 * 1024 + 1152 + 1), { owner: patient.address, kind: "wrapped-key", category: 0 }), "GATEWAY_BLOB_TOO_LARGE");
  });

  it("rate-limits a signer", async function () {
    const limited = await startTestGateway({ limits: { ratePerSecond: 0.001, burst: 3 } });
    try {
      const c = createGatewayClient({ url: limited.url, signer: patient, chainId: 31337, gatewayAddress: limited.key.address });
      const id = await c.put(randomBytes(10), { owner: patient.address, kind: "record", category: 0 });
      await c.get(id, { purpose: 1 });
      await c.get(id, { purpose: 1 });
      await expectCode(c.get(id, { purpose: 1 }), "GATEWAY_RATE_LIMITED");
      // Another signer has its own bucket.
      await expectCode(createGatewayClient({ url: limited.url, signer: stranger, chainId: 31337, gatewayAddress: limited.key.address }).get(id, { purpose: 1 }), "GATEWAY_FORBIDDEN");
    } finally {
      await limited.close();
    }
  });

  it("the SDK rejects a response not signed by the registered gateway key", async function () {
    const id = await client(patient).put(randomBytes(10), { owner: patient.address, kind: "record", category: 0 });
    // The URL answers with a key other than the one the SDK was told is registered.
    const impostorKey = Wallet.createRandom();
    await expectCode(client(patient, { gatewayAddress: impostorKey.address }).get(id, { purpose: 1 }), "SDK_GATEWAY_SIGNATURE");
    // A man in the middle altering the body of a genuinely signed response.
    const proxy = createServer(async (req, res) => {
      const upstream = await fetch(`${gw.url}${req.url}`, { headers: { [HEADER_AUTH]: String(req.headers[HEADER_AUTH]) } });
      const body = Buffer.from(await upstream.arrayBuffer());
      body[0] = body[0]! ^ 1;
      const headers: Record<string, string> = {};
      upstream.headers.forEach((value, key) => { if (key.startsWith("x-medcipher")) headers[key] = value; });
      res.writeHead(upstream.status, headers).end(body);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    try {
      const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const error = await expectCode(client(patient, { url: proxyUrl }).get(id, { purpose: 1 }), "SDK_GATEWAY_SIGNATURE");
      expect(error).to.be.instanceOf(GatewaySignatureError);
    } finally {
      proxy.close();
    }
  });

  it("keeps a verifiable audit chain of every access", async function () {
    const c = client(patient);
    const id = await c.put(randomBytes(10), { owner: patient.address, kind: "record", category: 0 });
    await c.get(id, { purpose: 1 });
    await client(stranger).get(id, { purpose: 1 }).catch(() => undefined);
    const trail = await c.audit(patient.address);
    expect(trail.entries.map((e) => [e.action, e.outcome])).to.deep.equal([["write", "granted"], ["read", "granted"], ["read", "refused"], ["audit-read", "granted"]]);
    const head = await c.auditHead();
    const all = await readAuditLogFile(join(gw.dir, "audit.jsonl"));
    expect(verifyAuditChain(all, head).head).to.equal(head.head);
  });
});
