import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";

import { expect } from "chai";

import { spawnOracle } from "./helpers/child.js";
import { createWorld, waitFor, type World } from "./helpers/world.js";

const Status = { Pending: 1n, Fulfilled: 2n };
const POINTS = ["after:seen", "after:confirmed", "after:fetched", "after:verified", "after:evaluated", "after:stored", "after:recorded", "after:submitted", "after:fulfilled"];

function jobState(dataDir: string, requestId: string): string | undefined {
  const db = new DatabaseSync(join(dataDir, "oracle.db"), { readOnly: true });
  try {
    return db.prepare("SELECT state FROM jobs WHERE request_id = ?").get(requestId)?.state as string | undefined;
  } finally {
    db.close();
  }
}

describe("oracle daemon killed (SIGKILL after each pipeline step, SIGTERM mid-job), then restarted", function () {
  this.timeout(300_000);
  let world: World;

  before(async function () {
    world = await createWorld({ patients: 1 });
  });
  after(async function () {
    await world?.close();
  });

  for (const point of POINTS) {
    it(`${point}: exactly one fulfilment after the restart, nothing lost`, async function () {
      const settings = world.settings({ START_BLOCK: await world.ethers.provider.getBlockNumber() + 1 });
      const first = spawnOracle(settings, { ORACLE_FAILPOINT: point });
      // The daemon must be following the chain before the request is made.
      await waitFor(() => first.output.some((l) => l.includes("oracle started")) || (first.process.exitCode !== null && "exited"), "start");
      const { requestId } = await world.request(world.patients[0]!);
      const { signal } = await first.exited;
      expect(signal, first.text().slice(-2000)).to.equal("SIGKILL");
      const stateAtDeath = jobState(settings.DATA_DIR, requestId);
      expect(stateAtDeath).to.equal(point === "after:recorded" ? "submitted" : point.slice("after:".length));

      const second = spawnOracle(settings);
      let failure: unknown;
      try {
        await waitFor(async () => ((await world.status(requestId)).status !== Status.Pending ? true : undefined), "fulfilment after restart", 60_000);
        expect((await world.status(requestId)).status).to.equal(Status.Fulfilled);
        await waitFor(() => jobState(settings.DATA_DIR, requestId) === "fulfilled", "job store catches up", 30_000);
        expect(await world.fulfilmentCount(requestId)).to.equal(1);
      } catch (error) {
        failure = error;
      }
      // Stop the restarted daemon whatever happened, and report the first failure with its output.
      const started = await waitFor(() => second.output.some((l) => l.includes("oracle started")) || (second.process.exitCode !== null && "exited"), "second start")
        .then((outcome) => outcome === true, () => false);
      second.process.kill("SIGTERM");
      const exit = await second.exited;
      if (failure) throw new Error(`${(failure as Error).message}\n--- restarted daemon ---\n${second.text().slice(-3000)}`, { cause: failure });
      expect(started, second.text().slice(-2000)).to.equal(true);
      expect(exit.code, second.text().slice(-2000)).to.equal(0);
    });
  }

  it("SIGTERM mid-job: the step in hand finishes or is parked, the process exits 0, and the restart fulfils once", async function () {
    const settings = world.settings({ START_BLOCK: await world.ethers.provider.getBlockNumber() + 1 });
    // The evaluation step is held for 3 s, so SIGTERM arrives with the job in hand.
    const first = spawnOracle(settings, { ORACLE_FAILPOINT: "after:verified=pause:3000" });
    await waitFor(() => first.output.some((l) => l.includes("oracle started")), "start");
    const { requestId } = await world.request(world.patients[0]!);
    await waitFor(() => jobState(settings.DATA_DIR, requestId) === "verified", "job in hand");
    first.process.kill("SIGTERM");
    const exit = await first.exited;
    expect(exit.code, first.text().slice(-2000)).to.equal(0);
    expect(first.text()).to.include("oracle stopped");
    expect((await world.status(requestId)).status).to.equal(Status.Pending);

    const second = spawnOracle(settings);
    try {
      await waitFor(async () => ((await world.status(requestId)).status !== Status.Pending ? true : undefined), "fulfilment after restart", 60_000);
      expect((await world.status(requestId)).status).to.equal(Status.Fulfilled);
      expect(await world.fulfilmentCount(requestId)).to.equal(1);
    } finally {
      await waitFor(() => second.output.some((l) => l.includes("oracle started")), "second start");
      second.process.kill("SIGTERM");
      expect((await second.exited).code).to.equal(0);
    }
  });
});
