import { expect } from "chai";

import { startOracle, type OracleHandle } from "../../oracle/daemon.js";
import { jobState, readJobs } from "./helpers/inspect.js";
import { createWorld, logSink, waitFor, type World } from "./helpers/world.js";

const Status = { Pending: 1n, Fulfilled: 2n };

/**
 * Reorgs on a chain that really replaces blocks (Foundry's anvil: `anvil_reorg` gives the same
 * heights new hashes and re-includes only the transactions listed; the rest are dropped).
 */
describe("oracle daemon across real reorgs (anvil)", function () {
  this.timeout(240_000);
  let world: World;
  let oracle: OracleHandle | undefined;

  before(async function () {
    world = await createWorld({ patients: 2, chain: "anvil" });
  });
  let dump: (() => string) | undefined;
  afterEach(async function () {
    if (this.currentTest?.state === "failed" && process.env.DUMP_LOGS && dump) console.log(dump().split("\n").slice(-80).join("\n"));
    world.rpc.delay = undefined;
    await oracle?.stop();
    oracle = undefined;
  });
  after(async function () {
    await world?.close();
  });

  const anvil = () => world.anvil!;
  const head = async () => Number(await anvil().rpc<string>("eth_blockNumber"));
  const accountNonce = async (tag: "latest" | "pending") => Number(await anvil().rpc<string>("eth_getTransactionCount", [world.oracleKey.address, tag]));
  const fulfilled = (requestId: string) => waitFor(async () => ((await world.status(requestId)).status === Status.Fulfilled ? true : undefined), `request ${requestId} fulfilled on-chain`, 90_000);

  async function start(overrides: Parameters<World["settings"]>[0] = {}) {
    const settings = world.settings({ START_BLOCK: (await head()) + 1, ...overrides });
    const logs = logSink();
    oracle = await startOracle({ settings, logDestination: logs.stream });
    dump = logs.text;
    return { settings, logs };
  }

  /** Raw bytes of the transactions of blocks from..to, in order (to re-include them). */
  async function rawTransactionsOf(from: number, to: number): Promise<{ raw: string; from: string; block: number }[]> {
    const out: { raw: string; from: string; block: number }[] = [];
    for (let n = from; n <= to; n++) {
      const block = await anvil().rpc<{ transactions: { hash: string; from: string }[] }>("eth_getBlockByNumber", [`0x${n.toString(16)}`, true]);
      for (const tx of block.transactions) out.push({ raw: await anvil().rpc<string>("eth_getRawTransactionByHash", [tx.hash]), from: tx.from, block: n });
    }
    return out;
  }

  it("leaves no nonce gap after a reorg drops its mined fulfilments, even when the re-sent jobs go before the monitor", async function () {
    const { settings, logs } = await start();
    const first = await head();
    const requests: Awaited<ReturnType<World["request"]>>[] = [];
    for (const patient of world.patients) requests.push(await world.request(patient));
    for (const r of requests) await fulfilled(r.requestId);
    await waitFor(() => requests.every((r) => jobState(settings.DATA_DIR, r.requestId) === "fulfilled"), "jobs fulfilled in the store");
    const before = await accountNonce("latest");
    expect(before).to.be.greaterThanOrEqual(2);

    // Slow down the monitor (it alone reads the balance) so the restarted jobs are re-sent first:
    // the order that left the gap.
    world.rpc.delay = (method) => (method === "eth_getBalance" ? 2_500 : undefined);
    const top = await head();
    const oracleAddress = world.oracleKey.address.toLowerCase();
    // Keep every transaction but ours (the requests survive, the fulfilments are dropped).
    const kept = (await rawTransactionsOf(first + 1, top)).filter((t) => t.from.toLowerCase() !== oracleAddress);
    await anvil().reorg(top - first, kept.map((t, i) => [t.raw, Math.min(i, top - first - 1)]));
    expect(await accountNonce("latest")).to.be.lessThan(before);

    for (const r of requests) await fulfilled(r.requestId);
    // Once more after the reorg: new requests still go through (no gap below them).
    const after = await world.request(world.patients[0]!);
    await fulfilled(after.requestId);
    world.rpc.delay = undefined;
    for (const r of [...requests, after]) expect(await world.fulfilmentCount(r.requestId)).to.equal(1);
    await waitFor(async () => (await accountNonce("latest")) === (await accountNonce("pending")) ? true : undefined, "no transaction of ours left pending");
    await waitFor(() => [...requests, after].every((r) => jobState(settings.DATA_DIR, r.requestId) === "fulfilled"), "the store agrees with the chain");
    expect(logs.text()).not.to.include("stuck at the fee ceiling");
  });

  it("re-sends a fulfilment that a depth-1 reorg dropped while the request's block stayed", async function () {
    const { settings } = await start();
    const { requestId } = await world.request(world.patients[1]!);
    await fulfilled(requestId);
    await waitFor(() => jobState(settings.DATA_DIR, requestId) === "fulfilled", "job fulfilled in the store");
    // The fulfilment's block (the head: anvil mines a block per transaction) is replaced by an empty one.
    await anvil().reorg(1, []);
    expect((await world.status(requestId)).status).to.equal(Status.Pending);
    await fulfilled(requestId);
    expect(await world.fulfilmentCount(requestId)).to.equal(1);
    await waitFor(() => jobState(settings.DATA_DIR, requestId) === "fulfilled", "job fulfilled again in the store");
    expect(readJobs(settings.DATA_DIR).filter((j) => j.requestId === requestId)).to.have.length(1);
  });
});
