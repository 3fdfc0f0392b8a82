/**
 * Two gateway replicas as operators run them: two processes (test/gateway/process), each with its
 * own data directory, on one real Postgres (shared state) and one S3 endpoint (s3rver; blobs),
 * as if behind a round-robin load balancer. They must behave as one gateway: a replayed request
 * is refused by the other replica, an upload acknowledged by one is served by the other, the
 * audit log stays one chain, and a retried upload is answered as the original was.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

import { expect } from "chai";
import { hexlify, randomBytes, Wallet } from "ethers";

import { sha256Hex } from "../../core/hash.js";
import { HEADER_AUTH } from "../../protocol/gateway.js";
import { openPostgresAuditLog } from "../../gateway/postgres/auditLog.js";
import { openGatewayDatabase, type GatewayDatabase } from "../../gateway/postgres/database.js";
import { GATEWAY_ROLE } from "../../gateway/readiness.js";
import type { GatewayBackends } from "../../gateway/store/dataDir.js";
import { verifyAuditChain, verifyAuditProof } from "../../protocol/audit/entries.js";
import { Category } from "../../protocol/codes.js";
import { createGatewayClient } from "../../sdk/gateway/client.js";
import { PASSWORD, ROOT, startCliHarness, type CliHarness } from "../cli/harness.js";
import { startPostgres, type PostgresCluster } from "../services/postgres.js";
import { startS3, type S3Endpoint } from "../services/s3.js";
import { signedGet, signedPut, signedPutHeader } from "./helpers.js";
import { kill, spawnGateway, type GatewayChild } from "./process/spawn.js";

describe("gateway: two replicas on one Postgres and one S3 bucket", function () {
  this.timeout(180_000);
  // Replicas are one gateway: one key, one address in every signed request.
  const key = Wallet.createRandom();
  const patient = Wallet.createRandom();
  let cluster: PostgresCluster;
  let s3: S3Endpoint;
  let database: GatewayDatabase;
  let dirs: string[] = [];
  let replicas: GatewayChild[] = [];
  const urls = () => replicas.map((r) => r.url) as [string, string];
  const client = (url: string) => createGatewayClient({ url, signer: patient, chainId: 31337, gatewayAddress: key.address });

  before(async function () {
    cluster = await startPostgres();
    s3 = await startS3();
    const databaseUrl = await cluster.createDatabase("gateway_replicas");
    const backends: GatewayBackends = {
      blobStore: { kind: "s3", endpoint: s3.endpoint, bucket: s3.bucket, region: s3.region, prefix: "replicas/", forcePathStyle: true },
      databaseUrl,
    };
    // Credentials as operators give them: the standard AWS variables.
    const env = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey };
    dirs = await Promise.all([0, 1].map(() => mkdtemp(join(tmpdir(), "medcipher-replica-"))));
    // Started together: the schema is created once, under its advisory lock.
    replicas = await Promise.all(dirs.map((dir) => spawnGateway(dir, key, undefined, backends, env)));
    database = await openGatewayDatabase(databaseUrl);
  });

  after(async function () {
    await Promise.all(replicas.map((r) => kill(r, "SIGTERM")));
    await database?.close();
    await s3?.stop();
    await cluster?.stop();
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it("both report S3 and Postgres ready on /readyz", async function () {
    for (const url of urls()) {
      const response = await fetch(`${url}/readyz`);
      const body = await response.json() as { ready: boolean; checks: Record<string, { ok: boolean; kind: string; clockSkewSeconds?: number }> };
      expect(response.status).to.equal(200);
      expect(body.checks.blobStore).to.include({ ok: true, kind: "s3" });
      expect(body.checks.database).to.include({ ok: true, kind: "postgres" });
      // The replica's clock against the database's, measured by the same query (same machine here).
      expect(Math.abs(body.checks.database!.clockSkewSeconds!)).to.be.below(5);
    }
  });

  it("(b) an upload acknowledged by one replica is served by the other", async function () {
    const [a, b] = urls();
    const bytes = randomBytes(2048);
    const id = await client(a).put(bytes, { owner: patient.address, kind: "record", category: Category.VITAL_SIGNS });
    expect(id).to.equal(sha256Hex(bytes));
    expect(hexlify(await client(b).get(id, { purpose: 0 }))).to.equal(hexlify(bytes));
    // Directly: the acknowledged blob is in the bucket, under the prefix, not in either data directory.
    expect(await (await fetch(`${s3.endpoint}/${s3.bucket}/replicas/${id.slice(2)}`)).arrayBuffer()).to.have.property("byteLength", 2048);
  });

  it("(a) a signed request replayed against the other replica is refused as a replay", async function () {
    const [a, b] = urls();
    const bytes = randomBytes(64);
    const id = await client(a).put(bytes, { owner: patient.address, kind: "record", category: Category.VITAL_SIGNS });
    const send = signedGet(a, key.address, patient, id);
    expect((await send(a)).status).to.equal(200);
    const replayed = await send(b);
    expect(replayed.status).to.equal(401);
    expect(((await replayed.json()) as { error: { code: string } }).error.code).to.equal("GATEWAY_AUTH_REPLAY");
    // And the other way round, for a request first sent to the second replica.
    const other = signedGet(b, key.address, patient, id);
    expect((await other(b)).status).to.equal(200);
    expect((await other(a)).status).to.equal(401);
  });

  it("(d) retrying an upload through the other replica is safe: the original answer, one blob, one audited write", async function () {
    const [a, b] = urls();
    const bytes = randomBytes(512);
    const put = signedPut(a, key.address, patient, bytes, { owner: patient.address, kind: "record", category: Category.VITAL_SIGNS });
    const first = await put(a);
    expect(first.status).to.equal(201);
    const firstBody = await first.text();
    const retried = await put(b);
    expect(retried.status).to.equal(201);
    expect(await retried.text(), "the retry gets the reply the first replica recorded").to.equal(firstBody);
    const id = sha256Hex(bytes);
    const writes = (await openPostgresAuditLog(database).then((log) => log.entries())).filter((e) => e.blobId === id && e.action === "write");
    expect(writes).to.have.length(1);
    expect(hexlify(await client(b).get(id, { purpose: 0 }))).to.equal(hexlify(bytes));
  });

  it("(d) a retry through the other replica while the first attempt is still uploading does the write itself, and both succeed", async function () {
    const [a, b] = urls();
    const bytes = randomBytes(256 * 1024);
    const { blobId, header } = signedPutHeader(key.address, patient, sha256Hex(bytes), { owner: patient.address, kind: "record", category: Category.VITAL_SIGNS });
    // The first attempt sends half its body to A, then stalls (a slow or dying client link).
    const slow = request(`${a}/v1/blobs/${blobId}`, { method: "PUT", headers: { [HEADER_AUTH]: header, "content-length": String(bytes.length) } });
    const slowReply = new Promise<number>((resolve, reject) => {
      slow.once("response", (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      slow.once("error", reject);
    });
    slowReply.catch(() => undefined); // awaited below; a failure before then must not go unhandled
    try {
      slow.write(bytes.subarray(0, bytes.length / 2));
      await new Promise((resolve) => setTimeout(resolve, 300));
      // B sees the nonce as this request's retry but has no recorded reply: it must read the body it was sent.
      const retried = await fetch(`${b}/v1/blobs/${blobId}`, { method: "PUT", body: Buffer.from(bytes), headers: { [HEADER_AUTH]: header } });
      expect(retried.status, await retried.clone().text()).to.equal(201);
      slow.end(bytes.subarray(bytes.length / 2));
      expect(await slowReply, "the first attempt finds the same bytes stored: idempotent").to.be.oneOf([200, 201]);
      expect(hexlify(await client(a).get(blobId, { purpose: 0 }))).to.equal(hexlify(bytes));
    } finally {
      slow.destroy();
    }
  });

  it("(c) interleaved concurrent writes through both replicas make one audit chain that verifies", async function () {
    const [a, b] = urls();
    await Promise.all(Array.from({ length: 24 }, (_, i) => client(i % 2 ? a : b).put(randomBytes(100 + i), { owner: patient.address, kind: "record", category: Category.VITAL_SIGNS })));
    const log = await openPostgresAuditLog(database);
    const entries = await log.entries();
    expect(verifyAuditChain(entries).seq).to.equal(entries.length);
    expect(entries.map((e) => e.seq)).to.deep.equal(entries.map((_, i) => i + 1));
    // Each replica's signed audit answer is a proof against the one tree, and they agree.
    const [fromA, fromB] = [await client(a).audit(patient.address), await client(b).audit(patient.address)];
    verifyAuditProof(fromA);
    verifyAuditProof(fromB);
    // Each audit read is itself an entry, so B's tree is one entry larger than A's: A's tree is a prefix of it.
    expect(fromB.tree.size).to.equal(fromA.tree.size + 1);
    expect(fromA.entries.filter((e) => e.action === "write").length).to.be.at.least(24);
    const heads = await Promise.all(urls().map(async (url) => (await fetch(`${url}/v1/audit/head`)).json() as Promise<{ seq: number; head: string }>));
    expect(heads[0]).to.deep.equal(heads[1]);
    expect(heads[0]!.seq).to.equal(fromB.tree.size);
    await log.close();
  });
});

/** `medcipher gateway serve` as a real process on a free port; resolves with its url once it logs "gateway listening". */
async function serve(harness: CliHarness, identity: string, env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), "medcipher-replica-serve-"));
  const argv = ["--import", "tsx", "cli/medcipher.ts", "--home", harness.home, "--rpc", harness.rpcUrl, "--deployment", harness.deployment, "--identity", identity,
    "gateway", "serve", "--port", "0", "--data-dir", dataDir, "--anchor-interval", "1", "--block-ttl-ms", "0"];
  const child = spawn(process.execPath, argv, { cwd: ROOT, env: { ...process.env, MEDCIPHER_PASSWORD: PASSWORD, GATEWAY_LOG_LEVEL: "info", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (text) => {
      const line = JSON.parse(text) as { msg: string; url?: string };
      if (line.msg === "gateway listening") resolve(line.url!);
    });
    child.once("close", (code) => reject(new Error(`gateway serve exited with ${code}: ${stderr}`)));
  });
  return { child, url };
}

describe("gateway: two `medcipher gateway serve` replicas on a chain, one Postgres and one S3 bucket", function () {
  this.timeout(240_000);
  let harness: CliHarness;
  let cluster: PostgresCluster;
  let s3: S3Endpoint;
  let gatewayAddress: string;
  const running: ChildProcess[] = [];
  const urls: string[] = [];

  before(async function () {
    harness = await startCliHarness();
    cluster = await startPostgres();
    s3 = await startS3();
    gatewayAddress = (await harness.newIdentity("gw")).address;
    await (await harness.fx.suite.identity.grantRole(GATEWAY_ROLE, gatewayAddress)).wait();
    // Exactly what an operator sets (docs/gateway.md), anchoring every second on both replicas.
    const env = {
      GATEWAY_BLOB_STORE: "s3", GATEWAY_S3_ENDPOINT: s3.endpoint, GATEWAY_S3_BUCKET: s3.bucket, GATEWAY_S3_FORCE_PATH_STYLE: "true",
      GATEWAY_DATABASE_URL: await cluster.createDatabase("gateway_serve_replicas"),
      AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    };
    for (const replica of await Promise.all([serve(harness, "gw", env), serve(harness, "gw", env)])) {
      running.push(replica.child);
      urls.push(replica.url);
    }
  });

  after(async function () {
    await Promise.all(running.map((child) => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("close", () => resolve());
      child.kill("SIGTERM");
    })));
    await s3?.stop();
    await cluster?.stop();
    await harness?.close();
  });

  it("refuses on one replica a request replayed from the other; the audit chain is one, and only one replica anchors it", async function () {
    const [a, b] = urls as [string, string];
    for (const url of urls) {
      const ready = (await (await fetch(`${url}/readyz`)).json()) as { ready: boolean; checks: Record<string, { kind?: string }> };
      expect(ready.ready, JSON.stringify(ready)).to.equal(true);
      expect(ready.checks.blobStore!.kind).to.equal("s3");
      expect(ready.checks.database!.kind).to.equal("postgres");
    }
    const reader = Wallet.createRandom();
    const missing = sha256Hex(randomBytes(8));
    for (let i = 0; i < 6; i++) {
      const first = i % 2 ? b : a;
      const other = i % 2 ? a : b;
      const send = signedGet(first, gatewayAddress, reader, missing);
      expect((await send(first)).status, "authenticated, audited, and not found").to.equal(404);
      const replayed = await send(other);
      expect(replayed.status).to.equal(401);
      expect(((await replayed.json()) as { error: { code: string } }).error.code).to.equal("GATEWAY_AUTH_REPLAY");
    }
    const heads = await Promise.all(urls.map(async (url) => (await fetch(`${url}/v1/audit/head`)).json() as Promise<{ seq: number; head: string }>));
    expect(heads[0]).to.deep.equal(heads[1]);
    expect(heads[0]!.seq).to.equal(6);
    // Both replicas run the anchoring timer with the same key; the advisory lock lets one send.
    const anchor = harness.fx.suite.audit;
    for (const deadline = Date.now() + 30_000; Number((await anchor.latestHead(gatewayAddress)).entryCount) < 6 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 200));
    const latest = await anchor.latestHead(gatewayAddress);
    expect(Number(latest.entryCount)).to.equal(6);
    expect(latest.headHash).to.equal(heads[0]!.head);
    await new Promise((r) => setTimeout(r, 2_500)); // a few more ticks on both replicas
    const events = await anchor.queryFilter(anchor.filters.AuditHeadAnchored(gatewayAddress));
    expect(events.map((e) => Number(e.args.entryCount)), "each head anchored once, in order").to.deep.equal([...new Set(events.map((e) => Number(e.args.entryCount)))].sort((x, y) => x - y));
    for (const url of urls) {
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics, "no replica's anchor collided with the other's").to.match(/^gateway_audit_anchor_failures_total 0$/m);
    }
  });
});
