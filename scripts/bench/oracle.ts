/**
 * `npm run bench:oracle`: the oracle daemon against a local `hardhat node` with 1-second blocks
 * and one confirmation, with requests from 20 patients (each with its own CKKS key set), in two
 * phases: a burst of 200 requests (throughput), then a steady 10 requests per second for 30 s
 * (latency, request mined → fulfilment mined). Writes bench/results/oracle.json.
 *
 * Everything is real and separate: the chain is a `hardhat node` process, the oracle is its own
 * process (`node --import tsx oracle/main.ts start`, so its peak RSS is its own), so is the gateway
 * (`medcipher gateway serve`, chain access policy over JSON-RPC); the 20 patients' clients run here.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { encodeBytes32String, hexlify, randomBytes, Wallet } from "ethers";
import { network } from "hardhat";

import { sha256Hex } from "../../core/hash.js";
import { deployMedCipher, sponsorPatients } from "../../deploy/local.js";
import { modelRegistration } from "../../deploy/models.js";
import { FheClient } from "../../fhe/client.js";
import { loadModel } from "../../fhe/modelFile.js";
import { routerInterface } from "../../oracle/chain/abi.js";
import type { Settings } from "../../oracle/config/settings.js";
import { Category } from "../../protocol/codes.js";
import { createGatewayClient } from "../../sdk/gateway/client.js";
import { createNodeHttpTransport } from "../../sdk/node/transport.js";
import { startGatewayProcess } from "./gatewayProcess.js";
import { percentile, ROOT, rpc, rpcBatch, startHardhatNode, startOracleProcess, waitUntil, watchRequests } from "./harness.js";
import { cpuSecondsOf, peakRssMiB } from "./proc.js";

const PATIENTS = 20;
const BURST = 200;
const STEADY_RATE_PER_SECOND = 10;
const STEADY_SECONDS = 30;
const BLOCK_MS = 1_000;
/** A chain id of its own: Ignition journals deployments per chain id under deploy/deployments/, removed after the run. */
const BENCH_CHAIN_ID = 31_999;
const SETTLE_TIMEOUT_MS = 120_000;
/**
 * Requests served before the burst and not measured, from a patient of their own (so none of
 * the 20 measured patients' keys is cached by them): the daemon is measured running, as it is in
 * production, not in its first second, when V8 is still compiling its hot paths. BENCH_WARMUP=0
 * measures a cold start.
 */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 20);


const log = (message: string) => console.log(`[bench:oracle] ${message}`);

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "bench-oracle-"));
  // BENCH_NODE_ARGS_CHAIN adds Node flags to the `hardhat node` process.
  const chain = await startHardhatNode(BENCH_CHAIN_ID, process.env.BENCH_NODE_ARGS_CHAIN?.split(" ").filter(Boolean));
  const url = chain.url;
  log(`hardhat node on ${url}`);

  const connection = await network.connect({ network: "localhost", override: { url, chainId: BENCH_CHAIN_ID } });
  const oracleKey = Wallet.createRandom();
  const gatewayKey = Wallet.createRandom();
  const funded = "0x" + (10n ** 21n).toString(16);
  await rpc(url, "hardhat_setBalance", [oracleKey.address, funded]);
  const artifacts = [loadModel("maternal-risk-v1"), loadModel("heart-disease-lr-v1")];
  const suite = await deployMedCipher(connection, {
    oracleSenders: [oracleKey.address],
    roles: { gateways: [gatewayKey.address] },
    routerLink: 10_000n * 10n ** 18n,
    pendingCaps: { perPatient: 1_000, perRequester: 1_000 },
    models: artifacts.map((artifact) => modelRegistration(artifact)),
  });
  const a = suite.addresses;
  const chainId = Number(await rpc(url, "eth_chainId"));
  const modelIds = artifacts.map((_, i) => Number(suite.modelIds[i]));
  log(`deployed; router ${a.PredictionRouter}`);

  // The gateway as operators run it (`medcipher gateway serve`), its own process, policy from the chain.
  // BENCH_NODE_ARGS_GATEWAY adds Node flags to the gateway process (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
  const gateway = await startGatewayProcess({
    rpcUrl: url, chainId, addresses: a, gatewayKey, anchorIntervalSeconds: 0,
    nodeArgs: process.env.BENCH_NODE_ARGS_GATEWAY?.split(" ").filter(Boolean),
  });
  const gatewayUrl = gateway.url;

  // 20 patients, each with a key set; registered and keys uploaded.
  const patients: { wallet: Wallet | ReturnType<typeof Wallet.createRandom>; fhe: FheClient; client: ReturnType<typeof createGatewayClient>; nonce: number }[] = [];
  // Patient PATIENTS (the 21st) sends only the warm-up requests.
  for (let i = 0; i < PATIENTS + (WARMUP > 0 ? 1 : 0); i++) {
    const wallet = Wallet.createRandom();
    await rpc(url, "hardhat_setBalance", [wallet.address, funded]);
    const fhe = await FheClient.generate("ckks-2048-v1");
    const keys = fhe.evaluationKeys();
    const keysHash = sha256Hex(keys);
    const client = createGatewayClient({ url: gatewayUrl, signer: wallet, chainId, gatewayAddress: gatewayKey.address, transport: createNodeHttpTransport() });
    await (await suite.identity.connect(wallet.connect(connection.ethers.provider)).registerPatient(keysHash, encodeBytes32String("ckks-2048-v1"), `${gatewayUrl}/v1/blobs/${keysHash}`, hexlify(randomBytes(32)))).wait();
    await client.put(keys, { owner: wallet.address, kind: "he-keys", category: Category.PREDICTION });
    await sponsorPatients(suite, [wallet.address], 100n * 10n ** 18n);
    patients.push({ wallet, fhe, client, nonce: await connection.ethers.provider.getTransactionCount(wallet.address) });
  }
  log(`${PATIENTS} patients registered`);

  // Every input encrypted and uploaded up front: the benchmark times the oracle, not the clients.
  const measured = BURST + STEADY_RATE_PER_SECOND * STEADY_SECONDS;
  const total = measured + WARMUP;
  const inputs: { patient: number; modelId: number; inputHash: string }[] = [];
  for (let i = 0; i < total; i++) {
    const p = i < measured ? i % PATIENTS : PATIENTS;
    const modelIndex = i % 2;
    const model = artifacts[modelIndex]!;
    const reading: Record<string, number> = modelIndex === 0
      ? { age: 20 + (i % 40), systolicBP: 100 + (i % 60), diastolicBP: 60 + (i % 30), bloodGlucose: 6 + (i % 10), bodyTemp: 98, heartRate: 60 + (i % 30) }
      : { age: 40 + (i % 30), sex: i % 2, cp: 1 + (i % 4), trestbps: 110 + (i % 50), chol: 180 + (i % 120), fbs: i % 2, restecg: i % 3, thalach: 120 + (i % 60), exang: i % 2, oldpeak: (i % 40) / 10, slope: 1 + (i % 3), ca: i % 4, thal: [3, 6, 7][i % 3]! };
    const bytes = patients[p]!.fhe.encrypt(model, reading);
    // Through the gateway's ingestion firewall (required by default): the stored blob's id goes on-chain.
    const { blobId } = await patients[p]!.client.putFirewalled(bytes, { owner: patients[p]!.wallet.address, category: Category.PREDICTION });
    inputs.push({ patient: p, modelId: modelIds[modelIndex]!, inputHash: blobId });
  }
  log(`${total} inputs encrypted and uploaded`);

  // 1-second blocks from here on.
  await rpc(url, "evm_setAutomine", [false]);
  await rpc(url, "evm_setIntervalMining", [BLOCK_MS]);

  // The oracle, as its own process.
  const startBlock = Number(await rpc(url, "eth_blockNumber")) + 1;
  const settings: Partial<Settings> = {
    RPC_URL: url, OPERATOR_ADDRESS: a.Operator, ROUTER_ADDRESS: a.PredictionRouter, CHAIN_ID: chainId,
    PRIVATE_KEY: oracleKey.privateKey, GATEWAY_URL: gatewayUrl, GATEWAY_ADDRESS: gatewayKey.address,
    PRIVATE_MODEL_MASK_KEY: hexlify(randomBytes(32)), START_BLOCK: startBlock, CONFIRMATIONS: 1, POLL_INTERVAL_MS: 100,
    LOG_LEVEL: process.env.ORACLE_LOG_LEVEL ?? "info", WORKER_THREADS: 2,
    // BENCH_ORACLE_<SETTING>=value overrides a daemon setting for an experiment (the daemon parses it).
    ...Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k.startsWith("BENCH_ORACLE_") && v !== undefined).map(([k, v]) => [k.slice("BENCH_ORACLE_".length), v!])),
  };
  // BENCH_CPU_PROFILE=1 writes a V8 CPU profile of the oracle process into its work directory.
  // BENCH_NODE_ARGS_ORACLE adds Node flags to the oracle process (e.g. "--trace-gc").
  const profile = [...(process.env.BENCH_CPU_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${work}`] : []), ...(process.env.BENCH_NODE_ARGS_ORACLE?.split(" ").filter(Boolean) ?? [])];
  const oracle = await startOracleProcess(settings, join(work, "oracle"), profile);
  log("oracle started");

  // Watch blocks: when each block was first seen, and which requests each mined or settled.
  const watcher = watchRequests(url, { router: a.PredictionRouter, operator: a.Operator }, startBlock);
  const { blockSeenAt, minedAt, settled: settledAt, responses } = watcher;

  const fees = { maxFeePerGas: 50n * 10n ** 9n, maxPriorityFeePerGas: 10n ** 9n };
  async function signRequest(i: number): Promise<string> {
    const input = inputs[i]!;
    const patient = patients[input.patient]!;
    const data = routerInterface.encodeFunctionData("requestPrediction", [patient.wallet.address, input.modelId, input.inputHash, `${gatewayUrl}/v1/blobs/${input.inputHash}`]);
    return patient.wallet.signTransaction({ to: a.PredictionRouter, data, nonce: patient.nonce++, gasLimit: 400_000n, chainId, type: 2, ...fees });
  }
  // Every request is signed before the phases start, in the order it will be sent (each patient's
  // nonces ascend): signing is the load generator's work, not the system's under test.
  const order = [...Array(WARMUP).keys()].map((k) => measured + k).concat([...Array(measured).keys()]);
  const signed = new Map<number, string>();
  for (const i of order) signed.set(i, await signRequest(i));
  async function send(indices: number[]): Promise<string[]> {
    const raws = indices.map((i) => signed.get(i)!);
    const replies = await rpcBatch(url, raws.map((raw) => ({ method: "eth_sendRawTransaction", params: [raw] })));
    return replies.map((r) => {
      if (r.error) throw new Error(`request rejected: ${r.error.message}`);
      return r.result as string;
    });
  }

  if (WARMUP > 0) {
    log(`warm-up: ${WARMUP} requests`);
    await send([...Array(WARMUP).keys()].map((k) => measured + k));
    await waitUntil(async () => minedAt.size >= WARMUP && [...minedAt.keys()].every((id) => settledAt.has(id)), "warm-up settled", SETTLE_TIMEOUT_MS);
  }
  const beforeBurst = new Set(minedAt.keys());

  // Phase 1: burst.
  log(`burst: ${BURST} requests`);
  const processes = { oracle: oracle.pid, gateway: gateway.pid, chain: chain.pid, bench: process.pid };
  const cpuBefore = Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, cpuSecondsOf(pid) ?? NaN]));
  await send([...Array(BURST).keys()]);
  await waitUntil(async () => minedAt.size >= beforeBurst.size + BURST, "burst requests mined", SETTLE_TIMEOUT_MS);
  const burstRequestIds = [...minedAt.keys()].filter((id) => !beforeBurst.has(id));
  await waitUntil(async () => burstRequestIds.every((id) => settledAt.has(id)), "burst settled", SETTLE_TIMEOUT_MS).catch(() => undefined);
  const firstMined = Math.min(...burstRequestIds.map((id) => minedAt.get(id)!.at));
  const lastSettled = Math.max(...burstRequestIds.filter((id) => settledAt.has(id)).map((id) => settledAt.get(id)!.at));
  const burstSettled = burstRequestIds.filter((id) => settledAt.has(id)).length;
  const perBlock = new Map<number, number>();
  for (const id of burstRequestIds) {
    const block = settledAt.get(id)?.block;
    if (block !== undefined) perBlock.set(block, (perBlock.get(block) ?? 0) + 1);
  }
  // CPU seconds each process spent from the burst's sending to its last fulfilment (2 cores in all).
  const burstCpuSeconds = Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, Math.round(((cpuSecondsOf(pid) ?? NaN) - cpuBefore[name]!) * 100) / 100]));
  const burstFulfilmentBlocks = [...perBlock.entries()].sort((x, y) => x[0] - y[0]).map(([, n]) => n);
  // Blocks after the burst's first request block in which fulfilments landed (1 = the next block).
  const firstRequestBlock = Math.min(...burstRequestIds.map((id) => minedAt.get(id)!.block));
  const burstRequestBlocks = new Set(burstRequestIds.map((id) => minedAt.get(id)!.block)).size;
  const burstFulfilmentOffsets = [...perBlock.keys()].sort((x, y) => x - y).map((b) => b - firstRequestBlock);
  // When the bench saw the request block and the next five, relative to the request block (ms).
  const burstBlocksSeenAtMs = [0, 1, 2, 3, 4, 5].map((k) => Math.round((blockSeenAt.get(firstRequestBlock + k) ?? NaN) - blockSeenAt.get(firstRequestBlock)!));
  const throughputPerSecond = Math.round((burstSettled / ((lastSettled - firstMined) / 1000)) * 10) / 10;
  log(`burst: ${burstSettled}/${BURST} settled in ${((lastSettled - firstMined) / 1000).toFixed(2)} s → ${throughputPerSecond}/s`);

  // Phase 2: steady 10 requests per second.
  log(`steady: ${STEADY_RATE_PER_SECOND} requests/s for ${STEADY_SECONDS} s`);
  const before = new Set(minedAt.keys());
  const steadyStart = performance.now();
  for (let k = 0; k < STEADY_RATE_PER_SECOND * STEADY_SECONDS; k++) {
    const due = steadyStart + (k * 1000) / STEADY_RATE_PER_SECOND;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await send([BURST + k]);
  }
  await waitUntil(async () => minedAt.size >= total, "steady requests mined", SETTLE_TIMEOUT_MS).catch(() => undefined);
  const steadyIds = [...minedAt.keys()].filter((id) => !before.has(id));
  await waitUntil(async () => steadyIds.every((id) => settledAt.has(id)), "steady settled", SETTLE_TIMEOUT_MS).catch(() => undefined);
  const latencies = steadyIds.filter((id) => settledAt.has(id)).map((id) => settledAt.get(id)!.at - minedAt.get(id)!.at);
  await new Promise((r) => setTimeout(r, 3 * BLOCK_MS));
  await watcher.stop();

  const peak = peakRssMiB(oracle.pid);
  // Where the oracle's time went: mean gateway and RPC round trips, from its own metrics.
  const metricsText = await (await fetch(`${oracle.opsUrl}/metrics`)).text();
  const mean = (name: string, label: string) => {
    const sum = Number(new RegExp(`${name}_sum\\{${label}\\} ([0-9.e+-]+)`).exec(metricsText)?.[1] ?? NaN);
    const count = Number(new RegExp(`${name}_count\\{${label}\\} ([0-9.e+-]+)`).exec(metricsText)?.[1] ?? NaN);
    return Math.round((sum / count) * 10_000) / 10;
  };
  const breakdown = {
    burstFulfilmentsPerBlock: burstFulfilmentBlocks,
    burstFulfilmentBlocksAfterRequest: burstFulfilmentOffsets,
    burstRequestBlocks,
    burstCpuSeconds,
    burstBlocksSeenAtMs,
    gatewayGetMeanMs: mean("oracle_gateway_seconds", 'op="get"'),
    gatewayPutMeanMs: mean("oracle_gateway_seconds", 'op="put"'),
    rpcBatchMeanMs: mean("oracle_rpc_seconds", 'method="batch"'),
    rpcCallMeanMs: mean("oracle_rpc_seconds", 'method="eth_call"'),
    evaluationMeanMs: Math.round((Number(/oracle_evaluation_seconds_sum ([0-9.e+-]+)/.exec(metricsText)?.[1]) / Number(/oracle_evaluation_seconds_count ([0-9.e+-]+)/.exec(metricsText)?.[1])) * 10_000) / 10,
  };
  log(`oracle-side means: ${JSON.stringify(breakdown)}`);
  const all = [...minedAt.keys()];
  const results = {
    requests: total,
    fulfilled: all.filter((id) => settledAt.get(id)?.kind === "PredictionFulfilled").length,
    failed: all.filter((id) => settledAt.has(id) && settledAt.get(id)!.kind !== "PredictionFulfilled").length,
    duplicates: [...responses.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0),
    lost: total - all.filter((id) => settledAt.has(id)).length,
    throughputPerSecond,
    p50Ms: Math.round(percentile(latencies, 50)),
    p95Ms: Math.round(percentile(latencies, 95)),
    peakRssMiB: peak,
    breakdown,
    setup: { patients: PATIENTS, warmupRequests: WARMUP, burst: BURST, steadyRatePerSecond: STEADY_RATE_PER_SECOND, steadySeconds: STEADY_SECONDS, blockMs: BLOCK_MS, confirmations: 1, workerThreads: 2, node: process.version },
  };

  await oracle.stop();
  const gatewayExit = await gateway.stop();
  if (gatewayExit !== 0) log(`the gateway exited with ${gatewayExit} on SIGTERM`);
  for (const p of patients) p.fhe.dispose();
  chain.stop();

  console.table(Object.fromEntries(Object.entries(results).filter(([k]) => k !== "setup" && k !== "breakdown")));
  mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
  writeFileSync(join(ROOT, "bench", "results", "oracle.json"), JSON.stringify(results, null, 2) + "\n");
  log("wrote bench/results/oracle.json");
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
