import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";
import { getAddress, hexlify, randomBytes, Wallet } from "ethers";

import { sha256Hex } from "../../core/hash.js";
import { openAuditLog, readAuditLogFile } from "../../gateway/audit/auditLog.js";
import { verifyAuditChain, verifyAuditProof } from "../../protocol/audit/entries.js";
import { DataDirectoryError } from "../../gateway/errors.js";
import type { AccessPolicy } from "../../gateway/policy.js";
import { openGatewayData } from "../../gateway/store/dataDir.js";
import { createGatewayClient } from "../../sdk/gateway/client.js";
import { kill, spawnGateway } from "./process/spawn.js";
import { ownerOnlyPolicy, signedGet, signedPut, startTestGateway, type TestGateway } from "./helpers.js";
import { fillDisk, mountTmpfs, type Tmpfs } from "./tmpfs.js";

const PREDICTION = 8;

/** Wallet.createRandom() costs ~10 ms (HD derivation); entries only need an address. */
const randomAddress = () => getAddress(hexlify(randomBytes(20)));

const errorCode = async (response: Response) => ((await response.json()) as { error: { code: string; message: string } }).error;

describe("gateway: guarantees across restarts, retries, full and read-only disks", function () {
  this.timeout(120_000);
  const patient = Wallet.createRandom();

  describe("replay protection and retries", function () {
    let dir: string;
    beforeEach(async function () {
      dir = await mkdtemp(join(tmpdir(), "medcipher-gw-durable-"));
    });
    afterEach(async function () {
      await rm(dir, { recursive: true, force: true });
    });

    it("refuses a captured request replayed after the gateway was SIGKILLed and restarted", async function () {
      const key = Wallet.createRandom();
      let child = await spawnGateway(dir, key);
      try {
        const client = createGatewayClient({ url: child.url, signer: patient, chainId: 31337, gatewayAddress: key.address });
        const id = await client.put(randomBytes(100), { owner: patient.address, kind: "record", category: 0 });
        client.close();
        const captured = signedGet(child.url, key.address, patient, id);
        expect((await captured()).status).to.equal(200);
        await kill(child);
        const before = (await readAuditLogFile(join(dir, "audit.jsonl"))).length;
        child = await spawnGateway(dir, key);
        const replay = await captured(child.url);
        expect(replay.status).to.equal(401);
        expect((await errorCode(replay)).code).to.equal("GATEWAY_AUTH_REPLAY");
        const after = await readAuditLogFile(join(dir, "audit.jsonl"));
        expect(after.filter((e) => e.seq > before && e.actor === patient.address)).to.deep.equal([]);
      } finally {
        await kill(child);
      }
    });

    it("answers a re-sent write with its original answer (not 401 replay), also after a restart; a re-sent read and a reused nonce stay refused", async function () {
      let gw: TestGateway = await startTestGateway({ dir });
      const key = gw.key;
      try {
        const bytes = randomBytes(500);
        const put = signedPut(gw.url, key.address, patient, bytes, { owner: patient.address, kind: "record", category: 0 });
        const first = await put();
        const firstBody = await first.text();
        expect(first.status).to.equal(201);
        const retry = await put();
        expect(retry.status).to.equal(201);
        expect(await retry.text()).to.equal(firstBody);
        const writes = (await readAuditLogFile(join(dir, "audit.jsonl"))).filter((e) => e.action === "write");
        expect(writes).to.have.length(1); // one signed request, one audit entry

        // The same nonce in another request (other bytes) is a replay.
        const nonce = `0x${"ab".repeat(32)}`;
        expect((await signedPut(gw.url, key.address, patient, randomBytes(10), { owner: patient.address, kind: "record", category: 0, nonce })()).status).to.equal(201);
        const reused = await signedPut(gw.url, key.address, patient, randomBytes(11), { owner: patient.address, kind: "record", category: 0, nonce })();
        expect(reused.status).to.equal(401);
        expect((await errorCode(reused)).code).to.equal("GATEWAY_AUTH_REPLAY");

        // A re-sent read is a replay: it never yields the blob a second time.
        const get = signedGet(gw.url, key.address, patient, sha256Hex(bytes));
        expect((await get()).status).to.equal(200);
        expect((await get()).status).to.equal(401);

        await gw.close();
        gw = await startTestGateway({ dir, key });
        const afterRestart = await put(gw.url);
        expect(afterRestart.status).to.equal(201);
        expect(await afterRestart.text()).to.equal(firstBody);
      } finally {
        await gw.close();
      }
    });

    it("answers a retry that arrives while the original write is still running with the original's answer", async function () {
      const gw = await startTestGateway({ dir });
      try {
        const bytes = randomBytes(1000);
        const put = signedPut(gw.url, gw.key.address, patient, bytes, { owner: patient.address, kind: "record", category: 0 });
        const [a, b] = await Promise.all([put(), put()]);
        expect([a.status, b.status]).to.deep.equal([201, 201]);
      } finally {
        await gw.close();
      }
    });
  });

  describe("the SDK across a dropped connection", function () {
    /** A proxy that delivers the first request twice (as a re-send after a dropped connection does) and answers with the second answer. */
    async function doubleDeliveryProxy(upstream: string): Promise<{ url: string; close(): void }> {
      let delivered = 0;
      const proxy = createServer(async (req, res) => {
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(req.headers)) if (name.startsWith("x-medcipher") && typeof value === "string") headers[name] = value;
        const send = () => fetch(`${upstream}${req.url}`, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
        if (delivered++ === 0) await (await send()).arrayBuffer();
        const answer = await send();
        const out: Record<string, string> = {};
        answer.headers.forEach((value, name) => { if (name.startsWith("x-medcipher") || name === "content-type") out[name] = value; });
        res.writeHead(answer.status, out).end(Buffer.from(await answer.arrayBuffer()));
      });
      await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
      return { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, close: () => proxy.close() };
    }

    it("a write delivered twice gets its original answer; a read delivered twice is signed again and served", async function () {
      const gw = await startTestGateway();
      try {
        const bytes = randomBytes(300);
        const writeProxy = await doubleDeliveryProxy(gw.url);
        const writer = createGatewayClient({ url: writeProxy.url, signer: patient, chainId: 31337, gatewayAddress: gw.key.address });
        const id = await writer.put(bytes, { owner: patient.address, kind: "record", category: 0 });
        writeProxy.close();
        const readProxy = await doubleDeliveryProxy(gw.url);
        const reader = createGatewayClient({ url: readProxy.url, signer: patient, chainId: 31337, gatewayAddress: gw.key.address });
        expect(Buffer.from(await reader.get(id, { purpose: 1 })).equals(Buffer.from(bytes))).to.equal(true);
        readProxy.close();
        writer.close();
        reader.close();
      } finally {
        await gw.close();
      }
    });
  });

  describe("blob identity", function () {
    let gw: TestGateway;
    const oracle = Wallet.createRandom();
    /** The oracle may write results for any request id (the chain's rule is tested in test/sdk). */
    const policy: AccessPolicy = {
      ...ownerOnlyPolicy,
      async authorizeWrite(access) {
        if (getAddress(access.signer) === oracle.address && access.kind === "he-result") return "oracle";
        return ownerOnlyPolicy.authorizeWrite(access);
      },
    };
    beforeEach(async function () {
      gw = await startTestGateway({ policy });
    });
    afterEach(async function () {
      await gw.close();
    });

    it("stores the same result bytes again under another request id (200, not 409); a record keeps its ref", async function () {
      const result = randomBytes(2000);
      const requestA = `0x${"0a".repeat(32)}`;
      const requestB = `0x${"0b".repeat(32)}`;
      const first = await signedPut(gw.url, gw.key.address, oracle, result, { owner: patient.address, kind: "he-result", category: PREDICTION, ref: requestA })();
      expect(first.status).to.equal(201);
      const again = await signedPut(gw.url, gw.key.address, oracle, result, { owner: patient.address, kind: "he-result", category: PREDICTION, ref: requestB })();
      expect(again.status).to.equal(200);
      // Same bytes for another patient, or as another kind, is still a conflict.
      const other = await signedPut(gw.url, gw.key.address, oracle, result, { owner: Wallet.createRandom().address, kind: "he-result", category: PREDICTION, ref: requestB })();
      expect(other.status).to.equal(409);
      const record = randomBytes(300);
      expect((await signedPut(gw.url, gw.key.address, patient, record, { owner: patient.address, kind: "record", category: 1, ref: requestA })()).status).to.equal(201);
      expect((await signedPut(gw.url, gw.key.address, patient, record, { owner: patient.address, kind: "record", category: 1, ref: requestB })()).status).to.equal(409);
    });

    it("lets exactly one of two concurrent uploads of the same bytes with different metadata win", async function () {
      for (let round = 0; round < 5; round++) {
        const bytes = randomBytes(1024 * 1024);
        const [a, b] = await Promise.all([1, 2].map((category) => signedPut(gw.url, gw.key.address, patient, bytes, { owner: patient.address, kind: "record", category })()));
        const statuses = [a!.status, b!.status];
        expect([...statuses].sort(), `round ${round}`).to.deep.equal([201, 409]);
        const winner = statuses[0] === 201 ? 1 : 2;
        const meta = await readFile(join(gw.dir, "meta", sha256Hex(bytes).slice(2, 4), `${sha256Hex(bytes).slice(2)}.json`), "utf8");
        expect((JSON.parse(meta) as { category: number }).category).to.equal(winner);
      }
    });
  });

  describe("start-up", function () {
    it("cleans a crash's temp files and metadata-less blobs at start, keeping every stored blob", async function () {
      const dir = await mkdtemp(join(tmpdir(), "medcipher-gw-clean-"));
      try {
        let gw = await startTestGateway({ dir });
        const key = gw.key;
        const client = createGatewayClient({ url: gw.url, signer: patient, chainId: 31337, gatewayAddress: key.address });
        const kept = randomBytes(100);
        const id = await client.put(kept, { owner: patient.address, kind: "record", category: 0 });
        client.close();
        await gw.close();
        // What a SIGKILL mid-upload leaves: temp files, and a blob whose metadata was never written.
        const orphan = randomBytes(64);
        const orphanId = sha256Hex(orphan).slice(2);
        await mkdir(join(dir, "blobs", orphanId.slice(0, 2)), { recursive: true });
        await writeFile(join(dir, "blobs", orphanId.slice(0, 2), orphanId), orphan);
        await writeFile(join(dir, "blobs", id.slice(2, 4), ".tmp-0123456789abcdef"), randomBytes(10));
        await writeFile(join(dir, "meta", id.slice(2, 4), ".tmp-fedcba9876543210"), "{");
        gw = await startTestGateway({ dir, key });
        try {
          const left = [...await readdir(join(dir, "blobs", id.slice(2, 4))), ...await readdir(join(dir, "meta", id.slice(2, 4)))];
          expect(left.filter((name) => name.startsWith(".tmp-"))).to.deep.equal([]);
          await stat(join(dir, "blobs", orphanId.slice(0, 2), orphanId)).then(() => expect.fail("orphan blob kept"), (e: NodeJS.ErrnoException) => expect(e.code).to.equal("ENOENT"));
          const again = createGatewayClient({ url: gw.url, signer: patient, chainId: 31337, gatewayAddress: key.address });
          expect(Buffer.from(await again.get(id, { purpose: 1 })).equals(Buffer.from(kept))).to.equal(true);
          again.close();
        } finally {
          await gw.close();
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it("refuses to start on a read-only data directory with an error naming the path", async function () {
      const mount = await mountTmpfs({ sizeKiB: 256, readOnly: true });
      if (!mount) this.skip(); // needs root (mount -t tmpfs): CI and the dev machine run as root
      try {
        const error = await openGatewayData(mount.dir, { windowSeconds: 120 }).then(() => undefined, (e: unknown) => e);
        expect(error).to.be.instanceOf(DataDirectoryError);
        expect((error as DataDirectoryError).code).to.equal("GATEWAY_DATA_DIR_UNUSABLE");
        expect((error as Error).message).to.include(mount.dir).and.include("read-only");
      } finally {
        await mount.unmount();
      }
    });

    it("answers 400 to a request target that is not a URL (GET http://[)", async function () {
      const gw = await startTestGateway();
      try {
        const { port } = new URL(gw.url);
        const statusLine = await new Promise<string>((resolve, reject) => {
          const socket = connect(Number(port), "127.0.0.1", () => socket.write("GET http://[ HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n"));
          let text = "";
          socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
          socket.on("end", () => resolve(text.split("\r\n")[0]!));
          socket.on("error", reject);
        });
        expect(statusLine).to.equal("HTTP/1.1 400 Bad Request");
      } finally {
        await gw.close();
      }
    });
  });

  describe("a full disk", function () {
    let mount: Tmpfs | undefined;
    beforeEach(async function () {
      mount = await mountTmpfs({ sizeKiB: 1024 });
      if (!mount) this.skip(); // needs root (mount -t tmpfs)
    });
    afterEach(async function () {
      await mount?.unmount();
    });

    it("never tears the audit log: failed appends leave sequence and head unchanged, and it reopens with every acknowledged entry", async function () {
      const path = join(mount!.dir, "audit.jsonl");
      const log = await openAuditLog(path);
      const entry = () => ({ actor: randomAddress(), action: "read" as const, blobId: sha256Hex(randomBytes(8)), owner: patient.address, purpose: 1, outcome: "granted" as const, reason: "owner" });
      const acknowledged: string[] = [];
      try {
        for (let i = 0; i < 5; i++) acknowledged.push((await log.append(entry())).hash);
        const filler = await fillDisk(mount!.dir);
        const outcomes = await Promise.allSettled(Array.from({ length: 100 }, () => log.append(entry())));
        for (const o of outcomes) if (o.status === "fulfilled") acknowledged.push(o.value.hash);
        const refused = outcomes.filter((o) => o.status === "rejected");
        expect(refused.length, "some appends must hit ENOSPC").to.be.greaterThan(0);
        expect(refused.every((o) => (o.reason as NodeJS.ErrnoException).code === "ENOSPC")).to.equal(true);
        expect(log.head().seq).to.equal(acknowledged.length);
        await rm(filler);
        for (let i = 0; i < 3; i++) acknowledged.push((await log.append(entry())).hash);
      } finally {
        await log.close(); // an open file would keep the tmpfs busy
      }
      const entries = await readAuditLogFile(path);
      expect(entries.map((e) => e.hash)).to.deep.equal(acknowledged);
      const reopened = await openAuditLog(path);
      expect(reopened.head()).to.deep.equal(verifyAuditChain(entries));
      await reopened.close();
    });

    it("answers 507 with words while the disk is full, loses nothing acknowledged, and restarts cleanly", async function () {
      let gw = await startTestGateway({ dir: mount!.dir });
      const key = gw.key;
      const client = () => createGatewayClient({ url: gw.url, signer: patient, chainId: 31337, gatewayAddress: key.address });
      const stored: Array<[string, Uint8Array]> = [];
      for (let i = 0; i < 3; i++) {
        const bytes = randomBytes(2000);
        stored.push([await client().put(bytes, { owner: patient.address, kind: "record", category: 0 }), bytes]);
      }
      const filler = await fillDisk(mount!.dir);
      let full: Response;
      try {
        full = await signedPut(gw.url, key.address, patient, randomBytes(50_000), { owner: patient.address, kind: "record", category: 0 })();
      } finally {
        await gw.close();
      }
      expect(full.status).to.equal(507);
      const refusal = await errorCode(full);
      expect(refusal.code).to.equal("GATEWAY_STORAGE_FULL");
      expect(refusal.message).to.match(/disk is full/);
      await rm(filler);
      gw = await startTestGateway({ dir: mount!.dir, key });
      try {
        for (const [id, bytes] of stored) expect(Buffer.from(await client().get(id, { purpose: 1 })).equals(Buffer.from(bytes))).to.equal(true);
        await client().put(randomBytes(2000), { owner: patient.address, kind: "record", category: 0 });
        const entries = await readAuditLogFile(join(mount!.dir, "audit.jsonl"));
        expect(verifyAuditChain(entries).seq).to.equal(entries.length);
        expect(entries.filter((e) => e.action === "write" && e.outcome === "granted")).to.have.length(4);
      } finally {
        await gw.close();
      }
    });
  });

  describe("audit log growth and proof size", function () {
    let gw: TestGateway;
    beforeEach(async function () {
      gw = await startTestGateway();
    });
    afterEach(async function () {
      await gw.close();
    });

    it("does not grow the audit log for unauthenticated junk, and counts it in aggregate", async function () {
      const client = createGatewayClient({ url: gw.url, signer: patient, chainId: 31337, gatewayAddress: gw.key.address });
      const id = await client.put(randomBytes(10), { owner: patient.address, kind: "record", category: 0 });
      const before = gw.audit.head().seq;
      const stranger = Wallet.createRandom();
      for (let i = 0; i < 30; i++) {
        expect((await fetch(`${gw.url}/v1/blobs/${id}`)).status).to.equal(401); // unsigned
        expect((await signedGet(gw.url, gw.key.address, stranger, id, { timestamp: 1 })()).status).to.equal(401); // expired
      }
      expect(gw.audit.head().seq).to.equal(before);
      const head = await (await fetch(`${gw.url}/v1/audit/head`)).json() as { aggregateRefusals: { total: number; byCode: Record<string, number> } };
      expect(head.aggregateRefusals.total).to.equal(60);
      expect(head.aggregateRefusals.byCode).to.deep.equal({ GATEWAY_AUTH_INVALID: 30, GATEWAY_AUTH_EXPIRED: 30 });
      // An authenticated refusal is still audited, per request.
      await createGatewayClient({ url: gw.url, signer: stranger, chainId: 31337, gatewayAddress: gw.key.address }).get(id, { purpose: 1 }).catch(() => undefined);
      expect(gw.audit.head().seq).to.equal(before + 1);
      client.close();
    });

    it("gives a patient a logarithmic proof: inclusion per own entry and consistency from the anchored tree head", async function () {
      const client = createGatewayClient({ url: gw.url, signer: patient, chainId: 31337, gatewayAddress: gw.key.address });
      await client.put(randomBytes(10), { owner: patient.address, kind: "record", category: 0 });
      const noise = () => ({ actor: randomAddress(), action: "read" as const, blobId: sha256Hex(randomBytes(8)), owner: null, purpose: 1, outcome: "granted" as const, reason: "owner" });
      await Promise.all(Array.from({ length: 500 }, () => gw.audit.append(noise())));
      const anchored = gw.audit.head(); // what the anchorer would write on-chain
      await client.put(randomBytes(11), { owner: patient.address, kind: "record", category: 0 });
      await Promise.all(Array.from({ length: 300 }, () => gw.audit.append(noise())));
      const proof = await client.audit(patient.address, { since: anchored.seq });
      verifyAuditProof(proof, anchored);
      expect(proof.entries.map((e) => e.action)).to.deep.equal(["write", "write", "audit-read"]);
      const depth = Math.ceil(Math.log2(proof.tree.size));
      for (const path of proof.inclusion) expect(path.length).to.be.at.most(depth);
      expect(proof.consistency!.proof.length).to.be.at.most(2 * depth);
      expect(JSON.stringify(proof).length).to.be.below(12_000); // every entry's hash would be > 800 × 66 B
      // A different anchored root (a rewritten history) fails the consistency check.
      expect(() => verifyAuditProof(proof, { seq: anchored.seq, head: sha256Hex(randomBytes(4)) })).to.throw(/does not extend the anchored one/);
      client.close();
    });
  });
});
