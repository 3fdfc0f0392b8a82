import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";
import pg from "pg";

import { createJobStore } from "../../oracle/store/jobStore.js";
import { assertFence, createNonceLease, NONCE_LEASE_KEY } from "../../oracle/store/nonceLease.js";
import { createPgJobStore } from "../../oracle/store/pgJobStore.js";
import { startPostgres, type PostgresCluster } from "../services/postgres.js";
import { hash, requestLog, shouldBehaveLikeAJobStore } from "./helpers/storeBehaviour.js";
import { startTcpProxy } from "./helpers/tcpProxy.js";

describe("job store conformance", function () {
  describe("SQLite (embedded default)", function () {
    shouldBehaveLikeAJobStore(async () => createJobStore({ path: join(mkdtempSync(join(tmpdir(), "oracle-store-")), "oracle.db") }));
  });

  describe("Postgres", function () {
    this.timeout(60_000);
    let cluster: PostgresCluster;
    let n = 0;
    before(async function () {
      cluster = await startPostgres();
    });
    after(async function () {
      await cluster?.stop();
    });
    const fresh = async () => createPgJobStore({ url: await cluster.createDatabase(`store_${n++}`), poolSize: 4 });

    shouldBehaveLikeAJobStore(fresh);

    it("creates its schema idempotently: two replicas opening the same database at once both work", async function () {
      const url = await cluster.createDatabase(`store_${n++}`);
      const [a, b] = await Promise.all([createPgJobStore({ url }), createPgJobStore({ url })]);
      await a.commitRange([requestLog(1, 10)], { blockNumber: 10, blockHash: hash(1010) }, 64);
      expect((await b.getJob(hash(1)))?.state).to.equal("seen");
      await Promise.all([a.close(), b.close()]);
    });

    it("splits due jobs between replicas with claims (SKIP LOCKED), and a claim that expires is taken over", async function () {
      const url = await cluster.createDatabase(`store_${n++}`);
      const [a, b] = await Promise.all([createPgJobStore({ url }), createPgJobStore({ url })]);
      await a.commitRange(Array.from({ length: 20 }, (_, i) => requestLog(i + 1, 10, hash(1010), i)), { blockNumber: 10, blockHash: hash(1010) }, 64);
      await a.confirmUpTo(10);
      // Both claim at the same moment: no job is handed to both.
      const [mine, theirs] = await Promise.all([a.claimDueJobs("a", 12, 60_000), b.claimDueJobs("b", 12, 60_000)]);
      expect(mine.filter((id) => theirs.includes(id))).to.deep.equal([]);
      expect(mine.length + theirs.length).to.equal(20);
      // A replica's own claims are handed back to it (its next pass), never to the other.
      expect(await b.claimDueJobs("b", 20, 60_000)).to.have.members(theirs);
      expect(await b.renewClaim(mine[0]!, "b", 60_000)).to.equal(false);
      expect(await a.renewClaim(mine[0]!, "a", 1)).to.equal(true);
      await a.releaseClaim(mine[1]!, "a");
      await new Promise((resolve) => setTimeout(resolve, 5));
      // mine[0] expired and mine[1] was released: b takes both; a's others stay a's.
      expect(await b.claimDueJobs("b", 20, 60_000)).to.include.members([mine[0]!, mine[1]!, ...theirs]).and.not.include(mine[2]);
      await Promise.all([a.close(), b.close()]);
    });

    it("times claims by the database's clock: a replica whose clock runs a minute ahead does not take another's live claim", async function () {
      const url = await cluster.createDatabase(`store_${n++}`);
      const ahead = await createPgJobStore({ url, now: () => Date.now() + 60_000 });
      const behind = await createPgJobStore({ url, now: () => Date.now() - 60_000 });
      await behind.commitRange([requestLog(1, 10, hash(1010), 0)], { blockNumber: 10, blockHash: hash(1010) }, 64);
      await behind.confirmUpTo(10);
      const [id] = await behind.claimDueJobs("behind", 1, 30_000);
      expect(id).to.be.a("string");
      expect(await ahead.claimDueJobs("ahead", 10, 30_000)).to.deep.equal([]);
      expect(await behind.renewClaim(id!, "behind", 30_000)).to.equal(true);
      expect(await ahead.claimDueJobs("ahead", 10, 30_000)).to.deep.equal([]);
      // Expired by the database's clock, it is taken whatever the replicas' clocks say.
      expect(await behind.renewClaim(id!, "behind", -1)).to.equal(true);
      expect(await ahead.claimDueJobs("ahead", 10, 30_000)).to.deep.equal([id]);
      await Promise.all([ahead.close(), behind.close()]);
    });
  });
});

describe("nonce lease on Postgres", function () {
  this.timeout(60_000);
  let cluster: PostgresCluster;
  before(async function () {
    cluster = await startPostgres();
  });
  after(async function () {
    await cluster?.stop();
  });

  it("has one owner at a time; when the owner's session dies another takes over, and the stale owner's writes fail with ORACLE_NONCE_LEASE_LOST", async function () {
    const url = await cluster.createDatabase("lease");
    const a = await createNonceLease({ url, replicaId: "a", pollMs: 50 });
    const b = await createNonceLease({ url, replicaId: "b", pollMs: 50 });
    try {
      expect([a.isOwner(), b.isOwner()]).to.deep.equal([true, false]);
      expect(await a.owner()).to.equal("a");
      const staleEpoch = a.epoch();
      const db = new pg.Client({ connectionString: url });
      await db.connect();
      await assertFence(db, staleEpoch, "a");
      // The owner stops polling and its session ends (as a SIGKILLed process's does); the lock frees.
      const holders = await db.query("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted", [NONCE_LEASE_KEY]);
      expect(holders.rowCount).to.equal(1);
      await a.close();
      const deadline = Date.now() + 5_000;
      while (!b.isOwner() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(b.isOwner()).to.equal(true);
      expect(b.epoch()).to.equal(staleEpoch! + 1);
      expect(await b.owner()).to.equal("b");
      let code: string | undefined;
      try {
        await assertFence(db, staleEpoch, "a");
      } catch (error) {
        code = (error as { code?: string }).code;
      }
      expect(code).to.equal("ORACLE_NONCE_LEASE_LOST");
      await assertFence(db, b.epoch(), "b");
      await db.end();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("an owner cut off from the database steps down before another replica can take the lease (a heartbeat that never answers times out)", async function () {
    const url = await cluster.createDatabase("lease_partition");
    const direct = new URL(url);
    const proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port) });
    const viaProxy = new URL(url);
    viaProxy.host = proxy.address;
    const events: { replica: string; owner: boolean; at: number }[] = [];
    const onChange = (replica: string) => (owner: boolean) => events.push({ replica, owner, at: Date.now() });
    const a = await createNonceLease({ url: viaProxy.toString(), replicaId: "a", pollMs: 50, onChange: onChange("a") });
    const b = await createNonceLease({ url, replicaId: "b", pollMs: 50, onChange: onChange("b") });
    try {
      expect([a.isOwner(), b.isOwner()]).to.deep.equal([true, false]);
      // The partition: a's heartbeats go nowhere and no close reaches it; the server sees a
      // silent session and ends it after the idle timeout (2 s at this poll), freeing the lock.
      proxy.freeze();
      const deadline = Date.now() + 10_000;
      while (!b.isOwner() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(b.isOwner(), "b takes the lease once the server ends a's session").to.equal(true);
      expect(a.isOwner(), "a no longer believes it owns the lease").to.equal(false);
      const aLost = events.find((e) => e.replica === "a" && !e.owner);
      const bTook = events.find((e) => e.replica === "b" && e.owner);
      expect(aLost, "a stepped down").to.not.equal(undefined);
      expect(aLost!.at).to.be.at.most(bTook!.at);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await proxy.close();
    }
  });

  it("fences the store's nonce writes: after a takeover the old owner's submissions and nonce are refused and nothing of them is recorded", async function () {
    const url = await cluster.createDatabase("fenced");
    let leaseA: Awaited<ReturnType<typeof createNonceLease>> | undefined;
    let leaseB: Awaited<ReturnType<typeof createNonceLease>> | undefined;
    const storeA = await createPgJobStore({ url, poolSize: 2, fence: { replicaId: "a", epoch: () => leaseA?.epoch() } });
    const storeB = await createPgJobStore({ url, poolSize: 2, fence: { replicaId: "b", epoch: () => leaseB?.epoch() } });
    try {
      leaseA = await createNonceLease({ url, replicaId: "a", pollMs: 50 });
      leaseB = await createNonceLease({ url, replicaId: "b", pollMs: 50 });
      await storeA.commitRange([requestLog(1, 10), requestLog(2, 10, hash(1010), 1)], { blockNumber: 10, blockHash: hash(1010) }, 64);
      await storeA.confirmUpTo(10);
      const tx = (id: number, nonce: number) => ({ hash: hash(900 + id), nonce, requestId: hash(id), raw: "0xaa", maxFeePerGas: "1", maxPriorityFeePerGas: "1", sentAt: 0 });
      await storeA.recordSubmissions([tx(1, 0)], 1);
      // The standby cannot write nonces while A owns the lease.
      const refusal = async (write: Promise<unknown>) => write.then(() => undefined, (error: unknown) => (error as { code?: string }).code);
      expect(await refusal(storeB.setNextNonce(7))).to.equal("ORACLE_NONCE_LEASE_LOST");
      // A is paused (its lease connection gone, as when its process dies) but its pool still writes.
      const staleEpoch = leaseA.epoch();
      await leaseA.close();
      leaseA = { ...leaseA, epoch: () => staleEpoch };
      const deadline = Date.now() + 5_000;
      while (!leaseB.isOwner() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(leaseB.isOwner()).to.equal(true);
      expect(await refusal(storeA.recordSubmissions([tx(2, 1)], 2))).to.equal("ORACLE_NONCE_LEASE_LOST");
      expect(await refusal(storeA.setNextNonce(9))).to.equal("ORACLE_NONCE_LEASE_LOST");
      expect(await refusal(storeA.resolveMined(0, hash(901), hash(1), "fulfilled", 11))).to.equal("ORACLE_NONCE_LEASE_LOST");
      // Nor does it move the chain cursor back (only the owner follows the chain).
      expect(await refusal(storeA.commitRange([requestLog(3, 9)], { blockNumber: 9, blockHash: hash(1009) }, 64))).to.equal("ORACLE_NONCE_LEASE_LOST");
      expect(await refusal(storeA.confirmUpTo(9))).to.equal("ORACLE_NONCE_LEASE_LOST");
      expect(await storeB.getCursor()).to.deep.equal({ blockNumber: 10, blockHash: hash(1010) });
      expect(await storeB.getJob(hash(3))).to.equal(undefined);
      expect((await storeB.getJob(hash(2)))?.state).to.equal("confirmed");
      expect(await storeB.getNextNonce()).to.equal(1);
      expect((await storeB.pendingTxs()).map((t) => t.nonce)).to.deep.equal([0]);
      // The new owner writes.
      await storeB.resolveMined(0, hash(901), hash(1), "fulfilled", 11);
      expect((await storeB.getJob(hash(1)))?.state).to.equal("fulfilled");
    } finally {
      await Promise.all([leaseA?.close(), leaseB?.close(), storeA.close(), storeB.close()]);
    }
  });
});
