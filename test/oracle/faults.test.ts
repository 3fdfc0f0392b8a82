import { expect } from "chai";
import { AbiCoder, encodeBytes32String, Wallet } from "ethers";

import { sha256Hex } from "../../core/hash.js";
import { ForbiddenError, ReplayedRequestError } from "../../gateway/errors.js";
import { startOracle, type OracleHandle } from "../../oracle/daemon.js";
import { createGatewayClient } from "../../sdk/gateway/client.js";
import { cursorOf, jobState, readJobs, rewindCursor } from "./helpers/inspect.js";
import { createWorld, logSink, waitFor, type World } from "./helpers/world.js";

const Status = { Pending: 1n, Fulfilled: 2n, Failed: 3n, Cancelled: 5n };

describe("oracle daemon under faults (real chain, real gateway, loopback RPC proxy)", function () {
  this.timeout(180_000);
  let world: World;
  let oracle: OracleHandle | undefined;

  before(async function () {
    world = await createWorld({ patients: 2 });
  });
  afterEach(async function () {
    if (this.currentTest?.state === "failed" && process.env.DUMP_LOGS && this.currentTest.ctx?.dumpLogs) console.log((this.currentTest.ctx.dumpLogs as () => string)().split("\n").slice(-60).join("\n"));
    world.rpc.rewrite = undefined;
    world.rpc.fail = undefined;
    world.interceptor.beforeRead = undefined;
    world.interceptor.beforeWrite = undefined;
    await world.rpc.setMode("ok");
    await oracle?.stop();
    oracle = undefined;
  });
  after(async function () {
    await world?.close();
  });

  const head = () => world.ethers.provider.getBlockNumber();
  const settled = (requestId: string) => waitFor(async () => {
    const r = await world.status(requestId);
    return r.status === Status.Pending ? undefined : r;
  }, `request ${requestId} settled`, 60_000);

  async function start(overrides: Parameters<World["settings"]>[0] = {}) {
    const settings = world.settings({ START_BLOCK: (await head()) + 1, ...overrides });
    const logs = logSink();
    oracle = await startOracle({ settings, logDestination: logs.stream });
    return { settings, logs, oracle };
  }

  it("ignores the same log delivered twice and out of order, also replayed after a restart", async function () {
    world.rpc.rewrite = (method, _params, result) => (method === "eth_getLogs" && Array.isArray(result) ? [...result].reverse().concat(result) : result);
    const { settings } = await start();
    const { requestId } = await world.request(world.patients[0]!);
    expect((await settled(requestId)).status).to.equal(Status.Fulfilled);
    await waitFor(() => jobState(settings.DATA_DIR, requestId) === "fulfilled", "job fulfilled in the store");
    const metrics = await (await fetch(`${oracle!.url}/metrics`)).text();
    expect(Number(/oracle_duplicate_logs_total (\d+)/.exec(metrics)?.[1])).to.be.greaterThan(0);
    await oracle!.stop();

    // A replay: the persisted cursor is rewound, so every old log comes again.
    rewindCursor(settings.DATA_DIR, settings.START_BLOCK - 1);
    const target = await head();
    oracle = await startOracle({ settings, logDestination: logSink().stream });
    await waitFor(() => (cursorOf(settings.DATA_DIR) ?? 0) >= target, "cursor back at the head");
    await new Promise((r) => setTimeout(r, 300));
    expect(readJobs(settings.DATA_DIR).filter((j) => j.requestId === requestId)).to.have.length(1);
    expect(jobState(settings.DATA_DIR, requestId)).to.equal("fulfilled");
    expect(await world.fulfilmentCount(requestId)).to.equal(1);
  });

  it("narrows its eth_getLogs ranges when the provider refuses wide ones", async function () {
    // A provider that serves at most 3 blocks per eth_getLogs.
    world.rpc.fail = (method, params) => {
      if (method !== "eth_getLogs") return undefined;
      const filter = params[0] as { fromBlock: string; toBlock: string };
      return Number(filter.toBlock) - Number(filter.fromBlock) + 1 > 3 ? { code: -32005, message: "query exceeds max block range 3" } : undefined;
    };
    const startBlock = Math.max(0, (await head()) - 20);
    const { requestId } = await world.request(world.patients[0]!);
    const { logs } = await start({ START_BLOCK: startBlock, MAX_BLOCK_RANGE: 50 });
    expect((await settled(requestId)).status).to.equal(Status.Fulfilled);
    expect(await world.fulfilmentCount(requestId)).to.equal(1);
    expect(logs.text()).to.include("narrowing it");
  });

  it("waits for N confirmations, forgets a request whose block was dropped by a reorg, and serves it once re-included", async function () {
    const { settings } = await start({ CONFIRMATIONS: 3 });
    const snapshot = await world.provider.request({ method: "evm_snapshot", params: [] });
    const { requestId, blockNumber, input } = await world.request(world.patients[0]!);
    await waitFor(() => jobState(settings.DATA_DIR, requestId) === "seen", "request seen");
    await waitFor(() => (cursorOf(settings.DATA_DIR) ?? 0) >= blockNumber, "cursor at the request block");
    // Fewer than 3 confirmations: nothing happens.
    expect(jobState(settings.DATA_DIR, requestId)).to.equal("seen");
    expect((await world.status(requestId)).status).to.equal(Status.Pending);

    // The request's block is dropped; the new branch is longer and does not contain it.
    await world.provider.request({ method: "evm_revert", params: [snapshot] });
    await world.networkHelpers.mine(3);
    await waitFor(() => jobState(settings.DATA_DIR, requestId) === undefined, "job forgotten after the reorg");
    expect(await world.fulfilmentCount(requestId)).to.equal(0);

    // The same request is included again (same requestId: the id derives from the request's
    // content and the patient's request count, which was reverted too).
    const again = await world.request(world.patients[0]!, "maternal-risk-v1", input);
    expect(again.requestId).to.equal(requestId);
    await waitFor(() => jobState(settings.DATA_DIR, requestId) === "seen", "request seen again");
    await world.networkHelpers.mine(2);
    expect((await settled(requestId)).status).to.equal(Status.Fulfilled);
    expect(await world.fulfilmentCount(requestId)).to.equal(1);
    const metrics = await (await fetch(`${oracle!.url}/metrics`)).text();
    expect(Number(/oracle_reorgs_total (\d+)/.exec(metrics)?.[1])).to.be.greaterThan(0);
  });

  it("serves a request again when a reorg deeper than N dropped both the request and its fulfilment", async function () {
    const { settings, logs } = await start();
    this.test!.ctx!.dumpLogs = () => logs.text();
    const snapshot = await world.provider.request({ method: "evm_snapshot", params: [] });
    const { requestId, input } = await world.request(world.patients[0]!);
    expect((await settled(requestId)).status).to.equal(Status.Fulfilled);
    await waitFor(() => jobState(settings.DATA_DIR, requestId) === "fulfilled", "fulfilled in the store");

    await world.provider.request({ method: "evm_revert", params: [snapshot] });
    await world.networkHelpers.mine(3);
    expect((await world.status(requestId)).status).to.equal(0n); // gone with the dropped branch
    const again = await world.request(world.patients[0]!, "maternal-risk-v1", input);
    expect(again.requestId).to.equal(requestId);
    expect((await settled(requestId)).status).to.equal(Status.Fulfilled);
    expect(await world.fulfilmentCount(requestId)).to.equal(1);
    await waitFor(() => jobState(settings.DATA_DIR, requestId) === "fulfilled", "fulfilled again in the store");
  });

  it("rides out refused connections, timeouts, resets and HTTP 500s from the RPC, still serving", async function () {
    await start();
    await world.rpc.setMode("refuse");
    const { requestId } = await world.request(world.patients[0]!);
    for (const mode of ["refuse", "timeout", "reset", "http500"] as const) {
      await world.rpc.setMode(mode);
      await new Promise((r) => setTimeout(r, mode === "timeout" ? 2_500 : 600));
      expect((await fetch(`${oracle!.url}/healthz`)).status).to.equal(200);
      expect((await world.status(requestId)).status).to.equal(Status.Pending);
    }
    await world.rpc.setMode("ok");
    expect((await settled(requestId)).status).to.equal(Status.Fulfilled);
    expect(await world.fulfilmentCount(requestId)).to.equal(1);
  });

  it("alerts (log + metric) when the account's balance is below the minimum, and keeps serving", async function () {
    const { logs } = await start({ MIN_BALANCE_WEI: (10n ** 30n).toString() });
    await waitFor(async () => /^oracle_balance_low 1$/m.test(await (await fetch(`${oracle!.url}/metrics`)).text()), "low-balance metric");
    expect(logs.text()).to.include("oracle balance is low");
    const { requestId } = await world.request(world.patients[0]!);
    expect((await settled(requestId)).status).to.equal(Status.Fulfilled);
  });

  it("does not send for a request already settled on-chain, and the store says what the chain says", async function () {
    const startBlock = (await head()) + 1;
    const { requestId } = await world.request(world.patients[0]!);
    const [log] = await world.suite.operator.queryFilter(world.suite.operator.filters.OracleRequest(), startBlock, "latest");
    const args = log!.args;
    const data = AbiCoder.defaultAbiCoder().encode(["bytes32", "uint16", "bytes32", "string", "bytes"], [requestId, 999, "0x" + "00".repeat(32), "", "0x"]);
    const sender = new Wallet(world.oracleKey.privateKey, world.ethers.provider);
    await (await world.suite.operator.connect(sender).fulfillOracleRequest2(requestId, args.payment, args.callbackAddr, args.callbackFunctionId, args.cancelExpiration, data, { gasLimit: 700_000 })).wait();
    expect((await world.status(requestId)).status).to.equal(Status.Failed);

    const { settings } = await start({ START_BLOCK: startBlock });
    await waitFor(() => jobState(settings.DATA_DIR, requestId) === "failed", "job failed, as on-chain");
    expect(await world.fulfilmentCount(requestId)).to.equal(1);
  });

  it("reports every kind of bad input on-chain with its reason code and carries on", async function () {
    const [alice] = world.patients as [World["patients"][0]];
    const maternal = world.artifacts.find((m) => m.id === "maternal-risk-v1")!;
    const heart = world.artifacts.find((m) => m.id === "heart-disease-lr-v1")!;
    const good = alice.fhe.encrypt(maternal, { age: 30, systolicBP: 120, diastolicBP: 80, bloodGlucose: 7, bodyTemp: 98, heartRate: 70 });
    const wrongParamSet = Uint8Array.from(good);
    wrongParamSet.fill(0, 8, 40);
    wrongParamSet.set(new TextEncoder().encode("ckks-8192-v1"), 8);
    const otherModel = alice.fhe.encrypt(heart, { age: 50, sex: 0, cp: 2, trestbps: 130, chol: 250, fbs: 0, restecg: 0, thalach: 160, exang: 0, oldpeak: 1, slope: 1, ca: 0, thal: 3 });

    // A patient whose evaluation keys were never uploaded.
    const [, , , , , noKeysSigner] = await world.ethers.getSigners();
    await (await world.suite.identity.connect(noKeysSigner!).registerPatient("0x" + "ab".repeat(32), encodeBytes32String("ckks-2048-v1"), "nowhere", "0x" + "cd".repeat(32))).wait();
    // A model registered on-chain for which this oracle has no artifact.
    await (await world.suite.models.registerModel({
      name: "mystery-model", version: "1", weightsHash: "0x" + "11".repeat(32), weightsUri: "none", paramSetId: encodeBytes32String("ckks-2048-v1"),
      encodingSpecHash: "0x" + "22".repeat(32), outputKind: 1, isPrivate: false,
    })).wait();
    const mysteryId = await world.suite.models.modelIdOf("mystery-model", "1");
    // A model retired between the request and its processing.
    await (await world.suite.models.registerModel({
      name: maternal.id, version: "retire-me", weightsHash: maternal.weightsHash, weightsUri: "none", paramSetId: encodeBytes32String("ckks-2048-v1"),
      encodingSpecHash: maternal.encodingSpecHash, outputKind: 2, isPrivate: false,
    })).wait();
    const retiredId = await world.suite.models.modelIdOf(maternal.id, "retire-me");

    const router = world.suite.router;
    const noKeysGateway = createGatewayClient({ url: world.gatewayUrl, signer: noKeysSigner as never, chainId: world.chainId, gatewayAddress: world.gatewayKey.address });
    const noKeysInput = alice.fhe.encrypt(maternal, { age: 31, systolicBP: 120, diastolicBP: 80, bloodGlucose: 7, bodyTemp: 98, heartRate: 70 });
    await noKeysGateway.put(noKeysInput, { owner: await noKeysSigner!.getAddress(), kind: "he-input", category: 7 });
    const requestFor = async (signer: typeof noKeysSigner, patient: string, modelId: bigint | number, inputHash: string) => {
      const receipt = (await (await router.connect(signer!).requestPrediction(patient, modelId, inputHash, "uri")).wait())!;
      const parsed = receipt.logs.map((l) => { try { return router.interface.parseLog(l); } catch { return null; } }).find((p) => p?.name === "PredictionRequested");
      return parsed!.args.requestId as string;
    };
    const { sha256Hex } = await import("../../core/hash.js");
    const startBlock = (await head()) + 1;
    const cases: [string, string, number][] = [
      ["missing input", await requestFor(alice.signer as never, alice.address, world.modelIds["maternal-risk-v1"]!, "0x" + "ee".repeat(32)), 1],
      ["garbage ciphertext", (await world.requestRaw(alice, new TextEncoder().encode("not a ciphertext at all, just words"))).requestId, 7],
      ["wrong parameter set", (await world.requestRaw(alice, wrongParamSet)).requestId, 6],
      ["input for another model", (await world.requestRaw(alice, otherModel)).requestId, 7],
      ["missing evaluation keys", await requestFor(noKeysSigner, await noKeysSigner!.getAddress(), world.modelIds["maternal-risk-v1"]!, sha256Hex(noKeysInput)), 3],
      ["model without artifact", await requestFor(alice.signer as never, alice.address, mysteryId, sha256Hex(good)), 5],
      ["model retired meanwhile", await requestFor(alice.signer as never, alice.address, retiredId, sha256Hex(good)), 5],
    ];
    await alice.gateway.put(good, { owner: alice.address, kind: "he-input", category: 7 });
    await (await world.suite.models.retireModel(retiredId)).wait();

    await start({ START_BLOCK: startBlock });
    for (const [what, requestId, code] of cases) {
      const r = await settled(requestId);
      expect(r.status, what).to.equal(Status.Failed);
      expect(Number(r.failureCode), what).to.equal(code);
      expect(await world.fulfilmentCount(requestId), what).to.equal(1);
    }
    // And the daemon carries on.
    const { requestId } = await world.request(alice);
    expect((await settled(requestId)).status).to.equal(Status.Fulfilled);
  });

  it("respects consent revoked between the request and its fulfilment (the router refuses the result)", async function () {
    const [alice] = world.patients as [World["patients"][0]];
    const signers = await world.ethers.getSigners();
    const clinician = signers[9]!;
    await (await world.suite.identity.grantRole(await world.suite.identity.PROVIDER_ROLE(), clinician.address)).wait();
    const now = (await world.ethers.provider.getBlock("latest"))!.timestamp;
    await (await world.suite.consent.connect(alice.signer).grantConsent(clinician.address, 4, 1 << 7, now, now + 86_400)).wait();
    const maternal = world.artifacts.find((m) => m.id === "maternal-risk-v1")!;
    const input = alice.fhe.encrypt(maternal, { age: 28, systolicBP: 118, diastolicBP: 76, bloodGlucose: 6.5, bodyTemp: 98, heartRate: 72 });
    await alice.gateway.put(input, { owner: alice.address, kind: "he-input", category: 7 });
    const { sha256Hex } = await import("../../core/hash.js");
    const startBlock = (await head()) + 1;
    const receipt = (await (await world.suite.router.connect(clinician).requestPrediction(alice.address, world.modelIds["maternal-risk-v1"]!, sha256Hex(input), "uri")).wait())!;
    const requestId = receipt.logs.map((l) => { try { return world.suite.router.interface.parseLog(l); } catch { return null; } }).find((p) => p?.name === "PredictionRequested")!.args.requestId as string;
    await (await world.suite.consent.connect(alice.signer).revokeConsent(clinician.address, 4)).wait();

    await start({ START_BLOCK: startBlock });
    const r = await settled(requestId);
    expect(r.status).to.equal(4n); // Refused
    expect(Number(r.failureCode)).to.equal(1000); // CONSENT_REVOKED
    expect(r.resultHash).to.equal("0x" + "00".repeat(32));
    expect(await world.fulfilmentCount(requestId)).to.equal(1);
  });

  it("resynchronises when another sender used the oracle key, also taking the nonce of a pending fulfilment", async function () {
    const { settings, logs } = await start();
    const other = new Wallet(world.oracleKey.privateKey, world.ethers.provider);
    for (let i = 0; i < 3; i++) await (await other.sendTransaction({ to: other.address, value: 0 })).wait();
    const first = await world.request(world.patients[0]!);
    expect((await settled(first.requestId)).status).to.equal(Status.Fulfilled);

    // Now the other sender replaces our pending fulfilment at its nonce.
    await world.provider.request({ method: "evm_setAutomine", params: [false] });
    try {
      const tx = await world.suite.router.connect(world.patients[1]!.signer).requestPrediction(world.patients[1]!.address, world.modelIds["maternal-risk-v1"]!, "0x" + "00".repeat(31) + "01", "u");
      await world.networkHelpers.mine(1);
      const receipt = (await tx.wait())!;
      const requestId = receipt.logs.map((l) => { try { return world.suite.router.interface.parseLog(l); } catch { return null; } }).find((p) => p?.name === "PredictionRequested")!.args.requestId as string;
      await waitFor(() => jobState(settings.DATA_DIR, requestId) === "submitted", "fulfilment pending");
      const nonce = await world.ethers.provider.getTransactionCount(other.address, "latest");
      await other.sendTransaction({ to: other.address, value: 0, nonce, maxFeePerGas: 10n ** 12n, maxPriorityFeePerGas: 10n ** 11n });
      await world.networkHelpers.mine(1);
      await world.provider.request({ method: "evm_setAutomine", params: [true] });
      await waitFor(async () => {
        await world.networkHelpers.mine(1);
        return (await world.status(requestId)).status !== Status.Pending;
      }, "settled after the resync");
      expect((await world.status(requestId)).status).to.equal(Status.Failed); // its input was never uploaded
      expect(await world.fulfilmentCount(requestId)).to.equal(1);
      expect(logs.text()).to.include("nonce was used by another transaction");
    } finally {
      await world.provider.request({ method: "evm_setAutomine", params: [true] });
    }
  });

  it("does not sign again a nonce an earlier batch used when a batch's simulation answers late (its account nonce is stale)", async function () {
    // Two fulfilment batches in flight (one job each). Both read the account nonce n with their
    // simulations; the second's simulation is held at the RPC for 1.2 s (once; the world's RPC
    // timeout is 2 s), in which the first batch is sent at n, mined, and marked mined by the
    // monitor. The second must then take n + 1.
    const { settings, logs } = await start({ MAX_TX_BATCH: 1 });
    this.test!.ctx!.dumpLogs = () => logs.text();
    // Both results reach the gateway before either is let through: both jobs are stored at once
    // and go into one submit round, as under load.
    let arrived = 0;
    let release!: () => void;
    const bothArrived = new Promise<void>((resolve) => (release = resolve));
    world.interceptor.beforeWrite = async (access) => {
      if (access.kind !== "he-result") return;
      if (++arrived === 2) release();
      await bothArrived;
    };
    const simulated = new Set<string>();
    let held: string | undefined;
    world.rpc.delay = (method, params) => {
      if (method !== "eth_call" || held !== undefined) return undefined;
      const data = String((params[0] as { data?: string }).data ?? "");
      if (!data.startsWith(world.suite.operator.interface.getFunction("fulfillOracleRequest2")!.selector)) return undefined;
      simulated.add(data);
      if (simulated.size < 2) return undefined;
      held = data;
      return 1_200;
    };
    try {
      const requests = await Promise.all([world.request(world.patients[0]!), world.request(world.patients[1]!)]);
      for (const r of requests) expect((await settled(r.requestId)).status).to.equal(Status.Fulfilled);
      expect(held, "the second batch's simulation was held").to.not.equal(undefined);
      for (const r of requests) expect(await world.fulfilmentCount(r.requestId)).to.equal(1);
      await waitFor(() => requests.every((r) => jobState(settings.DATA_DIR, r.requestId) === "fulfilled"), "jobs fulfilled in the store");
      expect(logs.text()).to.not.include("nonce too low").and.not.include("nonce went back").and.not.include("used by another transaction");
    } finally {
      world.rpc.delay = undefined;
    }
  });

  it("replaces a fulfilment stuck behind a gas-price spike at the same nonce", async function () {
    const { settings } = await start({ MAX_FEE_PER_GAS_GWEI: 5_000, TX_STUCK_AFTER_MS: 500 });
    await world.provider.request({ method: "evm_setAutomine", params: [false] });
    try {
      const { requestId } = await world.request(world.patients[0]!, "maternal-risk-v1", undefined, { manualMine: true });
      await waitFor(() => jobState(settings.DATA_DIR, requestId) === "submitted", "fulfilment pending");
      // The base fee jumps to 300 gwei and stays there: the pending transaction is priced out.
      await waitFor(async () => {
        await world.provider.request({ method: "hardhat_setNextBlockBaseFeePerGas", params: ["0x" + (300n * 10n ** 9n).toString(16)] });
        await world.networkHelpers.mine(1);
        await new Promise((r) => setTimeout(r, 100));
        return (await world.status(requestId)).status !== Status.Pending;
      }, "fulfilment mined after the bump");
      expect((await world.status(requestId)).status).to.equal(Status.Fulfilled);
      expect(await world.fulfilmentCount(requestId)).to.equal(1);
      const metrics = await (await fetch(`${oracle!.url}/metrics`)).text();
      expect(Number(/oracle_tx_sent_total\{kind="replacement"\} (\d+)/.exec(metrics)?.[1])).to.be.greaterThan(0);
    } finally {
      await world.provider.request({ method: "evm_setAutomine", params: [true] });
    }
  });

  it("does not take a lagging replica's null receipt for a nonce taken by someone else", async function () {
    // A replica that answers null for every receipt during the first 4 s after it is first asked
    // (the account nonce comes from an up-to-date one).
    const firstAsked = new Map<string, number>();
    world.rpc.rewrite = (method, params, result) => {
      if (method !== "eth_getTransactionReceipt") return result;
      const hash = String(params[0]);
      if (!firstAsked.has(hash)) firstAsked.set(hash, Date.now());
      return Date.now() - firstAsked.get(hash)! < 4_000 ? null : result;
    };
    const { settings, logs } = await start();
    const requests = [await world.request(world.patients[0]!), await world.request(world.patients[1]!)];
    for (const r of requests) expect((await settled(r.requestId)).status).to.equal(Status.Fulfilled);
    await waitFor(() => requests.every((r) => jobState(settings.DATA_DIR, r.requestId) === "fulfilled"), "jobs fulfilled in the store", 60_000);
    expect(logs.text()).not.to.include("nonce was used by another transaction");
    for (const r of requests) expect(await world.fulfilmentCount(r.requestId)).to.equal(1);
  });

  it("retries a 403 from the gateway on the input read instead of reporting a permanent failure", async function () {
    // The gateway judged against a stale view of the chain for a while (as right after a reorg).
    let refusals = 0;
    world.interceptor.beforeRead = (access) => {
      if (access.meta.kind === "he-input" && refusals < 3) {
        refusals++;
        throw new ForbiddenError("request not live on the gateway's view of the chain");
      }
    };
    const { settings } = await start();
    const { requestId } = await world.request(world.patients[0]!);
    expect((await settled(requestId)).status).to.equal(Status.Fulfilled);
    expect(refusals).to.equal(3);
    await waitFor(() => jobState(settings.DATA_DIR, requestId) === "fulfilled", "job fulfilled in the store");
  });

  it("reports a read the gateway still refuses after GATEWAY_REFUSAL_WINDOW_MS, for a request still pending with the same input", async function () {
    world.interceptor.beforeRead = (access) => {
      if (access.meta.kind === "he-input") throw new ForbiddenError("consent withdrawn");
    };
    await start({ GATEWAY_REFUSAL_WINDOW_MS: 1_500 });
    const { requestId } = await world.request(world.patients[0]!);
    const request = await settled(requestId);
    expect(request.status).to.equal(Status.Failed);
    expect(request.failureCode).to.equal(1n);
  });

  it("treats a result upload answered 409 (identical bytes already stored under another request) as stored", async function () {
    const patient = world.patients[1]!;
    const input = patient.fhe.encrypt(world.artifacts[0]!, { age: 30, systolicBP: 120, diastolicBP: 80, bloodGlucose: 7, bodyTemp: 98, heartRate: 70 });
    const { settings } = await start();
    // The same input twice: evaluation is deterministic, so both results are the same bytes.
    const first = await world.request(patient, "maternal-risk-v1", input);
    expect((await settled(first.requestId)).status).to.equal(Status.Fulfilled);
    const second = await world.request(patient, "maternal-risk-v1", input);
    const result = await settled(second.requestId);
    expect(result.status).to.equal(Status.Fulfilled);
    expect(result.resultHash).to.equal((await world.status(first.requestId)).resultHash);
    await waitFor(() => jobState(settings.DATA_DIR, second.requestId) === "fulfilled", "job fulfilled in the store");
    expect(sha256Hex(input)).to.equal((await world.status(second.requestId)).inputHash);
  });

  it("treats a 401 replay or a 403 on the result upload as retryable, never as a permanent failure", async function () {
    let refusals = 0;
    world.interceptor.beforeWrite = (access) => {
      if (access.kind !== "he-result" || refusals >= 2) return;
      refusals++;
      // What the gateway answers a retried request it already processed, then a stale chain view.
      if (refusals === 1) throw new ReplayedRequestError({ signer: access.signer, nonce: "0x01" });
      throw new ForbiddenError("request not live on the gateway's view of the chain");
    };
    const { settings } = await start();
    const { requestId } = await world.request(world.patients[0]!);
    expect((await settled(requestId)).status).to.equal(Status.Fulfilled);
    expect(refusals).to.equal(2);
    await waitFor(() => jobState(settings.DATA_DIR, requestId) === "fulfilled", "job fulfilled in the store");
  });

  it("records at once what the chain says when the gateway refuses a result for a request closed on-chain, not after the refusal window", async function () {
    let refusals = 0;
    world.interceptor.beforeWrite = (access) => {
      if (access.kind !== "he-result") return;
      refusals++;
      throw new ForbiddenError("request not pending");
    };
    // A window far longer than the test: only the check against the chain can settle the job.
    const { settings } = await start({ GATEWAY_REFUSAL_WINDOW_MS: 3_600_000 });
    const { requestId } = await world.request(world.patients[0]!);
    await waitFor(() => refusals > 0, "the result upload refused");
    // The request closes on-chain meanwhile (here: expired and cancelled by its patient).
    await world.networkHelpers.time.increase(3_600);
    await (await world.suite.router.connect(world.patients[0]!.signer).cancelPrediction(requestId, await world.suite.router.fee())).wait();
    await waitFor(() => jobState(settings.DATA_DIR, requestId) === "refused", "the store says what the chain says", 20_000);
    expect((await world.status(requestId)).status).to.equal(Status.Cancelled);
  });
});
