import { expect } from "chai";
import pg from "pg";

import { startPostgres, type PostgresCluster } from "../services/postgres.js";
import { spawnOracle, type OracleChild } from "./helpers/child.js";
import { createWorld, waitFor, type World } from "./helpers/world.js";

const Status = { Pending: 1n, Fulfilled: 2n, Cancelled: 5n };
const BURST = 12;

type Replica = { child: OracleChild; replicaId: string; url: string };
type ReplicaCheck = { replicaId?: string; nonceOwner?: boolean };

/** The ops server URL from the "oracle started" log line. */
function startedUrl(child: OracleChild): string | undefined {
  const line = child.output.find((l) => l.includes("\"oracle started\""));
  return line ? (JSON.parse(line) as { url: string }).url : undefined;
}

async function replicaCheck(replica: Replica): Promise<ReplicaCheck | undefined> {
  const body = (await (await fetch(`${replica.url}/readyz`)).json()) as { checks: { replica?: ReplicaCheck } };
  return body.checks.replica;
}

describe("oracle replicas on one Postgres (two daemon processes, one operator key)", function () {
  this.timeout(300_000);
  let world: World;
  let cluster: PostgresCluster;
  const children: OracleChild[] = [];

  before(async function () {
    [world, cluster] = await Promise.all([createWorld({ patients: 2 }), startPostgres()]);
  });
  afterEach(async function () {
    for (const child of children.splice(0)) {
      if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGKILL");
      await child.exited;
    }
  });
  after(async function () {
    await world?.close();
    await cluster?.stop();
  });

  /**
   * By default each evaluation is held 300 ms (a slower model) and a replica takes two jobs at a
   * time, so a burst outruns one replica and the claims split it between both.
   */
  async function startReplica(settings: ReturnType<World["settings"]>, replicaId: string, failpoint = "after:verified=pause:300"): Promise<Replica> {
    const child = spawnOracle({ ...settings, REPLICA_ID: replicaId }, { ORACLE_FAILPOINT: failpoint });
    children.push(child);
    const url = await waitFor(() => startedUrl(child) ?? (child.process.exitCode !== null && "exited"), `${replicaId} start`);
    expect(url, child.text().slice(-2000)).to.not.equal("exited");
    return { child, replicaId, url };
  }

  it("the nonce owner SIGKILLed mid-burst: every request fulfilled exactly once, the survivor takes the lease, and both replicas did pipeline work", async function () {
    const url = await cluster.createDatabase("replicas");
    const settings = world.settings({
      START_BLOCK: await world.ethers.provider.getBlockNumber() + 1,
      JOB_STORE: "postgres", DATABASE_URL: url, NONCE_LEASE_POLL_MS: 200, JOB_CLAIM_MS: 2_000, MAX_JOBS_IN_FLIGHT: 2, LOG_LEVEL: "debug",
    });
    const a = await startReplica(settings, "replica-a");
    await waitFor(async () => (await replicaCheck(a))?.nonceOwner === true, "replica-a owns the nonce lease");
    const b = await startReplica(settings, "replica-b");
    expect(await replicaCheck(b)).to.deep.include({ replicaId: "replica-b", nonceOwner: false });

    // The burst: requests from two patients; the owner is killed once some are fulfilled.
    const requestIds: string[] = [];
    const sending = (async () => {
      for (let i = 0; i < BURST; i++) requestIds.push((await world.request(world.patients[i % 2]!)).requestId);
    })();
    const fulfilled = async () => (await Promise.all(requestIds.map(async (id) => (await world.status(id)).status === Status.Fulfilled))).filter(Boolean).length;
    await waitFor(async () => (await fulfilled()) >= 3 || undefined, "first fulfilments by replica-a", 60_000);
    a.child.process.kill("SIGKILL");
    const killedAt = { sent: requestIds.length, fulfilled: await fulfilled() };
    expect((await a.child.exited).signal).to.equal("SIGKILL");
    await sending;
    expect(killedAt.fulfilled, `the kill landed mid-burst (${killedAt.sent} requests sent then)`).to.be.lessThan(BURST);

    await waitFor(async () => (await replicaCheck(b))?.nonceOwner === true, "replica-b takes the nonce lease", 30_000);
    await waitFor(async () => ((await fulfilled()) === BURST ? true : undefined), "every request fulfilled", 120_000)
      .catch((error: unknown) => {
        throw new Error(`${(error as Error).message}\n--- replica-b ---\n${b.child.text().slice(-4000)}`, { cause: error });
      });
    for (const id of requestIds) {
      expect((await world.status(id)).status).to.equal(Status.Fulfilled);
      expect(await world.fulfilmentCount(id), `OracleResponse events of ${id}`).to.equal(1);
    }
    expect(b.child.text()).to.include("took the nonce lease");

    // The shared store agrees, and the lease names the survivor at a later epoch.
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    try {
      const states = (await db.query("SELECT state, COUNT(*)::int AS n FROM jobs GROUP BY state")).rows as { state: string; n: number }[];
      await waitFor(async () => {
        const rows = (await db.query("SELECT COUNT(*)::int AS n FROM jobs WHERE state = 'fulfilled'")).rows as { n: number }[];
        return rows[0]!.n === BURST || undefined;
      }, "the store records every fulfilment", 30_000).catch(() => expect.fail(`job states: ${JSON.stringify(states)}`));
      const lease = (await db.query("SELECT owner, epoch FROM nonce_lease")).rows[0] as { owner: string; epoch: string };
      expect(lease.owner).to.equal("replica-b");
      expect(Number(lease.epoch)).to.equal(2);
    } finally {
      await db.end();
    }

    // Both replicas advanced pipeline steps (the standby worked on claimed jobs before the takeover).
    const advanced = (lines: string[]) => lines.filter((l) => l.includes("\"job advanced\"")).length;
    const takeover = b.child.output.findIndex((l) => l.includes("took the nonce lease"));
    expect(advanced(a.child.output), "replica-a pipeline steps").to.be.greaterThan(0);
    expect(advanced(b.child.output.slice(0, takeover)), "replica-b pipeline steps while standby").to.be.greaterThan(0);
    console.log(`      replica-a: ${advanced(a.child.output)} steps before its SIGKILL (${killedAt.fulfilled}/${BURST} fulfilled, ${killedAt.sent} requested); replica-b: ${advanced(b.child.output.slice(0, takeover))} steps as standby, took over at epoch 2`);

    b.child.process.kill("SIGTERM");
    expect((await b.child.exited).code, b.child.text().slice(-2000)).to.equal(0);
  });

  it("the owner dies after recording signed fulfilments, before broadcasting them: the survivor sends those same transactions, once", async function () {
    const url = await cluster.createDatabase("recorded");
    const settings = world.settings({
      START_BLOCK: await world.ethers.provider.getBlockNumber() + 1,
      JOB_STORE: "postgres", DATABASE_URL: url, NONCE_LEASE_POLL_MS: 200, JOB_CLAIM_MS: 2_000,
    });
    const a = await startReplica(settings, "replica-a", "after:recorded");
    await waitFor(async () => (await replicaCheck(a))?.nonceOwner === true, "replica-a owns the nonce lease");
    const b = await startReplica(settings, "replica-b", "");
    const requestIds: string[] = [];
    for (let i = 0; i < 4; i++) requestIds.push((await world.request(world.patients[i % 2]!)).requestId);
    expect((await a.child.exited).signal, a.child.text().slice(-2000)).to.equal("SIGKILL");

    const db = new pg.Client({ connectionString: url });
    await db.connect();
    try {
      // What replica-a signed and recorded, never broadcast.
      const recorded = (await db.query("SELECT request_id, hash FROM txs WHERE status = 'pending'")).rows as { request_id: string; hash: string }[];
      expect(recorded.length).to.be.greaterThan(0);
      for (const tx of recorded) expect(await world.ethers.provider.getTransaction(tx.hash), "not broadcast before the kill").to.equal(null);

      await waitFor(async () => (await Promise.all(requestIds.map(async (id) => (await world.status(id)).status === Status.Fulfilled))).every(Boolean) || undefined,
        "every request fulfilled by the survivor", 60_000).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}\n--- replica-b ---\n${b.child.text().slice(-4000)}`, { cause: error });
      });
      for (const id of requestIds) expect(await world.fulfilmentCount(id), `OracleResponse events of ${id}`).to.equal(1);
      // The recorded bytes were the ones mined: the same fulfilment, not a second one signed anew.
      for (const tx of recorded) {
        const [response] = await world.suite.operator.queryFilter(world.suite.operator.filters.OracleResponse(tx.request_id), 0, "latest");
        expect(response?.transactionHash).to.equal(tx.hash);
      }
      expect((await replicaCheck(b))?.nonceOwner).to.equal(true);
    } finally {
      await db.end();
    }
    b.child.process.kill("SIGTERM");
    expect((await b.child.exited).code, b.child.text().slice(-2000)).to.equal(0);
  });

  it("the nonce owner hangs (SIGSTOP) mid-burst: its lease session times out, the survivor takes over, and the resumed old owner sends nothing", async function () {
    const url = await cluster.createDatabase("hung");
    const settings = world.settings({
      START_BLOCK: await world.ethers.provider.getBlockNumber() + 1,
      JOB_STORE: "postgres", DATABASE_URL: url, NONCE_LEASE_POLL_MS: 200, JOB_CLAIM_MS: 2_000, MAX_JOBS_IN_FLIGHT: 2,
    });
    const a = await startReplica(settings, "replica-a");
    await waitFor(async () => (await replicaCheck(a))?.nonceOwner === true, "replica-a owns the nonce lease");
    const b = await startReplica(settings, "replica-b");
    const requestIds: string[] = [];
    const fulfilled = async () => (await Promise.all(requestIds.map(async (id) => (await world.status(id)).status === Status.Fulfilled))).filter(Boolean).length;
    for (let i = 0; i < 4; i++) requestIds.push((await world.request(world.patients[i % 2]!)).requestId);
    await waitFor(async () => (await fulfilled()) >= 1 || undefined, "a first fulfilment by replica-a", 60_000);
    // Hung, not dead: its TCP sessions stay open, only the idle-session timeout frees the lock.
    a.child.process.kill("SIGSTOP");
    const stoppedAt = Date.now();
    for (let i = 0; i < 4; i++) requestIds.push((await world.request(world.patients[i % 2]!)).requestId);
    await waitFor(async () => (await replicaCheck(b))?.nonceOwner === true, "replica-b takes the nonce lease", 30_000);
    const takeoverMs = Date.now() - stoppedAt;
    await waitFor(async () => ((await fulfilled()) === requestIds.length ? true : undefined), "every request fulfilled", 120_000)
      .catch((error: unknown) => {
        throw new Error(`${(error as Error).message}\n--- replica-b ---\n${b.child.text().slice(-4000)}`, { cause: error });
      });

    // The old owner resumes with stale state in memory: it learns it lost the lease and sends nothing.
    a.child.process.kill("SIGCONT");
    await waitFor(() => a.child.output.some((l) => l.includes("lost the nonce lease")), "replica-a notices it lost the lease", 30_000);
    expect(await replicaCheck(a)).to.deep.include({ replicaId: "replica-a", nonceOwner: false });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    for (const id of requestIds) expect(await world.fulfilmentCount(id), `OracleResponse events of ${id}`).to.equal(1);
    expect(await replicaCheck(b)).to.deep.include({ nonceOwner: true });
    console.log(`      takeover ${takeoverMs} ms after SIGSTOP (lease idle timeout 2000 ms, poll 200 ms)`);

    for (const replica of [a, b]) {
      replica.child.process.kill("SIGTERM");
      expect((await replica.child.exited).code, replica.child.text().slice(-2000)).to.equal(0);
    }
  });

  it("a request cancelled on-chain after the dead owner recorded its fulfilment: the new owner checks the request and does not send it", async function () {
    const url = await cluster.createDatabase("cancelled");
    const settings = world.settings({
      START_BLOCK: await world.ethers.provider.getBlockNumber() + 1,
      JOB_STORE: "postgres", DATABASE_URL: url, NONCE_LEASE_POLL_MS: 200, JOB_CLAIM_MS: 2_000,
    });
    const a = await startReplica(settings, "replica-a", "after:recorded");
    const patient = world.patients[0]!;
    const { requestId } = await world.request(patient);
    expect((await a.child.exited).signal, a.child.text().slice(-2000)).to.equal("SIGKILL");
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    try {
      const [recorded] = (await db.query("SELECT hash FROM txs WHERE request_id = $1 AND status = 'pending'", [requestId])).rows as { hash: string }[];
      expect(recorded, "replica-a recorded a fulfilment").to.not.equal(undefined);
      // The patient cancels the expired request before any replica takes the lease over.
      await world.networkHelpers.time.increase(3_600);
      await (await world.suite.router.connect(patient.signer).cancelPrediction(requestId, await world.suite.router.fee())).wait();

      const b = await startReplica(settings, "replica-b", "");
      const state = async () => ((await db.query("SELECT state FROM jobs WHERE request_id = $1", [requestId])).rows[0] as { state: string }).state;
      await waitFor(async () => (await state()) === "refused" || undefined, "the job takes the chain's verdict", 30_000)
        .catch((error: unknown) => {
          throw new Error(`${(error as Error).message}\n--- replica-b ---\n${b.child.text().slice(-4000)}`, { cause: error });
        });
      expect(b.child.text()).to.include("not re-sending it");
      expect(await world.ethers.provider.getTransaction(recorded!.hash), "the recorded fulfilment is never broadcast").to.equal(null);
      expect((await world.status(requestId)).status).to.equal(Status.Cancelled);
      expect(await world.fulfilmentCount(requestId)).to.equal(0);
      b.child.process.kill("SIGTERM");
      expect((await b.child.exited).code, b.child.text().slice(-2000)).to.equal(0);
    } finally {
      await db.end();
    }
  });
});
