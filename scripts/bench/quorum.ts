/**
 * `npm run bench:quorum`: k-of-n oracle quorum against today's single oracle, in one run on one
 * `hardhat node` (1-second blocks, one confirmation). Two phases, each with its own gateway
 * process (its chain policy knows one router) and its own daemons as processes:
 *   1. single: one daemon fulfilling through the Chainlink Operator (SINGLE requests, a burst);
 *   2. quorum: n daemons (own key, own SQLite store each) voting through an OracleQuorum with
 *      threshold k (REQUESTS requests, a burst).
 * A warm-up (not measured) precedes each burst. Gas per request is the request transaction plus
 * every transaction an oracle account sent to the Operator/quorum for it (votes, late votes,
 * reverted ones), from the receipts. Writes bench/results/quorum.json.
 *
 * BENCH_QUORUM_N, BENCH_QUORUM_K, BENCH_QUORUM_REQUESTS, BENCH_QUORUM_SINGLE, BENCH_QUORUM_PATIENTS, BENCH_WARMUP change
 * the shape; BENCH_PROFILE_DIR writes a CPU profile of each phase's first daemon there.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";

import { encodeBytes32String, hexlify, randomBytes, Wallet, type HDNodeWallet } from "ethers";
import { network } from "hardhat";

import { sha256Hex } from "../../core/hash.js";
import { deployMedCipher, sponsorPatients, type MedCipherAddresses } from "../../deploy/local.js";
import { modelRegistration } from "../../deploy/models.js";
import { attachOracleQuorum } from "../../deploy/quorum.js";
import { FheClient } from "../../fhe/client.js";
import { loadModel } from "../../fhe/modelFile.js";
import { operatorInterface, routerInterface } from "../../oracle/chain/abi.js";
import { SETTINGS, type Settings } from "../../oracle/config/settings.js";
import { Category } from "../../protocol/codes.js";
import { createGatewayClient } from "../../sdk/gateway/client.js";
import { createNodeHttpTransport } from "../../sdk/node/transport.js";
import { startGatewayProcess } from "./gatewayProcess.js";
import { cpuSecondsOf } from "./proc.js";
import { percentile, ROOT, rpc, rpcBatch, startHardhatNode, startOracleProcess, waitUntil, watchRequests } from "./harness.js";

const N = Number(process.env.BENCH_QUORUM_N ?? 3);
const K = Number(process.env.BENCH_QUORUM_K ?? 2);
// The burst and patients of bench:oracle (scripts/bench/oracle.ts), so the two compare.
const REQUESTS = Number(process.env.BENCH_QUORUM_REQUESTS ?? 200);
const SINGLE = Number(process.env.BENCH_QUORUM_SINGLE ?? 200);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 20);
const PATIENTS = Number(process.env.BENCH_QUORUM_PATIENTS ?? 20);
const BLOCK_MS = 1_000;
/** How long the daemons run on after the burst settled (late votes land; CPU then is polling). */
const AFTER_BURST_MS = 5 * BLOCK_MS;
/** A chain id of its own (Ignition journals per chain id; removed after the run). */
const BENCH_CHAIN_ID = 31_998;
/** Node options of every daemon (NODE_OPTIONS), the same in both phases. */
const ORACLE_NODE_OPTIONS = (process.env.BENCH_ORACLE_NODE_OPTIONS ?? "").split(" ").filter(Boolean);
const SETTLE_TIMEOUT_MS = Number(process.env.BENCH_SETTLE_TIMEOUT_MS ?? 180_000);

const log = (message: string) => console.log(`[bench:quorum] ${message}`);

type Patient = { wallet: HDNodeWallet; fhe: FheClient; keys: Uint8Array; nonce: number };
type PhaseResult = {
  requests: number; finalised: number; duplicates: number; lost: number; throughputPerSecond: number; p50Ms: number; p95Ms: number;
  gasPerRequest: number; oracleTxsPerRequest: number; revertedOracleTxs: number;
  /** CPU milliseconds per burst request, by process (user + system over the burst, /proc). */
  cpuMsPerRequest: { chain: number; gateway: number; oracles: number; benchmark: number };
  /** Requests settled n blocks after the block their request was mined in (index n). */
  settledBlocksAfterRequest: number[];
  /** CPU share (1 = one core) in the AFTER_BURST_MS after the burst settled: polling, late votes. */
  cpuAfterBurst: { chain: number; gateway: number; oracles: number; benchmark: number };
  /** Standbys that found a request still pending at their turn and evaluated it (the daemons' oracle_quorum_standby_total): 0 in a healthy burst. */
  standbyStepIns: number;
};

type CpuSeconds = PhaseResult["cpuMsPerRequest"];
const CPU_PROCESSES = ["chain", "gateway", "oracles", "benchmark"] as const;
/** `f` of each process's CPU seconds from `before` to `after`. */
function cpuDelta(before: CpuSeconds, after: CpuSeconds, f: (seconds: number) => number): CpuSeconds {
  return Object.fromEntries(CPU_PROCESSES.map((p) => [p, f(after[p] - before[p])])) as CpuSeconds;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "bench-quorum-"));
  const chain = await startHardhatNode(BENCH_CHAIN_ID);
  const url = chain.url;
  log(`hardhat node on ${url}; n=${N}, k=${K}, ${REQUESTS} quorum requests, ${SINGLE} single-oracle requests`);
  const connection = await network.connect({ network: "localhost", override: { url, chainId: BENCH_CHAIN_ID } });
  const funded = "0x" + (10n ** 21n).toString(16);
  const singleKey = Wallet.createRandom();
  const operatorKeys = Array.from({ length: N }, () => Wallet.createRandom());
  const gatewayKey = Wallet.createRandom();
  for (const key of [singleKey, ...operatorKeys]) await rpc(url, "hardhat_setBalance", [key.address, funded]);

  const artifacts = [loadModel("maternal-risk-v1"), loadModel("heart-disease-lr-v1")];
  const pendingCaps = { perPatient: 1_000, perRequester: 1_000 };
  const base = await deployMedCipher(connection, {
    oracleSenders: [singleKey.address], roles: { gateways: [gatewayKey.address] }, routerLink: 10_000n * 10n ** 18n, pendingCaps,
    models: artifacts.map((artifact) => modelRegistration(artifact)),
  });
  const { suite: quorumSuite } = await attachOracleQuorum(connection, base, { k: K, operators: operatorKeys.map((key) => key.address), routerLink: 10_000n * 10n ** 18n, pendingCaps });
  const chainId = Number(await rpc(url, "eth_chainId"));
  const modelIds = artifacts.map((_, i) => Number(base.modelIds[i]));
  log(`deployed; single router ${base.addresses.PredictionRouter}, quorum ${quorumSuite.addresses.Operator}`);

  const patients: Patient[] = [];
  for (let i = 0; i < PATIENTS; i++) {
    const wallet = Wallet.createRandom();
    await rpc(url, "hardhat_setBalance", [wallet.address, funded]);
    const fhe = await FheClient.generate("ckks-2048-v1");
    const keys = fhe.evaluationKeys();
    const keysHash = sha256Hex(keys);
    await (await base.identity.connect(wallet.connect(connection.ethers.provider)).registerPatient(keysHash, encodeBytes32String("ckks-2048-v1"), `keys/${keysHash}`, hexlify(randomBytes(32)))).wait();
    patients.push({ wallet, fhe, keys, nonce: 0 });
  }
  const addresses = patients.map((p) => p.wallet.address);
  await sponsorPatients(base, addresses, 100n * 10n ** 18n);
  await sponsorPatients(quorumSuite, addresses, 100n * 10n ** 18n);
  for (const p of patients) p.nonce = await connection.ethers.provider.getTransactionCount(p.wallet.address);
  log(`${PATIENTS} patients registered and sponsored on both routers`);

  // 1-second blocks from here on.
  await rpc(url, "evm_setAutomine", [false]);
  await rpc(url, "evm_setIntervalMining", [BLOCK_MS]);

  async function phase(name: string, a: MedCipherAddresses, oracleKeys: HDNodeWallet[], count: number): Promise<PhaseResult> {
    const gateway = await startGatewayProcess({ rpcUrl: url, chainId, addresses: a, gatewayKey, anchorIntervalSeconds: 0 });
    const clients = patients.map((p) => createGatewayClient({ url: gateway.url, signer: p.wallet, chainId, gatewayAddress: gatewayKey.address, transport: createNodeHttpTransport() }));
    for (const [i, p] of patients.entries()) await clients[i]!.put(p.keys, { owner: p.wallet.address, kind: "he-keys", category: Category.PREDICTION });
    const total = WARMUP + count;
    const signed: string[] = [];
    for (let i = 0; i < total; i++) {
      const p = i % PATIENTS;
      const modelIndex = i % 2;
      const reading: Record<string, number> = modelIndex === 0
        ? { age: 20 + (i % 40), systolicBP: 100 + (i % 60), diastolicBP: 60 + (i % 30), bloodGlucose: 6 + (i % 10), bodyTemp: 98, heartRate: 60 + (i % 30) }
        : { age: 40 + (i % 30), sex: i % 2, cp: 1 + (i % 4), trestbps: 110 + (i % 50), chol: 180 + (i % 120), fbs: i % 2, restecg: i % 3, thalach: 120 + (i % 60), exang: i % 2, oldpeak: (i % 40) / 10, slope: 1 + (i % 3), ca: i % 4, thal: [3, 6, 7][i % 3]! };
      const bytes = patients[p]!.fhe.encrypt(artifacts[modelIndex]!, reading);
      const { blobId } = await clients[p]!.putFirewalled(bytes, { owner: patients[p]!.wallet.address, category: Category.PREDICTION });
      const data = routerInterface.encodeFunctionData("requestPrediction", [patients[p]!.wallet.address, modelIds[modelIndex]!, blobId, `${gateway.url}/v1/blobs/${blobId}`]);
      signed.push(await patients[p]!.wallet.signTransaction({ to: a.PredictionRouter, data, nonce: patients[p]!.nonce++, gasLimit: 400_000n, chainId, type: 2, maxFeePerGas: 50n * 10n ** 9n, maxPriorityFeePerGas: 10n ** 9n }));
    }
    log(`${name}: ${total} inputs encrypted, uploaded and their requests signed`);

    const startBlock = Number(await rpc(url, "eth_blockNumber")) + 1;
    // One mask key for every operator: a private model's masked products (docs/fhe.md) must be
    // the same bytes in each daemon, or the votes on its results can never agree.
    const maskKey = hexlify(randomBytes(32));
    const oracles = await Promise.all(oracleKeys.map((key, i) => startOracleProcess({
      RPC_URL: url, OPERATOR_ADDRESS: a.Operator, ROUTER_ADDRESS: a.PredictionRouter, CHAIN_ID: chainId, PRIVATE_KEY: key.privateKey,
      GATEWAY_URL: gateway.url, GATEWAY_ADDRESS: gatewayKey.address, PRIVATE_MODEL_MASK_KEY: maskKey,
      START_BLOCK: startBlock, CONFIRMATIONS: 1, POLL_INTERVAL_MS: 100, LOG_LEVEL: "info", WORKER_THREADS: oracleKeys.length > 1 ? 1 : 2,
    } satisfies Partial<Settings>, join(work, `${name}-oracle-${i}`), [...ORACLE_NODE_OPTIONS, ...(process.env.BENCH_PROFILE_DIR && i === 0 ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}/${name}`] : [])])));
    log(`${name}: ${oracles.length} oracle process(es) started`);
    const watcher = watchRequests(url, { router: a.PredictionRouter, operator: a.Operator }, startBlock);
    const send = async (raws: string[]) => {
      for (const reply of await rpcBatch(url, raws.map((raw) => ({ method: "eth_sendRawTransaction", params: [raw] })))) {
        if (reply.error) throw new Error(`request rejected: ${reply.error.message}`);
      }
    };
    if (WARMUP > 0) {
      await send(signed.slice(0, WARMUP));
      await waitUntil(() => watcher.minedAt.size >= WARMUP && [...watcher.minedAt.keys()].every((id) => watcher.settled.has(id)), `${name} warm-up settled`, SETTLE_TIMEOUT_MS).catch((error: unknown) => {
        log(`mined ${watcher.minedAt.size}, settled ${watcher.settled.size}`);
        for (const oracle of oracles) log(`oracle log tail:\n${oracle.text().split("\n").slice(-15).join("\n")}`);
        throw error;
      });
    }
    const warm = new Set(watcher.minedAt.keys());
    const cpu = (): CpuSeconds => {
      const own = process.cpuUsage();
      return {
        chain: cpuSecondsOf(chain.pid) ?? NaN, gateway: gateway.cpuSeconds() ?? NaN,
        oracles: oracles.reduce((sum, o) => sum + (cpuSecondsOf(o.pid) ?? NaN), 0), benchmark: (own.user + own.system) / 1e6,
      };
    };
    const cpuBefore = cpu();
    await send(signed.slice(WARMUP));
    await waitUntil(() => watcher.minedAt.size >= total, `${name} burst mined`, SETTLE_TIMEOUT_MS);
    const ids = [...watcher.minedAt.keys()].filter((id) => !warm.has(id));
    await waitUntil(() => ids.every((id) => watcher.settled.has(id)), `${name} burst settled`, SETTLE_TIMEOUT_MS).catch(() => undefined);
    const cpuAfter = cpu();
    // Late votes land after the settlement: let the daemons finish their work before counting gas.
    await new Promise((r) => setTimeout(r, AFTER_BURST_MS));
    const cpuIdle = cpu();
    const standbyStepIns = (await Promise.all(oracles.map(async (o) => {
      const metrics = await (await fetch(`${o.opsUrl}/metrics`)).text();
      return Number(/oracle_quorum_standby_total\{outcome="stepped_in"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    }))).reduce((a, b) => a + b, 0);
    await watcher.stop();
    for (const oracle of oracles) await oracle.stop();
    // Each daemon's log beside its store, for a look after the run (the work directory is kept).
    for (const [i, oracle] of oracles.entries()) writeFileSync(join(work, `${name}-oracle-${i}`, "daemon.log"), oracle.text());
    await gateway.stop();

    const settledIds = ids.filter((id) => watcher.settled.has(id));
    const firstMined = Math.min(...ids.map((id) => watcher.minedAt.get(id)!.at));
    const lastSettled = Math.max(...settledIds.map((id) => watcher.settled.get(id)!.at));
    const latencies = settledIds.map((id) => watcher.settled.get(id)!.at - watcher.minedAt.get(id)!.at);
    const gas = await gasOf(url, startBlock, new Set(ids), ids.map((id) => watcher.minedAt.get(id)!.transactionHash), a.Operator, new Set(oracleKeys.map((k) => k.address.toLowerCase())));
    const result: PhaseResult = {
      requests: count,
      finalised: settledIds.filter((id) => watcher.settled.get(id)!.kind === "PredictionFulfilled").length,
      duplicates: ids.reduce((sum, id) => sum + Math.max(0, (watcher.responses.get(id) ?? 0) - 1), 0),
      lost: count - settledIds.length,
      throughputPerSecond: Math.round((settledIds.length / ((lastSettled - firstMined) / 1000)) * 10) / 10,
      p50Ms: Math.round(percentile(latencies, 50)),
      p95Ms: Math.round(percentile(latencies, 95)),
      gasPerRequest: Math.round(gas.total / count),
      oracleTxsPerRequest: Math.round((gas.oracleTxs / count) * 100) / 100,
      revertedOracleTxs: gas.reverted,
      cpuMsPerRequest: cpuDelta(cpuBefore, cpuAfter, (seconds) => Math.round((seconds * 1000) / count)),
      settledBlocksAfterRequest: settledIds.reduce((counts, id) => {
        const after = watcher.settled.get(id)!.block - watcher.minedAt.get(id)!.block;
        while (counts.length <= after) counts.push(0);
        counts[after]!++;
        return counts;
      }, [] as number[]),
      cpuAfterBurst: cpuDelta(cpuAfter, cpuIdle, (seconds) => Math.round(((seconds * 1000) / AFTER_BURST_MS) * 100) / 100),
      standbyStepIns,
    };
    log(`${name}: ${JSON.stringify(result)}`);
    return result;
  }

  // The machine's load around the measured phases (other work on a shared host skews throughput).
  const loadBefore = loadavg()[0]!;
  const single = await phase("single", base.addresses, [singleKey], SINGLE);
  const quorum = await phase("quorum", quorumSuite.addresses, operatorKeys, REQUESTS);
  for (const p of patients) p.fhe.dispose();
  chain.stop();

  const results = {
    n: N, k: K,
    requests: quorum.requests, finalised: quorum.finalised, duplicates: quorum.duplicates, lost: quorum.lost,
    throughputPerSecond: quorum.throughputPerSecond, p95Ms: quorum.p95Ms,
    gasPerRequest: quorum.gasPerRequest, singleOracleGasPerRequest: single.gasPerRequest,
    gasRatio: Math.round((quorum.gasPerRequest / single.gasPerRequest) * 100) / 100,
    quorum, single,
    setup: { loadAverage1m: { before: Math.round(loadBefore * 100) / 100, after: Math.round(loadavg()[0]! * 100) / 100, cores: cpus().length }, patients: PATIENTS, warmupRequestsPerPhase: WARMUP, blockMs: BLOCK_MS, confirmations: 1, workerThreadsPerQuorumDaemon: 1, workerThreadsSingle: 2, quorumStandbyMs: SETTINGS.QUORUM_STANDBY_MS.default, oracleNodeOptions: ORACLE_NODE_OPTIONS.join(" "), burst: true, node: process.version },
  };
  console.table({ quorum, single });
  mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
  writeFileSync(join(ROOT, "bench", "results", "quorum.json"), JSON.stringify(results, null, 2) + "\n");
  log(`gas ${results.gasRatio}× single; wrote bench/results/quorum.json`);
  process.exit(0);
}

/**
 * Gas of the requests `ids` (their request transactions) and of every transaction an oracle
 * account sent to `operator` for one of them, found by scanning the blocks from `fromBlock`
 * (reverted ones included: they cost gas too). The request id is fulfillOracleRequest2's first argument.
 */
async function gasOf(url: string, fromBlock: number, ids: Set<string>, requestTxs: string[], operator: string, oracles: Set<string>): Promise<{ total: number; oracleTxs: number; reverted: number }> {
  const head = Number(await rpc(url, "eth_blockNumber"));
  const blocks = await rpcBatch(url, Array.from({ length: head - fromBlock + 1 }, (_, i) => ({ method: "eth_getBlockByNumber", params: ["0x" + (fromBlock + i).toString(16), true] })));
  const oracleTxs: string[] = [];
  for (const reply of blocks) {
    for (const tx of (reply.result as { transactions: { hash: string; from: string; to: string | null; input: string }[] }).transactions) {
      if (!oracles.has(tx.from.toLowerCase()) || tx.to?.toLowerCase() !== operator.toLowerCase()) continue;
      const requestId = operatorInterface.parseTransaction({ data: tx.input })?.args[0] as string | undefined;
      if (requestId !== undefined && ids.has(requestId)) oracleTxs.push(tx.hash);
    }
  }
  let total = 0;
  let reverted = 0;
  const hashes = [...requestTxs, ...oracleTxs];
  for (let i = 0; i < hashes.length; i += 200) {
    for (const reply of await rpcBatch(url, hashes.slice(i, i + 200).map((hash) => ({ method: "eth_getTransactionReceipt", params: [hash] })))) {
      const receipt = reply.result as { gasUsed: string; status: string; from: string };
      total += Number(BigInt(receipt.gasUsed));
      if (receipt.status !== "0x1" && oracles.has(receipt.from.toLowerCase())) reverted++;
    }
  }
  return { total, oracleTxs: oracleTxs.length, reverted };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
