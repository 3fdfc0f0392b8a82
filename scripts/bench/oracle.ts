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
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, rmdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { encodeBytes32String, hexlify, randomBytes, Wallet } from "ethers";
import { network } from "hardhat";

import { sha256Hex } from "../../core/hash.js";
import { deployMedCipher, OutputKind, sponsorPatients } from "../../deploy/local.js";
import { FheClient } from "../../fhe/client.js";
import { loadModel } from "../../fhe/modelFile.js";
import { operatorInterface, routerInterface } from "../../oracle/chain/abi.js";
import { Category } from "../../protocol/codes.js";
import { createGatewayClient } from "../../sdk/gateway/client.js";
import { createNodeHttpTransport } from "../../sdk/node/transport.js";
import { startGatewayProcess } from "./gatewayProcess.js";
import { cpuSecondsOf, peakRssMiB } from "./proc.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
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

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

async function rpc(url: string, method: string, params: unknown[] = []): Promise<unknown> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
  const reply = (await response.json()) as { result?: unknown; error?: { message: string } };
  if (reply.error) throw new Error(`${method}: ${reply.error.message}`);
  return reply.result;
}

async function rpcBatch(url: string, calls: { method: string; params: unknown[] }[]): Promise<{ result?: unknown; error?: { message: string } }[]> {
  const body = calls.map((c, i) => ({ jsonrpc: "2.0", id: i, ...c }));
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const replies = (await response.json()) as { id: number; result?: unknown; error?: { message: string } }[];
  return replies.sort((a, b) => a.id - b.id);
}

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const children: ChildProcess[] = [];
const cleanup = () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
};
process.on("exit", cleanup);

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "bench-oracle-"));
  const nodePort = await freePort();
  const url = `http://127.0.0.1:${nodePort}`;
  log(`starting hardhat node on ${url}`);
  const journal = join(ROOT, "deploy", "deployments", `chain-${BENCH_CHAIN_ID}`);
  const removeJournal = () => {
    rmSync(journal, { recursive: true, force: true });
    try {
      rmdirSync(join(ROOT, "deploy", "deployments"));
    } catch {
      // not empty: other chains' journals live there
    }
  };
  removeJournal();
  process.on("exit", removeJournal);
  // BENCH_NODE_ARGS_CHAIN adds Node flags to the `hardhat node` process.
  const node = spawn(process.execPath, [...(process.env.BENCH_NODE_ARGS_CHAIN?.split(" ").filter(Boolean) ?? []), join(ROOT, "node_modules/hardhat/dist/src/cli.js"), "node", "--port", String(nodePort), "--chain-id", String(BENCH_CHAIN_ID)], { cwd: ROOT, stdio: "ignore" });
  children.push(node);
  await waitUntil(async () => Boolean(await rpc(url, "eth_chainId")), "hardhat node", 60_000);

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
    models: artifacts.map((m) => ({
      name: m.id, version: m.version, weightsHash: m.weightsHash, weightsUri: `models/${m.id}.json`,
      paramSetId: encodeBytes32String(m.paramSetId), encodingSpecHash: m.encodingSpecHash,
      outputKind: m.output.kind === "softmax" ? OutputKind.Softmax : OutputKind.Sigmoid, isPrivate: m.isPrivate,
    })),
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
  const dataDir = join(work, "oracle");
  const opsPort = await freePort();
  mkdirSync(dataDir, { recursive: true });
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp",
    ORACLE_RPC_URL: url, ORACLE_OPERATOR_ADDRESS: a.Operator, ORACLE_ROUTER_ADDRESS: a.PredictionRouter, ORACLE_CHAIN_ID: String(chainId),
    ORACLE_PRIVATE_KEY: oracleKey.privateKey, ORACLE_GATEWAY_URL: gatewayUrl, ORACLE_GATEWAY_ADDRESS: gatewayKey.address,
    ORACLE_PRIVATE_MODEL_MASK_KEY: hexlify(randomBytes(32)), ORACLE_DATA_DIR: dataDir, ORACLE_HTTP_PORT: String(opsPort),
    ORACLE_START_BLOCK: String(startBlock), ORACLE_CONFIRMATIONS: "1", ORACLE_POLL_INTERVAL_MS: "100", ORACLE_LOG_LEVEL: process.env.ORACLE_LOG_LEVEL ?? "info",
    ORACLE_WORKER_THREADS: "2",
    // BENCH_ORACLE_<SETTING>=value overrides a daemon setting for an experiment.
    ...Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k.startsWith("BENCH_ORACLE_") && v !== undefined).map(([k, v]) => [k.slice("BENCH_".length), v!])),
  };
  // BENCH_CPU_PROFILE=1 writes a V8 CPU profile of the oracle process next to its log.
  // BENCH_NODE_ARGS_ORACLE adds Node flags to the oracle process (e.g. "--trace-gc").
  const profile = [...(process.env.BENCH_CPU_PROFILE ? ["--cpu-prof", "--cpu-prof-dir", work] : []), ...(process.env.BENCH_NODE_ARGS_ORACLE?.split(" ").filter(Boolean) ?? [])];
  const oracle = spawn(process.execPath, [...profile, "--import", "tsx", "oracle/main.ts", "start"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "inherit"] });
  children.push(oracle);
  let oracleOut = "";
  const oracleLog = createWriteStream(join(work, "oracle.log"));
  log(`oracle log: ${join(work, "oracle.log")}`);
  oracle.stdout!.on("data", (c: Buffer) => {
    oracleLog.write(c);
    oracleOut = (oracleOut + c.toString("utf8")).slice(-20_000);
    if (/oracle started/.test(c.toString("utf8"))) started = true;
  });
  let started = false;
  await waitUntil(async () => started || oracle.exitCode !== null, "oracle start", 60_000);
  if (oracle.exitCode !== null) throw new Error(`oracle exited: ${oracleOut.slice(-2000)}`);
  log("oracle started");

  // Watch blocks: when each block was first seen, and which requests each mined or settled.
  const blockSeenAt = new Map<number, number>();
  const requestMinedAt = new Map<string, number>();
  const requestBlock = new Map<string, number>();
  const settledAt = new Map<string, { at: number; kind: string; block: number }>();
  const responses = new Map<string, number>();
  let lastBlock = startBlock - 1;
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      try {
        const head = Number(await rpc(url, "eth_blockNumber"));
        if (head > lastBlock) {
          const now = performance.now();
          for (let b = lastBlock + 1; b <= head; b++) blockSeenAt.set(b, now);
          const logs = (await rpc(url, "eth_getLogs", [{ fromBlock: "0x" + (lastBlock + 1).toString(16), toBlock: "0x" + head.toString(16), address: [a.PredictionRouter, a.Operator] }])) as { topics: string[]; data: string; blockNumber: string; address: string }[];
          for (const entry of logs) {
            const at = blockSeenAt.get(Number(entry.blockNumber)) ?? now;
            if (entry.address.toLowerCase() === a.Operator.toLowerCase()) {
              const parsed = operatorInterface.parseLog(entry);
              if (parsed?.name === "OracleResponse") responses.set(parsed.args[0] as string, (responses.get(parsed.args[0] as string) ?? 0) + 1);
              continue;
            }
            const parsed = routerInterface.parseLog(entry);
            if (!parsed) continue;
            const requestId = parsed.args[0] as string;
            if (parsed.name === "PredictionRequested") {
              requestMinedAt.set(requestId, at);
              requestBlock.set(requestId, Number(entry.blockNumber));
            }
            else if (!settledAt.has(requestId)) settledAt.set(requestId, { at, kind: parsed.name, block: Number(entry.blockNumber) });
          }
          lastBlock = head;
        }
      } catch {
        // keep watching
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();

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
    await waitUntil(async () => requestMinedAt.size >= WARMUP && [...requestMinedAt.keys()].every((id) => settledAt.has(id)), "warm-up settled", SETTLE_TIMEOUT_MS);
  }
  const beforeBurst = new Set(requestMinedAt.keys());

  // Phase 1: burst.
  log(`burst: ${BURST} requests`);
  const processes = { oracle: oracle.pid!, gateway: gateway.pid, chain: node.pid!, bench: process.pid };
  const cpuBefore = Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, cpuSecondsOf(pid) ?? NaN]));
  await send([...Array(BURST).keys()]);
  await waitUntil(async () => requestMinedAt.size >= beforeBurst.size + BURST, "burst requests mined", SETTLE_TIMEOUT_MS);
  const burstRequestIds = [...requestMinedAt.keys()].filter((id) => !beforeBurst.has(id));
  await waitUntil(async () => burstRequestIds.every((id) => settledAt.has(id)), "burst settled", SETTLE_TIMEOUT_MS).catch(() => undefined);
  const firstMined = Math.min(...burstRequestIds.map((id) => requestMinedAt.get(id)!));
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
  const firstRequestBlock = Math.min(...burstRequestIds.map((id) => requestBlock.get(id)!));
  const burstRequestBlocks = new Set(burstRequestIds.map((id) => requestBlock.get(id)!)).size;
  const burstFulfilmentOffsets = [...perBlock.keys()].sort((x, y) => x - y).map((b) => b - firstRequestBlock);
  // When the bench saw the request block and the next five, relative to the request block (ms).
  const burstBlocksSeenAtMs = [0, 1, 2, 3, 4, 5].map((k) => Math.round((blockSeenAt.get(firstRequestBlock + k) ?? NaN) - blockSeenAt.get(firstRequestBlock)!));
  const throughputPerSecond = Math.round((burstSettled / ((lastSettled - firstMined) / 1000)) * 10) / 10;
  log(`burst: ${burstSettled}/${BURST} settled in ${((lastSettled - firstMined) / 1000).toFixed(2)} s → ${throughputPerSecond}/s`);

  // Phase 2: steady 10 requests per second.
  log(`steady: ${STEADY_RATE_PER_SECOND} requests/s for ${STEADY_SECONDS} s`);
  const before = new Set(requestMinedAt.keys());
  const steadyStart = performance.now();
  for (let k = 0; k < STEADY_RATE_PER_SECOND * STEADY_SECONDS; k++) {
    const due = steadyStart + (k * 1000) / STEADY_RATE_PER_SECOND;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await send([BURST + k]);
  }
  await waitUntil(async () => requestMinedAt.size >= total, "steady requests mined", SETTLE_TIMEOUT_MS).catch(() => undefined);
  const steadyIds = [...requestMinedAt.keys()].filter((id) => !before.has(id));
  await waitUntil(async () => steadyIds.every((id) => settledAt.has(id)), "steady settled", SETTLE_TIMEOUT_MS).catch(() => undefined);
  const latencies = steadyIds.filter((id) => settledAt.has(id)).map((id) => settledAt.get(id)!.at - requestMinedAt.get(id)!);
  await new Promise((r) => setTimeout(r, 3 * BLOCK_MS));
  watching = false;
  await watcher;

  const peak = peakRssMiB(oracle.pid!);
  // Where the oracle's time went: mean gateway and RPC round trips, from its own metrics.
  const metricsText = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
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
  const all = [...requestMinedAt.keys()];
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

  oracle.kill("SIGTERM");
  await new Promise((r) => oracle.once("exit", r));
  const gatewayExit = await gateway.stop();
  if (gatewayExit !== 0) log(`the gateway exited with ${gatewayExit} on SIGTERM`);
  for (const p of patients) p.fhe.dispose();
  node.kill("SIGTERM");

  console.table(Object.fromEntries(Object.entries(results).filter(([k]) => k !== "setup" && k !== "breakdown")));
  mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
  writeFileSync(join(ROOT, "bench", "results", "oracle.json"), JSON.stringify(results, null, 2) + "\n");
  log("wrote bench/results/oracle.json");
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  cleanup();
  process.exit(1);
});
