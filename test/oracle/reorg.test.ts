import { expect } from "chai";

import { sha256Hex } from "../../core/hash.js";
import { encodeReading } from "../../fhe/encoding.js";
import { scores } from "../../models/logistic.js";
import { startOracle, type OracleHandle } from "../../oracle/daemon.js";
import { jobState, readJobs } from "./helpers/inspect.js";
import { createWorld, logSink, READINGS, waitFor, type World } from "./helpers/world.js";

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

  it("never re-sends fulfilment bytes signed for a request whose content a reorg changed: each request gets the result of its own input", async function () {
    const [alice, bob] = world.patients as [World["patients"][0], World["patients"][0]];
    const model = world.artifacts.find((m) => m.id === "maternal-risk-v1")!;
    const readings = { alice: READINGS["maternal-risk-v1"], bob: { ...READINGS["maternal-risk-v1"], age: 22, systolicBP: 110, bloodGlucose: 6 } };
    const inputs = { alice: alice.fhe.encrypt(model, readings.alice), bob: bob.fhe.encrypt(model, readings.bob) };
    const first = await head();
    const a = await world.request(alice, "maternal-risk-v1", inputs.alice, { gasLimit: 1_000_000 });
    const b = await world.request(bob, "maternal-risk-v1", inputs.bob, { gasLimit: 1_000_000 });
    const requestTxs = await rawTransactionsOf(first + 1, await head());
    expect(requestTxs).to.have.length(2);

    // Fulfilments wait in the pool (no mining) when the two request blocks are replaced with the
    // requests in the other order; the pool is then emptied (the fulfilments were dropped). With
    // Chainlink's counter ids each id then named the other patient's request; the router's ids
    // are derived from the request's content, so each keeps naming its own (checked below), and
    // the daemon must still give each request the result of its own input, once.
    const latest = await accountNonce("latest");
    await anvil().rpc("evm_setAutomine", [false]);
    let settings: Awaited<ReturnType<typeof start>>["settings"];
    try {
      ({ settings } = await start({ START_BLOCK: first + 1 }));
      await waitFor(async () => ((await accountNonce("pending")) === latest + 2 ? true : undefined), "both fulfilments in the pool");
      await anvil().reorg(2, [[requestTxs[1]!.raw, 0], [requestTxs[0]!.raw, 1]]);
      await anvil().rpc("anvil_dropAllTransactions");
      const swapped = await world.status(a.requestId);
      expect(swapped.patient, "content-bound ids survive the re-ordering").to.equal(alice.address);
      // Long enough for a stuck transaction to be re-sent (TX_STUCK_AFTER_MS is 1.5 s here).
      await new Promise((r) => setTimeout(r, 4_000));
    } finally {
      await anvil().rpc("evm_setAutomine", [true]);
      await anvil().rpc("evm_mine");
    }
    for (const requestId of [a.requestId, b.requestId]) {
      await fulfilled(requestId);
      const request = await world.status(requestId);
      const [owner, input, reading] = request.patient === alice.address ? [alice, inputs.alice, readings.alice] : [bob, inputs.bob, readings.bob];
      expect(request.inputHash).to.equal(sha256Hex(input));
      const result = await owner.gateway.get(request.resultHash, { purpose: 0 });
      const [prediction] = owner.fhe.decrypt(model, result, { inputHash: sha256Hex(input) });
      const plain = scores(model.weights, encodeReading(model.encodingSpec, reading));
      prediction!.scores.forEach((s, i) => expect(Math.abs(s - plain[i]!)).to.be.lessThan(1e-3));
      expect(await world.fulfilmentCount(requestId)).to.equal(1);
    }
    await waitFor(() => [a, b].every((r) => jobState(settings.DATA_DIR, r.requestId) === "fulfilled"), "the store agrees with the chain");
  });

  it("replaces the transaction of a request a reorg dropped with a self-transfer, never re-sending it (no reverted transaction, no gap)", async function () {
    const [alice, bob] = world.patients as [World["patients"][0], World["patients"][0]];
    const first = await head();
    const kept = await world.request(bob, "maternal-risk-v1", undefined, { gasLimit: 1_000_000 });
    const dropped = await world.request(alice, "maternal-risk-v1", undefined, { gasLimit: 1_000_000 });
    const latest = await accountNonce("latest");
    await anvil().rpc("evm_setAutomine", [false]);
    let logs: ReturnType<typeof logSink> | undefined;
    try {
      ({ logs } = await start({ START_BLOCK: first + 1 }));
      await waitFor(async () => ((await accountNonce("pending")) === latest + 2 ? true : undefined), "both fulfilments in the pool");
      // The second request's block goes, with nothing re-included; the pool is emptied.
      await anvil().reorg(1, []);
      await anvil().rpc("anvil_dropAllTransactions");
      expect((await world.status(dropped.requestId)).status).to.equal(0n);
      await new Promise((r) => setTimeout(r, 4_000));
    } finally {
      await anvil().rpc("evm_setAutomine", [true]);
      await anvil().rpc("evm_mine");
    }
    await fulfilled(kept.requestId);
    await waitFor(async () => ((await accountNonce("latest")) === latest + 2 && (await accountNonce("pending")) === latest + 2 ? true : undefined), "both nonces used, nothing pending");
    expect(await world.fulfilmentCount(kept.requestId)).to.equal(1);
    expect(await world.fulfilmentCount(dropped.requestId)).to.equal(0);
    // Every transaction of ours on the final chain succeeded: nothing was sent for the dropped request.
    const oracleAddress = world.oracleKey.address.toLowerCase();
    for (let n = first + 1; n <= (await head()); n++) {
      const block = await anvil().rpc<{ transactions: { hash: string; from: string }[] }>("eth_getBlockByNumber", [`0x${n.toString(16)}`, true]);
      for (const tx of block.transactions.filter((t) => t.from.toLowerCase() === oracleAddress)) {
        expect((await anvil().rpc<{ status: string }>("eth_getTransactionReceipt", [tx.hash])).status, `oracle tx ${tx.hash}`).to.equal("0x1");
      }
    }
    expect(logs!.text()).to.include("filling nonce gaps");
  });
});
