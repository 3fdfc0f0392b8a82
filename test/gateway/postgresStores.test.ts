import { randomBytes } from "node:crypto";

import { expect } from "chai";
import { Wallet } from "ethers";

import { sha256Hex, type Sha256Hex } from "../../core/hash.js";
import type { AuditLog } from "../../gateway/audit/auditLog.js";
import { ClockSkewError } from "../../gateway/errors.js";
import type { NonceCache } from "../../gateway/auth/nonceCache.js";
import { createPostgresAnchorCoordinator } from "../../gateway/postgres/anchorLock.js";
import { openPostgresAuditLog } from "../../gateway/postgres/auditLog.js";
import { openGatewayDatabase, type GatewayDatabase } from "../../gateway/postgres/database.js";
import { createPostgresMetadataStore } from "../../gateway/postgres/metadata.js";
import { checkClockSkew, createPostgresNonceCache } from "../../gateway/postgres/nonces.js";
import { createPostgresNullifierStore } from "../../gateway/postgres/nullifiers.js";
import type { BlobMeta } from "../../gateway/store/metadata.js";
import { verifyAuditChain, type AuditEntryInput } from "../../protocol/audit/entries.js";
import { verifyConsistency, verifyInclusion } from "../../protocol/audit/merkle.js";
import { startPostgres, type PostgresCluster } from "../services/postgres.js";
import { signedPut, startTestGateway, type TestGateway } from "./helpers.js";

const SIGNER = "0x00000000000000000000000000000000000000aA";

describe("gateway: state shared by replicas in Postgres", function () {
  this.timeout(120_000);
  let cluster: PostgresCluster;
  // Two pools on one database: what two replicas are.
  let one: GatewayDatabase;
  let two: GatewayDatabase;
  let a: NonceCache;
  let b: NonceCache;

  before(async function () {
    cluster = await startPostgres();
    const url = await cluster.createDatabase("gateway_stores");
    // Both create the schema at once: the advisory lock keeps them from colliding.
    [one, two] = await Promise.all([openGatewayDatabase(url), openGatewayDatabase(url)]);
    a = createPostgresNonceCache(one, { windowSeconds: 120 });
    b = createPostgresNonceCache(two, { windowSeconds: 120 });
  });

  after(async function () {
    await one?.close();
    await two?.close();
    await cluster?.stop();
  });

  describe("nonces", function () {
    // Expiry is judged by the database's clock: the requests here are timed by the real one, at
    // each test's start (the file is loaded minutes before it runs in a full suite).
    let now: number;
    beforeEach(function () {
      now = Math.floor(Date.now() / 1000);
    });

    it("refuses on one replica a nonce used on the other, and tells the same request's retry apart", async function () {
      expect(await a.use(SIGNER, "0x01", "0xd1", now, now)).to.equal("fresh");
      expect(await b.use(SIGNER, "0x01", "0xd2", now, now)).to.equal("replay");
      expect(await b.use(SIGNER.toLowerCase(), "0x01", "0xd1", now, now)).to.equal("retry");
      expect(await a.use(SIGNER, "0x02", "0xd1", now, now)).to.equal("fresh");
    });

    it("gives a retry on the other replica the reply the first one recorded", async function () {
      expect(await a.use(SIGNER, "0x03", "0xd3", now, now)).to.equal("fresh");
      expect(await b.recordedReply(SIGNER, "0x03")).to.equal(undefined);
      await a.recordReply(SIGNER, "0x03", { status: 201, contentType: "application/json", body: new TextEncoder().encode('{"ok":true}') });
      const reply = await b.recordedReply(SIGNER, "0x03");
      expect(reply?.status).to.equal(201);
      expect(new TextDecoder().decode(reply?.body)).to.equal('{"ok":true}');
    });

    it("lets exactly one of many concurrent claims of a nonce through", async function () {
      const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).use(SIGNER, "0x04", `0xe${i}`, now, now)));
      expect(claims.filter((c) => c === "fresh")).to.have.length(1);
      expect(claims.filter((c) => c === "replay")).to.have.length(19);
    });

    it("forgets a nonce only once its window and the tolerated clock skew have passed, by the database's clock", async function () {
      const keys = async () => (await one.query<{ key: string }>("SELECT key FROM gateway_nonces")).rows.map((r) => r.key.split(":")[1]);
      // Past its window by 60 s, within the skew tolerated (120 s): a replica whose clock lags the
      // database's by a minute still accepts this request, so the nonce is still remembered.
      const recent = now - 120 - 60;
      expect(await a.use(SIGNER, "0x05", "0xd5", recent, now)).to.equal("fresh");
      expect(await b.use(SIGNER, "0x05", "0xd6", recent, now)).to.equal("replay");
      // Past both: no replica within the tolerance accepts it any more; the nonce is free again.
      const stale = now - 120 - 120 - 5;
      expect(await a.use(SIGNER, "0x06", "0xd7", stale, now)).to.equal("fresh");
      expect(await b.use(SIGNER, "0x06", "0xd8", stale, now)).to.equal("fresh");
      expect(await a.recordedReply(SIGNER, "0x06")).to.equal(undefined);
      // A sweep (at most once a replica-second) removes what the database's clock says has expired.
      await a.use(SIGNER, "0x07", "0xd9", now, now + 1);
      expect(await keys()).to.include.members(["0x05", "0x07"]).and.not.include("0x06");
    });

    it("does not forget a nonce early on a replica whose clock runs ahead", async function () {
      expect(await a.use(SIGNER, "0x08", "0xda", now, now)).to.equal("fresh");
      // b's clock says the window of `now` ended long ago: the database's clock decides, not b's.
      expect(await b.use(SIGNER, "0x08", "0xdb", now, now + 100_000)).to.equal("replay");
    });

    it("refuses to start a replica whose clock is further off the database's than the tolerance", async function () {
      expect(Math.abs(await checkClockSkew(one, 120))).to.be.below(5);
      let error: unknown;
      try {
        await checkClockSkew(one, 120, () => Date.now() + 300_000);
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(ClockSkewError).with.property("code", "GATEWAY_CLOCK_SKEW");
      expect((error as ClockSkewError).message).to.include("300.0 s off");
    });
  });

  describe("blob metadata", function () {
    const meta = (blobId: string, ref: string, owner = SIGNER): BlobMeta => ({
      blobId: blobId as Sha256Hex, owner, kind: "record", category: 1, ref, size: 3, writer: owner, storedAt: "2026-12-03T00:00:00.000Z",
    });
    const REF = `0x${"ab".repeat(32)}`;

    it("knows on one replica what the other stored; of concurrent creates of one blob exactly one wins and all learn it", async function () {
      const ma = createPostgresMetadataStore(one);
      const mb = createPostgresMetadataStore(two);
      const id = sha256Hex(new TextEncoder().encode("meta-1"));
      expect(await mb.get(id)).to.equal(undefined);
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? ma : mb).create({ ...meta(id, REF), size: i })));
      expect(results.filter((r) => r.created)).to.have.length(1);
      const winner = results.find((r) => r.created)!.meta;
      for (const r of results) expect(r.meta).to.deep.equal(winner);
      expect(await ma.get(id)).to.deep.equal(winner);
      expect(await mb.get(id)).to.deep.equal(winner);
    });

    it("lists by (owner, ref) in ascending order, case-insensitively, never under the zero ref", async function () {
      const ma = createPostgresMetadataStore(one);
      const mb = createPostgresMetadataStore(two);
      const ref = `0x${"cd".repeat(32)}`;
      const ids = ["x", "y", "z"].map((t) => sha256Hex(new TextEncoder().encode(`list-${t}`)));
      await ma.create(meta(ids[0]!, ref));
      await mb.create(meta(ids[1]!, ref.toUpperCase().replace("0X", "0x")));
      await mb.put(meta(ids[2]!, `0x${"0".repeat(64)}`));
      expect(await mb.listByRef(SIGNER.toLowerCase(), ref)).to.deep.equal([ids[0]!, ids[1]!].sort());
      expect(await ma.listByRef(SIGNER, `0x${"0".repeat(64)}`)).to.deep.equal([]);
      expect(await ma.listByRef("0x00000000000000000000000000000000000000bB", ref)).to.deep.equal([]);
    });
  });

  describe("nullifiers", function () {
    it("accepts a nullifier once across replicas, also under concurrent claims", async function () {
      const na = createPostgresNullifierStore(one);
      const nb = createPostgresNullifierStore(two);
      const nullifier = `0x${"12".repeat(32)}`;
      const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? na : nb).claim(nullifier, { groupId: "7", timestamp: 1 })));
      expect(claims.filter(Boolean)).to.have.length(1);
      expect(await na.claim(nullifier, { groupId: "7", timestamp: 2 })).to.equal(false);
      expect(await nb.claim(`0x${"13".repeat(32)}`, { groupId: "7", timestamp: 2 })).to.equal(true);
      try {
        await na.claim("0x12", { groupId: "7", timestamp: 2 });
        expect.fail("a malformed nullifier must be refused");
      } catch (error) {
        expect(error).to.be.instanceOf(TypeError);
      }
    });
  });

  describe("anchoring", function () {
    it("lets one replica anchor at a time (the other skips the tick) and hands the next one the size last anchored", async function () {
      const ca = createPostgresAnchorCoordinator(one);
      const cb = createPostgresAnchorCoordinator(two);
      let release!: () => void;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const seen: number[] = [];
      const first = ca.exclusive(async (anchored) => {
        seen.push(anchored);
        await held;
        return 7;
      });
      // Wait until A holds the lock, then B's tick must not run its anchor at all.
      while (seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(await cb.exclusive(async () => expect.fail("a second replica anchored concurrently"))).to.deep.equal({ ran: false });
      release();
      expect(await first).to.deep.equal({ ran: true });
      expect(await cb.exclusive(async (anchored) => {
        seen.push(anchored);
        return undefined; // nothing new to anchor: the recorded size stays
      })).to.deep.equal({ ran: true });
      expect(await ca.exclusive(async (anchored) => {
        seen.push(anchored);
        return 5; // an older size never moves the record back
      })).to.deep.equal({ ran: true });
      await cb.exclusive(async (anchored) => {
        seen.push(anchored);
        return undefined;
      });
      expect(seen).to.deep.equal([0, 7, 7, 7]);
    });
  });

  describe("the audit log", function () {
    let la: AuditLog;
    let lb: AuditLog;
    const input = (actor: string, i: number): AuditEntryInput => ({ actor, action: "write", blobId: `0x${i.toString(16).padStart(64, "0")}`, owner: actor, purpose: 0, outcome: "granted", reason: "owner" });

    before(async function () {
      [la, lb] = await Promise.all([openPostgresAuditLog(one), openPostgresAuditLog(two)]);
    });

    it("interleaved concurrent appends on two replicas make one chain: consecutive seqs, each entry chained to the one before", async function () {
      const written = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? la : lb).append(input(i % 2 ? "0x00000000000000000000000000000000000000a1" : "0x00000000000000000000000000000000000000b2", i))));
      expect(written.map((e) => e.seq).sort((x, y) => x - y)).to.deep.equal(Array.from({ length: 40 }, (_, i) => i + 1));
      const [ea, eb] = [await la.entries(), await lb.entries()];
      expect(ea).to.deep.equal(eb);
      expect(ea).to.have.length(40);
      verifyAuditChain(ea);
      for (const entry of written) expect(ea[entry.seq - 1]).to.deep.equal(entry);
      expect(la.head()).to.deep.equal(lb.head());
    });

    it("a replica that wrote nothing serves the other's entries after refresh, with proofs that verify against the same root", async function () {
      const before = lb.head().seq;
      await la.append(input("0x00000000000000000000000000000000000000c3", 100));
      expect(lb.head().seq, "not yet refreshed").to.equal(before);
      await lb.refresh();
      const size = lb.head().seq;
      expect(size).to.equal(before + 1);
      expect(lb.root(size)).to.equal(la.root(size));
      const entries = await lb.entries();
      const last = entries.at(-1)!;
      expect(verifyInclusion(last.hash, last.seq - 1, size, lb.inclusionProof(last.seq, size), lb.root(size))).to.equal(true);
      expect(verifyConsistency(before, size, la.root(before), lb.root(size), lb.consistencyProof(before, size))).to.equal(true);
    });

    it("a log opened later loads and verifies the whole chain; a row rewritten in the database is refused", async function () {
      const late = await openPostgresAuditLog(one);
      expect(late.head()).to.deep.equal(la.head());
      await late.close();
      await one.query("UPDATE gateway_audit SET entry = replace(entry, '\"reason\":\"owner\"', '\"reason\":\"device\"') WHERE seq = 3");
      try {
        await openPostgresAuditLog(two);
        expect.fail("a tampered chain must not open");
      } catch (error) {
        expect((error as { code?: string }).code).to.equal("AUDIT_LOG_CORRUPT");
      }
    });
  });
});

describe("gateway: its Postgres gone", function () {
  this.timeout(120_000);
  let cluster: PostgresCluster;
  let gw: TestGateway;
  const patient = Wallet.createRandom();

  before(async function () {
    cluster = await startPostgres();
    gw = await startTestGateway({ backends: { databaseUrl: await cluster.createDatabase("gateway_gone") } });
  });

  after(async function () {
    await gw?.close().catch(() => undefined);
    await cluster?.stop();
  });

  it("answers 503 GATEWAY_DATABASE_UNAVAILABLE (a retry, not a 500), and /readyz names the database", async function () {
    const put = (bytes: Uint8Array) => signedPut(gw.url, gw.key.address, patient, bytes, { owner: patient.address, kind: "record", category: 0 })();
    expect((await put(randomBytes(32))).status).to.equal(201);
    await cluster.stop();
    const refused = await put(randomBytes(32));
    const body = await refused.json() as { error: { code: string; message: string } };
    expect(refused.status).to.equal(503);
    expect(body.error.code).to.equal("GATEWAY_DATABASE_UNAVAILABLE");
    expect(body.error.message).to.match(/database is unavailable .*Retry/);
    const ready = await fetch(`${gw.url}/readyz`);
    const report = await ready.json() as { ready: boolean; failing: string[] };
    expect(ready.status).to.equal(503);
    expect(report.failing).to.include("database");
  });
});
