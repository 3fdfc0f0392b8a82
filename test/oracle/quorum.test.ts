import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";

import { expect } from "chai";
import { Wallet, type HDNodeWallet } from "ethers";

import { DEFAULT_FEE } from "../../deploy/modules/PredictionRouter.js";
import type { Settings } from "../../oracle/config/settings.js";
import { decodeRevert } from "../../protocol/revert.js";
import { RequestStatus } from "../../protocol/codes.js";
import { spawnOracle, type OracleChild } from "./helpers/child.js";
import { createWorld, waitFor, type World } from "./helpers/world.js";

/**
 * Three oracle daemons as processes (own key, own SQLite store each) behind an OracleQuorum with
 * k = 2, against the in-process chain served over HTTP and the real gateway: one Byzantine
 * operator is outvoted; one SIGKILLed operator does not stop finalisation; with one operator
 * alive the request waits, expires and is cancelled with a refund and misses recorded; a
 * duplicated vote counts once; an operator removed while a request is pending does not strand it.
 * The cases run in order on one world: each starts from the daemons the one before left.
 */
type Row = { state: string; resultHash: string | null; lastError: string | null };

function jobRow(dataDir: string, requestId: string): Row | undefined {
  const db = new DatabaseSync(join(dataDir, "oracle.db"), { readOnly: true });
  try {
    const row = db.prepare("SELECT state, result_hash, last_error FROM jobs WHERE request_id = ?").get(requestId);
    return row === undefined ? undefined : { state: row.state as string, resultHash: row.result_hash as string | null, lastError: row.last_error as string | null };
  } finally {
    db.close();
  }
}

/**
 * Operator `i`'s daemon as a process with the world's settings and `extra` (its store kept across
 * restarts unless `fresh`), and its stop by signal: what every quorum case starts and kills.
 */
function operatorProcesses(world: () => World, keys: () => HDNodeWallet[], startBlock: () => number, extra: Partial<Settings>) {
  const settingsOf = new Map<string, Settings>();
  const running = new Map<string, OracleChild>();
  const status = async (requestId: string) => Number((await world().status(requestId)).status);
  return {
    running,
    async start(i: number, env: Record<string, string> = {}, fresh = false): Promise<OracleChild> {
      const name = `op${i}`;
      if (fresh || !settingsOf.has(name)) settingsOf.set(name, world().settings({ PRIVATE_KEY: keys()[i]!.privateKey, START_BLOCK: startBlock(), LOG_LEVEL: "info", ...extra }));
      const child = spawnOracle(settingsOf.get(name)!, env);
      running.set(name, child);
      const outcome = await waitFor(() => child.output.some((l) => l.includes("oracle started")) || (child.process.exitCode !== null && "exited"), `${name} start`, 60_000);
      expect(outcome, child.text().slice(-3000)).to.equal(true);
      return child;
    },
    async stop(i: number, signal: NodeJS.Signals): Promise<void> {
      const child = running.get(`op${i}`)!;
      running.delete(`op${i}`);
      child.process.kill(signal);
      const exit = await child.exited;
      if (signal === "SIGTERM") expect(exit.code, child.text().slice(-2000)).to.equal(0);
      else expect(exit.signal).to.equal("SIGKILL");
    },
    dataDir: (i: number) => settingsOf.get(`op${i}`)!.DATA_DIR,
    status,
    /** Waits until the request is no longer pending (finalised, failed or cancelled). */
    finalised: (requestId: string, what: string) => waitFor(async () => (await status(requestId)) !== RequestStatus.Pending, what, 60_000),
    async killAll(): Promise<void> {
      for (const child of running.values()) {
        child.process.kill("SIGKILL");
        await child.exited;
      }
    },
  };
}

describe("oracle quorum: 3 daemon processes, k = 2, every operator evaluating every request", function () {
  this.timeout(300_000);
  let world: World;
  let keys: HDNodeWallet[];
  let startBlock: number;
  /** Request ids by case: the SIGKILL case's (finalised without operator 1) and the cancelled one. */
  let finalisedWithoutOp1: string[] = [];
  let cancelled = "";
  // The schedule off (QUORUM_STANDBY_MS 0): every operator votes on every request, as these cases count.
  const operators = operatorProcesses(() => world, () => keys, () => startBlock, { QUORUM_STANDBY_MS: 0 });
  const { start, stop, dataDir, status, finalised } = operators;

  before(async function () {
    world = await createWorld({ patients: 1, quorum: { n: 3, k: 2 } });
    keys = world.oracleKeys;
    startBlock = (await world.ethers.provider.getBlockNumber()) + 1;
    const [k, n] = await world.quorum!.quorum();
    expect([k, n]).to.deep.equal([2n, 3n]);
  });

  after(async function () {
    await operators.killAll();
    await world?.close();
  });

  it("a Byzantine operator's wrong result hash is outvoted and recorded as a disagreement", async function () {
    await Promise.all([start(0), start(1), start(2, { ORACLE_BYZANTINE: "flip-result" })]);
    const { requestId } = await world.request(world.patients[0]!);
    await finalised(requestId, "quorum");
    expect(await status(requestId)).to.equal(RequestStatus.Fulfilled);
    // The Byzantine vote is recorded whenever it lands: before the quorum (dissent counted at
    // finalisation) or after it (a late disagreeing vote).
    await waitFor(async () => (await world.quorum!.operatorRecord(keys[2]!.address)).disagreements === 1n, "disagreement recorded");
    const honest = await waitFor(() => jobRow(dataDir(0), requestId)?.resultHash ?? undefined, "honest result hash");
    expect((await world.status(requestId)).resultHash).to.equal(honest);
    expect(jobRow(dataDir(1), requestId)?.resultHash).to.equal(honest);
    const [votes, , isFinal, finalHash] = await world.quorum!.requestVotes(requestId);
    expect(isFinal).to.equal(true);
    expect(await world.quorum!.votesFor(requestId, finalHash)).to.equal(2n);
    const dissent = await world.quorum!.queryFilter(world.quorum!.filters.OperatorDisagreed(requestId, keys[2]!.address), 0, "latest");
    expect(dissent).to.have.length(1);
    expect(dissent[0]!.args.finalHash).to.equal(finalHash);
    expect(votes).to.equal(3n);
    for (const i of [0, 1]) expect((await world.quorum!.operatorRecord(keys[i]!.address)).disagreements).to.equal(0n);
    expect(await world.fulfilmentCount(requestId)).to.equal(1);
    // One honest vote finalised (fulfilled), the other was counted or late; the Byzantine one was counted or late.
    await waitFor(() => [0, 1, 2].every((i) => ["fulfilled", "voted"].includes(jobRow(dataDir(i), requestId)?.state ?? "")), "every job terminal");
    expect([0, 1].map((i) => jobRow(dataDir(i), requestId)!.state).sort()).to.deep.equal(["fulfilled", "voted"]);
    expect(jobRow(dataDir(2), requestId)!.state).to.equal("voted");
    // The Byzantine operator comes back honest, with its store.
    await stop(2, "SIGTERM");
    await start(2);
  });

  it("n − k = 1 operator SIGKILLed: requests still finalise, once each", async function () {
    await stop(1, "SIGKILL");
    const requests = [await world.request(world.patients[0]!), await world.request(world.patients[0]!)];
    finalisedWithoutOp1 = requests.map((r) => r.requestId);
    for (const { requestId } of requests) {
      await finalised(requestId, "quorum of the two alive");
      expect(await status(requestId)).to.equal(RequestStatus.Fulfilled);
      expect(await world.fulfilmentCount(requestId)).to.equal(1);
      const [votes, leading] = await world.quorum!.requestVotes(requestId);
      expect([votes, leading]).to.deep.equal([2n, 2n]);
    }
  });

  it("fewer than k alive: the request never finalises; a duplicated vote counts once; after expiry the cancel refunds and records the misses", async function () {
    await stop(2, "SIGKILL");
    const { requestId } = await world.request(world.patients[0]!);
    cancelled = requestId;
    await waitFor(() => jobRow(dataDir(0), requestId)?.state === "voted", "the lone operator's vote mined", 60_000);
    expect(jobRow(dataDir(0), requestId)!.lastError).to.include("needs more votes");

    // The same operator's vote again, sent by hand with its key: refused as a duplicate.
    const [cast] = await world.quorum!.queryFilter(world.quorum!.filters.VoteCast(requestId, keys[0]!.address), 0, "latest");
    const sent = (await world.ethers.provider.getTransaction(cast!.transactionHash))!;
    const operator = new Wallet(keys[0]!.privateKey, world.ethers.provider);
    const duplicate = await world.ethers.provider.call({ from: operator.address, to: sent.to!, data: sent.data }).then(() => undefined, (error: unknown) => error);
    expect(decodeRevert(duplicate)?.reason).to.equal("AlreadyVoted");
    // Sent anyway (the chain refuses it: the in-process node rejects a reverting transaction).
    const replay = await operator.sendTransaction({ to: sent.to!, data: sent.data, gasLimit: 600_000 }).then((tx) => tx.wait()).then(() => undefined, (error: unknown) => error);
    expect(String(replay)).to.include("AlreadyVoted");

    // The operator restarted with its store lost replays the request: simulation says AlreadyVoted, nothing is sent.
    await stop(0, "SIGTERM");
    const nonceBefore = await world.ethers.provider.getTransactionCount(operator.address);
    await start(0, {}, true);
    await waitFor(() => jobRow(dataDir(0), requestId)?.state === "voted", "replayed job terminal as voted", 60_000);
    expect(jobRow(dataDir(0), requestId)!.lastError).to.include("already counts this operator's vote");
    expect(await world.ethers.provider.getTransactionCount(operator.address)).to.equal(nonceBefore);
    const [votes, leading, isFinal] = await world.quorum!.requestVotes(requestId);
    expect([votes, leading, isFinal]).to.deep.equal([1n, 1n, false]);
    expect(await status(requestId)).to.equal(RequestStatus.Pending);

    // Expiry, then the cancel: the escrowed LINK goes back, the two silent operators get a miss.
    const link = world.suite.link;
    const quorumAddress = await world.quorum!.getAddress();
    const [quorumLinkBefore, routerLinkBefore] = [await link.balanceOf(quorumAddress), await link.balanceOf(world.suite.addresses.PredictionRouter)];
    await world.networkHelpers.time.increase(Number(await world.quorum!.EXPIRYTIME()) + 1);
    await (await world.suite.router.connect(world.patients[0]!.signer).cancelPrediction(requestId, DEFAULT_FEE)).wait();
    expect(await status(requestId)).to.equal(RequestStatus.Cancelled);
    expect(await link.balanceOf(quorumAddress)).to.equal(quorumLinkBefore - DEFAULT_FEE);
    expect(await link.balanceOf(world.suite.addresses.PredictionRouter)).to.equal(routerLinkBefore + DEFAULT_FEE);
    expect((await world.quorum!.operatorRecord(keys[0]!.address)).misses).to.equal(0n);
    for (const i of [1, 2]) expect((await world.quorum!.operatorRecord(keys[i]!.address)).misses).to.equal(1n);
    expect(await world.quorum!.queryFilter(world.quorum!.filters.OperatorMissed(requestId), 0, "latest")).to.have.length(2);
    expect(await world.fulfilmentCount(requestId)).to.equal(0);
  });

  it("operator set changed while a request is pending: the removed operator's place is not needed, the rest finalise", async function () {
    const { requestId } = await world.request(world.patients[0]!);
    await waitFor(() => jobRow(dataDir(0), requestId)?.state === "voted", "first vote mined", 60_000);
    // Governance removes operator 2 (dead) with the request pending on one vote: n = 2, k stays 2.
    const oracleRole = await world.suite.identity.ORACLE_ROLE();
    await (await world.suite.identity.revokeRole(oracleRole, keys[2]!.address)).wait();
    await (await world.suite.router.removeOracle(keys[2]!.address)).wait();
    expect([...(await world.quorum!.quorum())]).to.deep.equal([2n, 2n]);
    expect(await world.quorum!.isAuthorizedSender(keys[2]!.address)).to.equal(false);
    // Operator 1 comes back (its store kept): it catches up and its vote completes the quorum.
    await start(1);
    await finalised(requestId, "quorum after the set change");
    expect(await status(requestId)).to.equal(RequestStatus.Fulfilled);
    expect(await world.fulfilmentCount(requestId)).to.equal(1);
    await waitFor(() => jobRow(dataDir(1), requestId)?.state === "fulfilled", "operator 1's vote finalised");
    const [votes, leading, isFinal] = await world.quorum!.requestVotes(requestId);
    expect([votes, leading, isFinal]).to.deep.equal([2n, 2n, true]);
    // What it missed while down takes the chain's verdict, nothing sent: the cancelled request is
    // refused, the ones finalised without it are fulfilled (no late vote for a closed request).
    await waitFor(() => jobRow(dataDir(1), cancelled)?.state === "refused", "cancelled request refused");
    for (const id of finalisedWithoutOp1) {
      await waitFor(() => jobRow(dataDir(1), id)?.state === "fulfilled", "finalised request closed in the store");
      expect(jobRow(dataDir(1), id)!.lastError).to.include("no longer pending");
    }
    expect(await world.quorum!.queryFilter(world.quorum!.filters.LateVote(undefined, keys[1]!.address), 0, "latest")).to.have.length(0);
  });

  it("votes split so that k is out of reach: QuorumUnreachable, logged by the daemon whose vote made it so, and nothing finalises", async function () {
    // n = 2, k = 2 now; operator 1 turns Byzantine: the two votes can never agree.
    await stop(1, "SIGTERM");
    const byzantine = await start(1, { ORACLE_BYZANTINE: "flip-result" });
    const { requestId } = await world.request(world.patients[0]!);
    const [unreachable] = await waitFor(async () => {
      const logs = await world.quorum!.queryFilter(world.quorum!.filters.QuorumUnreachable(requestId), 0, "latest");
      return logs.length > 0 ? logs : undefined;
    }, "QuorumUnreachable", 60_000);
    expect([unreachable!.args.leading, unreachable!.args.remaining, unreachable!.args.k]).to.deep.equal([1n, 0n, 2n]);
    const [second] = await world.quorum!.queryFilter(world.quorum!.filters.VoteCast(requestId), unreachable!.blockNumber, unreachable!.blockNumber);
    const loud = second!.args.operator === keys[1]!.address ? byzantine : operators.running.get("op0")!;
    await waitFor(() => loud.output.some((l) => l.includes("quorum unreachable") && l.includes(requestId)), "the daemon logs it");
    expect(await status(requestId)).to.equal(RequestStatus.Pending);
    for (const i of [0, 1]) await waitFor(() => jobRow(dataDir(i), requestId)?.state === "voted", "both votes mined");
    await stop(0, "SIGTERM");
    await stop(1, "SIGTERM");
  });
});

describe("oracle quorum: the evaluation schedule, k primaries per request and a standby that steps in", function () {
  this.timeout(300_000);
  /** Short, for the test's sake: operators set it above their primaries' latency at peak load. */
  const STANDBY_MS = 3_000;
  let world: World;
  let keys: HDNodeWallet[];
  let startBlock: number;
  const operators = operatorProcesses(() => world, () => keys, () => startBlock, { QUORUM_STANDBY_MS: STANDBY_MS });
  const { start, stop, dataDir, status, finalised } = operators;

  before(async function () {
    world = await createWorld({ patients: 1, quorum: { n: 3, k: 2 } });
    keys = world.oracleKeys;
    startBlock = (await world.ethers.provider.getBlockNumber()) + 1;
    await Promise.all([start(0), start(1), start(2)]);
  });

  after(async function () {
    await operators.killAll();
    await world?.close();
  });

  /**
   * The operator indexes the schedule makes primaries of `requestId`, computed here from its
   * rule (positions requestId mod n, +1 of the on-chain sender list), not from the daemon's code.
   */
  async function primariesOf(requestId: string): Promise<number[]> {
    const senders = await world.quorum!.getAuthorizedSenders();
    const first = Number(BigInt(requestId) % BigInt(senders.length));
    return [0, 1].map((j) => keys.findIndex((key) => key.address === senders[(first + j) % senders.length]));
  }
  const votersOf = async (requestId: string) => (await world.quorum!.queryFilter(world.quorum!.filters.VoteCast(requestId), 0, "latest")).map((e) => keys.findIndex((key) => key.address === e.args.operator)).sort();
  const lateVotes = async (requestId: string) => (await world.quorum!.queryFilter(world.quorum!.filters.LateVote(requestId), 0, "latest")).length;

  it("healthy: each request is finalised by its two primaries; the standby evaluates nothing and sends nothing", async function () {
    const sentBefore = await Promise.all(keys.map((key) => world.ethers.provider.getTransactionCount(key.address)));
    const requests: string[] = [];
    for (let i = 0; i < 4; i++) requests.push((await world.request(world.patients[0]!)).requestId);
    const standbyOf = new Map<string, number>();
    for (const requestId of requests) {
      await finalised(requestId, "the primaries' quorum");
      expect(await status(requestId)).to.equal(RequestStatus.Fulfilled);
      const primaries = await primariesOf(requestId);
      expect(await votersOf(requestId)).to.deep.equal([...primaries].sort());
      const standby = [0, 1, 2].find((i) => !primaries.includes(i))!;
      standbyOf.set(requestId, standby);
      // Its turn comes STANDBY_MS after it saw the request: the request is final, so it stands down.
      await waitFor(() => jobRow(dataDir(standby), requestId)?.state === "fulfilled", "the standby stands down", 30_000);
      expect(jobRow(dataDir(standby), requestId)!.resultHash).to.equal(null);
      expect(jobRow(dataDir(standby), requestId)!.lastError).to.include("standby");
      expect(await lateVotes(requestId)).to.equal(0);
      expect(await world.fulfilmentCount(requestId)).to.equal(1);
    }
    // Votes sent: two per request, each by a primary of it; nothing by a standby.
    const sentAfter = await Promise.all(keys.map((key) => world.ethers.provider.getTransactionCount(key.address)));
    const expected = [0, 1, 2].map((i) => requests.filter((id) => standbyOf.get(id) !== i).length);
    expect(sentAfter.map((n, i) => n - sentBefore[i]!)).to.deep.equal(expected);
  });

  it("a primary SIGKILLed: its requests are finalised by the standby once its wait is over; the others by their primaries", async function () {
    await stop(1, "SIGKILL");
    // Requests until operator 1 was a primary of one (two thirds of them are its).
    const served: { requestId: string; primaries: number[]; blockNumber: number }[] = [];
    while (!served.some((r) => r.primaries.includes(1)) || served.length < 2) {
      expect(served.length, "ten requests without operator 1 as a primary").to.be.lessThan(10);
      const { requestId, blockNumber } = await world.request(world.patients[0]!);
      served.push({ requestId, primaries: await primariesOf(requestId), blockNumber });
    }
    const timestamp = async (block: number) => (await world.ethers.provider.getBlock(block))!.timestamp;
    for (const { requestId, primaries, blockNumber } of served) {
      await finalised(requestId, "finalised without operator 1");
      expect(await status(requestId)).to.equal(RequestStatus.Fulfilled);
      expect(await world.fulfilmentCount(requestId)).to.equal(1);
      if (!primaries.includes(1)) {
        expect(await votersOf(requestId)).to.deep.equal([...primaries].sort());
        continue;
      }
      const standby = [0, 1, 2].find((i) => !primaries.includes(i))!;
      expect(await votersOf(requestId)).to.deep.equal([primaries.find((i) => i !== 1)!, standby].sort());
      // The standby's vote came after its wait (block timestamps are whole seconds).
      const [standbyVote] = await world.quorum!.queryFilter(world.quorum!.filters.VoteCast(requestId, keys[standby]!.address), 0, "latest");
      expect((await timestamp(standbyVote!.blockNumber)) - (await timestamp(blockNumber))).to.be.at.least(STANDBY_MS / 1000 - 1);
      expect(operators.running.get(`op${standby}`)!.output.some((l) => l.includes("standby steps in") && l.includes(requestId))).to.equal(true);
    }
    await start(1);
  });

  it("a Byzantine primary: its vote leaves the honest primary short of k, the standby's completes it, and the disagreement is recorded", async function () {
    await stop(2, "SIGTERM");
    await start(2, { ORACLE_BYZANTINE: "flip-result" });
    let case_: { requestId: string; primaries: number[] } | undefined;
    for (let i = 0; !case_; i++) {
      expect(i, "ten requests without operator 2 as a primary").to.be.lessThan(10);
      const { requestId } = await world.request(world.patients[0]!);
      const primaries = await primariesOf(requestId);
      if (primaries.includes(2)) case_ = { requestId, primaries };
      await finalised(requestId, "finalised with the honest votes");
    }
    const { requestId } = case_;
    expect(await status(requestId)).to.equal(RequestStatus.Fulfilled);
    expect(await votersOf(requestId)).to.deep.equal([0, 1, 2]);
    const [reached] = await world.quorum!.queryFilter(world.quorum!.filters.QuorumReached(requestId), 0, "latest");
    expect(reached!.args.agreeing).to.equal(2n);
    const dissent = await world.quorum!.queryFilter(world.quorum!.filters.OperatorDisagreed(requestId), 0, "latest");
    expect(dissent.map((e) => e.args.operator)).to.deep.equal([keys[2]!.address]);
    expect(await world.fulfilmentCount(requestId)).to.equal(1);
    await stop(2, "SIGTERM");
  });
});

describe("oracle quorum: k = 1 with one operator is today's single oracle", function () {
  this.timeout(180_000);
  let world: World;
  before(async function () {
    world = await createWorld({ patients: 1, quorum: { n: 1, k: 1 } });
  });
  after(async function () {
    await world?.close();
  });

  it("the daemon fulfils through the quorum unchanged: one vote, fulfilled, counted as finalised", async function () {
    const settings = world.settings({ PRIVATE_KEY: world.oracleKeys[0]!.privateKey, START_BLOCK: (await world.ethers.provider.getBlockNumber()) + 1 });
    const child = spawnOracle(settings);
    try {
      await waitFor(() => child.output.some((l) => l.includes("oracle started")) || (child.process.exitCode !== null && "exited"), "start", 60_000);
      expect(child.text()).to.include("the operator is an OracleQuorum");
      const { requestId } = await world.request(world.patients[0]!);
      await waitFor(async () => Number((await world.status(requestId)).status) !== RequestStatus.Pending, "fulfilment", 60_000);
      expect(Number((await world.status(requestId)).status)).to.equal(RequestStatus.Fulfilled);
      expect(await world.fulfilmentCount(requestId)).to.equal(1);
      await waitFor(() => jobRow(settings.DATA_DIR, requestId)?.state === "fulfilled", "job fulfilled");
      const opsUrl = (JSON.parse(child.output.find((l) => l.includes("ops server listening"))!) as { url: string }).url;
      const metrics = await (await fetch(`${opsUrl}/metrics`)).text();
      expect(metrics).to.match(/oracle_quorum_votes_total\{outcome="finalised"\} 1\b/);
    } finally {
      child.process.kill("SIGTERM");
      expect((await child.exited).code, child.text().slice(-2000)).to.equal(0);
    }
  });
});
