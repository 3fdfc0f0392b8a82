/**
 * `npm run bench:scale`: how each component's cost grows with the work. Writes
 * bench/results/scale.json (every curve as arrays) and bench/results/scale.svg (the plot beside
 * the README table).
 *
 * One stack, as operators run it: a `hardhat node` process, the gateway process
 * (`medcipher gateway serve`, directory store, firewall required), the oracle daemon process.
 * Three curves:
 *   readings   readings per record (1 → 100) and per patient (10 → 1,000): gateway storage per
 *              reading and anchoring gas per reading (ingestReadings: sealed FHIR bundles, one
 *              Merkle root on-chain per batch).
 *   patients   registered patients 100 → 10,000 (each its own account and on-chain identity);
 *              at each size the same measured load (BENCH_SCALE_LOAD requests at 10/s from 20
 *              active patients with their own CKKS keys): gas per request (request +
 *              fulfilment), oracle and gateway CPU per request, p95 latency (request mined →
 *              result mined, 1-second blocks, one confirmation).
 *   rate       offered requests per second (BENCH_SCALE_RATES, each for BENCH_SCALE_SECONDS) at
 *              the largest population: achieved throughput, p95, CPU per request; the knee is
 *              the first rate whose achieved throughput falls under 90 % of the offered rate or
 *              whose p95 exceeds twice the lowest rate's.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";

import { encodeBytes32String, hexlify, randomBytes, Wallet } from "ethers";
import { network } from "hardhat";

import { sha256Hex } from "../../core/hash.js";
import { deployMedCipher, sponsorPatients } from "../../deploy/local.js";
import { modelRegistration } from "../../deploy/models.js";
import { FheClient } from "../../fhe/client.js";
import { loadModel } from "../../fhe/modelFile.js";
import { identityInterface, routerInterface } from "../../oracle/chain/abi.js";
import { Category } from "../../protocol/codes.js";
import type { MedCipherAddresses } from "../../protocol/contracts.js";
import { bindDevice } from "../../sdk/actions/bindDevice.js";
import { ingestReadings } from "../../sdk/actions/ingestReadings.js";
import { registerDevice } from "../../sdk/actions/registerDevice.js";
import { registerPatient } from "../../sdk/actions/registerPatient.js";
import { chainNow } from "../../sdk/chain/time.js";
import { generateEncryptionKeyPair } from "../../sdk/crypto/x25519.js";
import type { Reading } from "../../sdk/fhir/observations.js";
import { createGatewayClient } from "../../sdk/gateway/client.js";
import { createMedCipherClient } from "../../sdk/node.js";
import { createNodeHttpTransport } from "../../sdk/node/transport.js";
import { paramSetIdToBytes32 } from "../../sdk/predictions.js";
import { startGatewayProcess } from "./gatewayProcess.js";
import { directoryBytes, gasUsedOf, percentile, ROOT, rpc, rpcBatch, sendRawBatches, startHardhatNode, startOracleProcess, waitUntil, watchRequests } from "./harness.js";
import { cpuSecondsOf } from "./proc.js";
import { renderPanels } from "./svgPlot.js";

const list = (name: string, fallback: number[]) => (process.env[name]?.split(",").map(Number).filter((n) => n > 0) ?? fallback);
const POPULATIONS = list("BENCH_SCALE_PATIENTS", [100, 1_000, 10_000]);
const RATES = list("BENCH_SCALE_RATES", [10, 20, 40, 80]);
const RATE_SECONDS = Number(process.env.BENCH_SCALE_SECONDS ?? 8);
const LOAD = Number(process.env.BENCH_SCALE_LOAD ?? 40);
const LOAD_RATE = 10;
const READINGS_PER_RECORD = [1, 10, 50, 100];
const READINGS_PER_PATIENT = [10, 100, 1_000];
const ACTIVE = 20;
const BLOCK_MS = 1_000;
const BENCH_CHAIN_ID = 31_998;
const SETTLE_TIMEOUT_MS = 180_000;
const FEES = { maxFeePerGas: 50n * 10n ** 9n, maxPriorityFeePerGas: 10n ** 9n, type: 2 } as const;

const log = (message: string) => console.log(`[bench:scale] ${message}`);
const round = (v: number, digits = 1) => Number(v.toFixed(digits));

const work = mkdtempSync(join(tmpdir(), "bench-scale-"));
const chain = await startHardhatNode(BENCH_CHAIN_ID);
const url = chain.url;
const connection = await network.connect({ network: "localhost", override: { url, chainId: BENCH_CHAIN_ID } });
const { ethers } = connection;
const funded = "0x" + (10n ** 21n).toString(16);
const oracleKey = Wallet.createRandom();
const gatewayKey = Wallet.createRandom();
const vendor = new Wallet(hexlify(randomBytes(32)), ethers.provider);
for (const address of [oracleKey.address, vendor.address]) await rpc(url, "hardhat_setBalance", [address, funded]);
const artifacts = [loadModel("maternal-risk-v1"), loadModel("heart-disease-lr-v1")];
const suite = await deployMedCipher(connection, {
  oracleSenders: [oracleKey.address],
  roles: { gateways: [gatewayKey.address], deviceVendors: [vendor.address] },
  routerLink: 100_000n * 10n ** 18n,
  pendingCaps: { perPatient: 1_000, perRequester: 1_000 },
  models: artifacts.map((artifact) => modelRegistration(artifact)),
});
const a = suite.addresses;
const modelIds = artifacts.map((_, i) => Number(suite.modelIds[i]));
const gateway = await startGatewayProcess({ rpcUrl: url, chainId: BENCH_CHAIN_ID, addresses: a, gatewayKey, anchorIntervalSeconds: 0 });
const gatewayBytes = () => directoryBytes(gateway.home, (name) => name.endsWith(".log"));
log(`deployed; gateway ${gateway.url}`);

// ── Readings: storage and anchoring per reading ──────────────────────────────────────────────
const addresses = a as unknown as MedCipherAddresses;
const vendorClient = await createMedCipherClient({ account: vendor, addresses, gatewayUrl: gateway.url });
async function patientWithDevice() {
  const patientWallet = new Wallet(hexlify(randomBytes(32)), ethers.provider);
  const deviceWallet = new Wallet(hexlify(randomBytes(32)), ethers.provider);
  for (const w of [patientWallet, deviceWallet]) await rpc(url, "hardhat_setBalance", [w.address, funded]);
  const encryptionKey = await generateEncryptionKeyPair();
  const patient = await createMedCipherClient({ account: patientWallet, addresses, gatewayUrl: gateway.url, encryptionKey });
  const fhe = await FheClient.generate(artifacts[0]!.paramSetId);
  await registerPatient(patient, { encryptionPublicKey: encryptionKey.publicKey, evaluationKeys: fhe.evaluationKeys(), paramSetId: paramSetIdToBytes32(artifacts[0]!.paramSetId) });
  fhe.dispose();
  await registerDevice(vendorClient, { device: deviceWallet.address });
  await bindDevice(patient, { device: deviceWallet, expiresAt: (await chainNow(ethers.provider)) + 30 * 86_400 });
  return { patient: patientWallet.address, device: await createMedCipherClient({ account: deviceWallet, addresses, gatewayUrl: gateway.url }) };
}
function readingsFrom(startSeconds: number, count: number): Reading[] {
  const metrics = ["heart_rate", "systolic_bp", "diastolic_bp", "glucose", "body_temperature"] as const;
  const values = { heart_rate: 76, systolic_bp: 120, diastolic_bp: 80, glucose: 127.9, body_temperature: 37 };
  return Array.from({ length: count }, (_, i) => {
    const metric = metrics[i % metrics.length]!;
    return { time: new Date((startSeconds - (count - i) * 60) * 1000).toISOString(), metric, value: Number((values[metric] + (i % 7) * 0.1).toFixed(1)) };
  });
}
/** One patient's readings ingested: bytes the gateway stored and anchoring gas, per reading. */
async function ingestCost(readings: number, perRecord: number) {
  const { patient, device } = await patientWithDevice();
  const before = gatewayBytes();
  const result = await ingestReadings(device, { patient, readings: readingsFrom(await chainNow(ethers.provider), readings), readingsPerRecord: perRecord, delegate: false });
  const [gas] = await gasUsedOf(url, [result.transactionHash]);
  return { bytesPerReading: round((gatewayBytes() - before) / readings), anchorGasPerReading: Math.round(Number(gas) / readings), records: result.records.length };
}
await ingestCost(10, 10); // warm-up (JIT, the gateway's caches)
const perRecordCurve = [];
for (const perRecord of READINGS_PER_RECORD) perRecordCurve.push({ readingsPerRecord: perRecord, ...(await ingestCost(100, perRecord)) });
const perPatientCurve = [];
for (const readings of READINGS_PER_PATIENT) perPatientCurve.push({ readingsPerPatient: readings, ...(await ingestCost(readings, 50)) });
log(`readings: ${JSON.stringify(perRecordCurve)} ${JSON.stringify(perPatientCurve)}`);

// ── Active patients: their own CKKS keys, their inputs encrypted and firewalled up front ─────
const inputsNeeded = POPULATIONS.length * LOAD + RATES.reduce((sum, r) => sum + r * RATE_SECONDS, 0);
const active: { wallet: Wallet; fhe: FheClient; client: ReturnType<typeof createGatewayClient>; nonce: number }[] = [];
for (let i = 0; i < ACTIVE; i++) {
  const wallet = new Wallet(hexlify(randomBytes(32)));
  await rpc(url, "hardhat_setBalance", [wallet.address, funded]);
  const fhe = await FheClient.generate("ckks-2048-v1");
  const keys = fhe.evaluationKeys();
  const keysHash = sha256Hex(keys);
  const client = createGatewayClient({ url: gateway.url, signer: wallet, chainId: BENCH_CHAIN_ID, gatewayAddress: gatewayKey.address, transport: createNodeHttpTransport() });
  await (await suite.identity.connect(wallet.connect(ethers.provider)).registerPatient(keysHash, encodeBytes32String("ckks-2048-v1"), `${gateway.url}/v1/blobs/${keysHash}`, hexlify(randomBytes(32)))).wait();
  await client.put(keys, { owner: wallet.address, kind: "he-keys", category: Category.PREDICTION });
  active.push({ wallet, fhe, client, nonce: await ethers.provider.getTransactionCount(wallet.address) });
}
await sponsorPatients(suite, active.map((p) => p.wallet.address), 1_000n * 10n ** 18n);
log(`${ACTIVE} active patients; encrypting ${inputsNeeded} inputs`);
const signedRequests: string[] = [];
for (let i = 0; i < inputsNeeded; i++) {
  const p = active[i % ACTIVE]!;
  const modelIndex = i % 2;
  const reading: Record<string, number> = modelIndex === 0
    ? { age: 20 + (i % 40), systolicBP: 100 + (i % 60), diastolicBP: 60 + (i % 30), bloodGlucose: 6 + (i % 10), bodyTemp: 98, heartRate: 60 + (i % 30) }
    : { age: 40 + (i % 30), sex: i % 2, cp: 1 + (i % 4), trestbps: 110 + (i % 50), chol: 180 + (i % 120), fbs: i % 2, restecg: i % 3, thalach: 120 + (i % 60), exang: i % 2, oldpeak: (i % 40) / 10, slope: 1 + (i % 3), ca: i % 4, thal: [3, 6, 7][i % 3]! };
  const { blobId } = await p.client.putFirewalled(p.fhe.encrypt(artifacts[modelIndex]!, reading), { owner: p.wallet.address, category: Category.PREDICTION });
  const data = routerInterface.encodeFunctionData("requestPrediction", [p.wallet.address, modelIds[modelIndex]!, blobId, `${gateway.url}/v1/blobs/${blobId}`]);
  signedRequests.push(await p.wallet.signTransaction({ to: a.PredictionRouter, data, nonce: p.nonce++, gasLimit: 400_000n, chainId: BENCH_CHAIN_ID, ...FEES }));
}
let nextRequest = 0;

// ── The population: patients registered on-chain in signed batches ──────────────────────────
let population = ACTIVE;
async function growPopulation(to: number): Promise<void> {
  const wallets = Array.from({ length: Math.max(0, to - population) }, () => new Wallet(hexlify(randomBytes(32))));
  for (let i = 0; i < wallets.length; i += 100) {
    await rpcBatch(url, wallets.slice(i, i + 100).map((w) => ({ method: "hardhat_setBalance", params: [w.address, "0x" + (10n ** 17n).toString(16)] })));
  }
  // Signed and sent 500 at a time, so the node's connection never sits idle while we sign.
  let lastHash: string | undefined;
  for (let i = 0; i < wallets.length; i += 500) {
    const raws = await Promise.all(wallets.slice(i, i + 500).map((w) => {
      const keysHash = hexlify(randomBytes(32));
      const data = identityInterface.encodeFunctionData("registerPatient", [keysHash, encodeBytes32String("ckks-2048-v1"), `${gateway.url}/v1/blobs/${keysHash}`, hexlify(randomBytes(32))]);
      return w.signTransaction({ to: a.IdentityRegistry, data, nonce: 0, gasLimit: 300_000n, chainId: BENCH_CHAIN_ID, ...FEES });
    }));
    lastHash = (await sendRawBatches(url, raws, 50)).at(-1);
  }
  if (lastHash) await waitUntil(async () => Boolean(await rpc(url, "eth_getTransactionReceipt", [lastHash])), "population registered", SETTLE_TIMEOUT_MS);
  population = to;
}

// ── The oracle, and the measured load ───────────────────────────────────────────────────────
await rpc(url, "evm_setAutomine", [false]);
await rpc(url, "evm_setIntervalMining", [BLOCK_MS]);
const startBlock = Number(await rpc(url, "eth_blockNumber")) + 1;
const oracle = await startOracleProcess({
  RPC_URL: url, OPERATOR_ADDRESS: a.Operator, ROUTER_ADDRESS: a.PredictionRouter, CHAIN_ID: BENCH_CHAIN_ID,
  PRIVATE_KEY: oracleKey.privateKey, GATEWAY_URL: gateway.url, GATEWAY_ADDRESS: gatewayKey.address,
  PRIVATE_MODEL_MASK_KEY: hexlify(randomBytes(32)), START_BLOCK: startBlock, CONFIRMATIONS: 1, POLL_INTERVAL_MS: 100, WORKER_THREADS: 2,
}, join(work, "oracle"));
const watcher = watchRequests(url, { router: a.PredictionRouter }, startBlock);
log("oracle started");

type StageResult = { requests: number; settled: number; achievedPerSecond: number; p95Ms: number; gasPerRequest: number; oracleCpuMsPerRequest: number; gatewayCpuMsPerRequest: number };
/** Sends `count` requests at `rate` per second, waits for all to settle, and measures them. */
async function stage(count: number, rate: number): Promise<StageResult> {
  const raws = signedRequests.slice(nextRequest, nextRequest + count);
  nextRequest += count;
  const cpu0 = { oracle: cpuSecondsOf(oracle.pid) ?? NaN, gateway: gateway.cpuSeconds() ?? NaN };
  const sent = new Set<string>();
  const start = performance.now();
  for (let k = 0; k < raws.length; k++) {
    const wait = start + (k * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    for (const hash of await sendRawBatches(url, [raws[k]!])) sent.add(hash.toLowerCase());
  }
  const ids = () => watcher.requestsOf(sent);
  await waitUntil(() => ids().length >= raws.length, "requests mined", SETTLE_TIMEOUT_MS);
  const requestIds = ids();
  await waitUntil(() => requestIds.every((id) => watcher.settled.has(id)), "requests settled", SETTLE_TIMEOUT_MS).catch(() => log("some requests did not settle in time"));
  const settledIds = requestIds.filter((id) => watcher.settled.has(id));
  const cpu = { oracle: (cpuSecondsOf(oracle.pid) ?? NaN) - cpu0.oracle, gateway: (gateway.cpuSeconds() ?? NaN) - cpu0.gateway };
  const firstSettled = Math.min(...settledIds.map((id) => watcher.settled.get(id)!.at));
  const lastSettled = Math.max(...settledIds.map((id) => watcher.settled.get(id)!.at));
  // Gas: each request's own transaction plus its share of the fulfilment transaction that settled it.
  const fulfilTxs = [...new Set(settledIds.map((id) => watcher.settled.get(id)!.transactionHash))];
  const fulfilGas = new Map((await gasUsedOf(url, fulfilTxs)).map((gas, i) => [fulfilTxs[i]!, gas]));
  const perTx = new Map<string, number>();
  for (const id of settledIds) perTx.set(watcher.settled.get(id)!.transactionHash, (perTx.get(watcher.settled.get(id)!.transactionHash) ?? 0) + 1);
  const requestGas = await gasUsedOf(url, settledIds.map((id) => watcher.minedAt.get(id)!.transactionHash));
  const gas = settledIds.reduce((sum, id, i) => {
    const tx = watcher.settled.get(id)!.transactionHash;
    return sum + Number(requestGas[i]!) + Number(fulfilGas.get(tx)!) / perTx.get(tx)!;
  }, 0);
  return {
    requests: raws.length,
    settled: settledIds.length,
    // Results land once a block: n settlements spread over (last − first) + one block of time.
    // (Counting from the first request mined would charge one latency to every stage and put the
    // knee at the lowest rate of short stages.)
    achievedPerSecond: round(settledIds.length / ((lastSettled - firstSettled + BLOCK_MS) / 1000)),
    p95Ms: Math.round(percentile(settledIds.map((id) => watcher.settled.get(id)!.at - watcher.minedAt.get(id)!.at), 95)),
    gasPerRequest: Math.round(gas / Math.max(1, settledIds.length)),
    oracleCpuMsPerRequest: round((cpu.oracle * 1000) / Math.max(1, settledIds.length)),
    gatewayCpuMsPerRequest: round((cpu.gateway * 1000) / Math.max(1, settledIds.length)),
  };
}

await stage(ACTIVE, LOAD_RATE); // warm-up, not reported (the daemon's first second compiles its hot paths)
const patientsCurve = [];
for (const size of POPULATIONS) {
  log(`population → ${size}`);
  await growPopulation(size);
  const result = await stage(LOAD, LOAD_RATE);
  patientsCurve.push({ patients: size, ...result });
  log(`  ${JSON.stringify(result)}`);
}
const rateCurve = [];
for (const rate of RATES) {
  log(`rate ${rate}/s for ${RATE_SECONDS} s`);
  const result = await stage(rate * RATE_SECONDS, rate);
  rateCurve.push({ offeredPerSecond: rate, ...result });
  log(`  ${JSON.stringify(result)}`);
}
const baseP95 = rateCurve[0]!.p95Ms;
const kneeStage = rateCurve.find((r) => r.achievedPerSecond < 0.9 * r.offeredPerSecond || r.p95Ms > 2 * baseP95);
const knee = kneeStage
  ? { offeredPerSecond: kneeStage.offeredPerSecond, achievedPerSecond: kneeStage.achievedPerSecond, p95Ms: kneeStage.p95Ms, reason: kneeStage.achievedPerSecond < 0.9 * kneeStage.offeredPerSecond ? "throughput below 90% of offered" : "p95 above twice the lowest rate's" }
  : { offeredPerSecond: null, reason: `no knee up to ${RATES.at(-1)}/s` };

await watcher.stop();
await oracle.stop();
await gateway.stop();
for (const p of active) p.fhe.dispose();
chain.stop();
await connection.close();

const column = <T, K extends keyof T>(rows: T[], key: K) => rows.map((r) => r[key]);
const results = {
  patients: {
    patients: column(patientsCurve, "patients"),
    gasPerRequest: column(patientsCurve, "gasPerRequest"),
    oracleCpuMsPerRequest: column(patientsCurve, "oracleCpuMsPerRequest"),
    gatewayCpuMsPerRequest: column(patientsCurve, "gatewayCpuMsPerRequest"),
    p95Ms: column(patientsCurve, "p95Ms"),
    settled: column(patientsCurve, "settled"),
    requests: column(patientsCurve, "requests"),
  },
  rate: {
    offeredPerSecond: column(rateCurve, "offeredPerSecond"),
    achievedPerSecond: column(rateCurve, "achievedPerSecond"),
    p95Ms: column(rateCurve, "p95Ms"),
    gasPerRequest: column(rateCurve, "gasPerRequest"),
    oracleCpuMsPerRequest: column(rateCurve, "oracleCpuMsPerRequest"),
    gatewayCpuMsPerRequest: column(rateCurve, "gatewayCpuMsPerRequest"),
    settled: column(rateCurve, "settled"),
    requests: column(rateCurve, "requests"),
  },
  knee,
  readings: {
    readingsPerRecord: column(perRecordCurve, "readingsPerRecord"),
    gatewayBytesPerReading: column(perRecordCurve, "bytesPerReading"),
    anchorGasPerReading: column(perRecordCurve, "anchorGasPerReading"),
    readingsPerPatient: column(perPatientCurve, "readingsPerPatient"),
    gatewayBytesPerReadingByPatient: column(perPatientCurve, "bytesPerReading"),
    anchorGasPerReadingByPatient: column(perPatientCurve, "anchorGasPerReading"),
  },
  setup: {
    blockMs: BLOCK_MS, confirmations: 1, activePatients: ACTIVE, loadPerPopulation: LOAD, loadRatePerSecond: LOAD_RATE, rateSeconds: RATE_SECONDS,
    node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "?", loadAverage: loadavg().map((l) => round(l, 2)),
  },
};

console.log("\nPatients (same load at each size):");
console.table(patientsCurve.map(({ patients, gasPerRequest, oracleCpuMsPerRequest, gatewayCpuMsPerRequest, p95Ms, settled }) => ({ patients, gasPerRequest, oracleCpuMsPerRequest, gatewayCpuMsPerRequest, p95Ms, settled })));
console.log("Request rate:");
console.table(rateCurve.map(({ offeredPerSecond, achievedPerSecond, p95Ms, oracleCpuMsPerRequest, gatewayCpuMsPerRequest, settled, requests }) => ({ offeredPerSecond, achievedPerSecond, p95Ms, oracleCpuMsPerRequest, gatewayCpuMsPerRequest, settled, requests })));
console.log(`Knee: ${JSON.stringify(knee)}`);
console.log("Readings:");
console.table([...perRecordCurve.map((r) => ({ readings: 100, ...r })), ...perPatientCurve.map((r) => ({ readings: r.readingsPerPatient, readingsPerRecord: 50, bytesPerReading: r.bytesPerReading, anchorGasPerReading: r.anchorGasPerReading, records: r.records }))]);

const svg = renderPanels([
  { title: "Gas per request vs patients", xLabel: "registered patients", yLabel: "gas", logX: true, series: [{ name: "request + fulfilment", points: patientsCurve.map((r) => [r.patients, r.gasPerRequest]) }] },
  { title: "Latency and oracle CPU vs patients", xLabel: "registered patients", yLabel: "ms", logX: true, series: [{ name: "p95 latency", points: patientsCurve.map((r) => [r.patients, r.p95Ms]) }, { name: "oracle CPU per request", points: patientsCurve.map((r) => [r.patients, r.oracleCpuMsPerRequest]) }] },
  { title: "Throughput vs offered rate", xLabel: "offered requests/s", yLabel: "settled requests/s", marker: knee.offeredPerSecond ? { x: knee.offeredPerSecond, label: "knee" } : undefined, series: [{ name: "achieved", points: rateCurve.map((r) => [r.offeredPerSecond, r.achievedPerSecond]) }, { name: "offered", points: rateCurve.map((r) => [r.offeredPerSecond, r.offeredPerSecond]) }] },
  { title: "p95 latency vs offered rate", xLabel: "offered requests/s", yLabel: "ms", marker: knee.offeredPerSecond ? { x: knee.offeredPerSecond, label: "knee" } : undefined, series: [{ name: "p95", points: rateCurve.map((r) => [r.offeredPerSecond, r.p95Ms]) }] },
  { title: "Gateway storage per reading", xLabel: "readings per record", yLabel: "bytes", logX: true, series: [{ name: "bytes/reading", points: perRecordCurve.map((r) => [r.readingsPerRecord, r.bytesPerReading]) }] },
  { title: "Anchoring gas per reading", xLabel: "readings per record", yLabel: "gas", logX: true, series: [{ name: "gas/reading", points: perRecordCurve.map((r) => [r.readingsPerRecord, r.anchorGasPerReading]) }] },
], 2, `npm run bench:scale · ${results.setup.cpus} × ${results.setup.cpuModel} · Node ${process.version} · 1 s blocks`);

mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
writeFileSync(join(ROOT, "bench", "results", "scale.json"), JSON.stringify(results, null, 2) + "\n");
writeFileSync(join(ROOT, "bench", "results", "scale.svg"), svg);
log("wrote bench/results/scale.json and bench/results/scale.svg");
process.exit(0);
