/**
 * `npm run bench:gateway` — authenticated reads of 200 KiB encrypted records from concurrent
 * clients on loopback, with consent checked on-chain. Prints a table and writes
 * bench/results/gateway.json.
 *
 * Set-up (main thread): the in-process chain (EDR) with the suite deployed, the gateway service
 * (directory store, chain policy, audit log, audit anchoring every 5 s) on 127.0.0.1, one patient
 * with BLOBS records of 200 KiB, CLIENTS clinicians each holding a TREAT consent for VITAL_SIGNS.
 * A transaction is mined every second during the run (BENCH_BLOCK_MS; 0 = none), so the gateway's
 * per-block view cache is invalidated and consent is re-read from the chain each block
 * (blockNumberTtlMs = 250). The audit head is anchored every 5 s (BENCH_ANCHOR_MS).
 * BENCH_CLIENTS (default 8) and BENCH_SECONDS (default 10) shape the load.
 *
 * Load (one worker thread, the second core): CLIENTS clients, each a loop of signed GET
 * requests through the SDK gateway client, which checks the gateway's response signature and the
 * blob's SHA-256. Each read = request signature + its check + chain-policy check + disk read +
 * integrity hash + audit append + response signature + client verification.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { isMainThread, parentPort, Worker } from "node:worker_threads";

const BLOB_BYTES = 200 * 1024;
const BLOBS = 32;
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8);
const WARMUP_SECONDS = 2;
const MEASURE_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
/** A transaction (hence a block, hence fresh consent reads) this often; 0 = no blocks during the run. */
const BLOCK_EVERY_MS = Number(process.env.BENCH_BLOCK_MS ?? 1_000);
/** Audit-head anchoring period during the run. */
const ANCHOR_EVERY_MS = Number(process.env.BENCH_ANCHOR_MS ?? 5_000);

type WorkerJob = { url: string; chainId: number; gatewayAddress: string; blobIds: string[]; clientKeys: string[]; warmupMs: number; measureMs: number; session: boolean };
type WorkerReport = { latenciesMs: number[]; errors: Record<string, number>; measuredMs: number; clientThreadUtilization: number; gatewayThreadUtilization?: number };

async function clientWorker(): Promise<void> {
  const { Wallet } = await import("ethers");
  const { createGatewayClient } = await import("../../sdk/gateway/client.js");
  parentPort!.once("message", async (job: WorkerJob) => {
    const latenciesMs: number[] = [];
    const errors: Record<string, number> = {};
    const start = performance.now();
    let elu: ReturnType<typeof performance.eventLoopUtilization> | undefined;
    setTimeout(() => { elu = performance.eventLoopUtilization(); }, job.warmupMs);
    const measureFrom = start + job.warmupMs;
    const end = measureFrom + job.measureMs;
    await Promise.all(job.clientKeys.map(async (key, index) => {
      const client = createGatewayClient({ url: job.url, signer: new Wallet(key), chainId: job.chainId, gatewayAddress: job.gatewayAddress, session: job.session });
      let i = index;
      while (performance.now() < end) {
        const blobId = job.blobIds[i++ % job.blobIds.length]!;
        const t0 = performance.now();
        try {
          await client.get(blobId, { purpose: 1 });
          if (t0 >= measureFrom) latenciesMs.push(performance.now() - t0);
        } catch (error) {
          const code = (error as { code?: string }).code ?? "UNKNOWN";
          errors[code] = (errors[code] ?? 0) + 1;
        }
      }
    }));
    const clientThreadUtilization = performance.eventLoopUtilization(elu).utilization;
    parentPort!.postMessage({ latenciesMs, errors, measuredMs: performance.now() - measureFrom, clientThreadUtilization } satisfies WorkerReport);
  });
  parentPort!.postMessage("ready");
}

async function main(): Promise<void> {
  const { mkdtemp, rm } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { randomBytes, Wallet } = await import("ethers");
  const { network } = await import("hardhat");
  const { pino } = await import("pino");
  const { deployMedCipher } = await import("../../deploy/local.js");
  const { startGatewayService } = await import("../../gateway/service.js");
  const { createMedCipherClient } = await import("../../sdk/client.js");
  const { registerPatient } = await import("../../sdk/actions/registerPatient.js");
  const { grantConsent } = await import("../../sdk/actions/grantConsent.js");
  const { generateEncryptionKeyPair } = await import("../../sdk/crypto/x25519.js");
  const { Category, Purpose } = await import("../../sdk/codes.js");
  type Addresses = import("../../sdk/chain/contracts.js").MedCipherAddresses;

  console.log(`bench:gateway — ${CLIENTS} clients, ${BLOBS} blobs of ${BLOB_BYTES / 1024} KiB, ${MEASURE_SECONDS} s measured after ${WARMUP_SECONDS} s warm-up`);
  const connection = await network.create();
  const { ethers } = connection;
  const [funder] = await ethers.getSigners();
  const gatewayKey = new Wallet(Wallet.createRandom().privateKey, ethers.provider);
  const oracle = Wallet.createRandom();
  const suite = await deployMedCipher(connection, { oracleSenders: [oracle.address], roles: { gateways: [gatewayKey.address] } });
  const addresses = suite.addresses as unknown as Addresses;
  const fund = async (address: string) => (await funder!.sendTransaction({ to: address, value: 10n ** 19n })).wait();
  await fund(gatewayKey.address);

  const dataDir = await mkdtemp(join(tmpdir(), "medcipher-bench-"));
  const service = await startGatewayService({
    dataDir,
    provider: ethers.provider,
    addresses,
    signingKey: gatewayKey.signingKey,
    anchorSigner: gatewayKey,
    anchorIntervalMs: ANCHOR_EVERY_MS,
    blockNumberTtlMs: 250,
    limits: { ratePerSecond: 10_000, burst: 10_000 },
    logger: pino({ level: "warn" }),
  });

  const patientWallet = new Wallet(Wallet.createRandom().privateKey, ethers.provider);
  await fund(patientWallet.address);
  const patientKey = await generateEncryptionKeyPair();
  const patient = await createMedCipherClient({ account: patientWallet, addresses, gatewayUrl: service.url, encryptionKey: patientKey });
  await registerPatient(patient, { encryptionPublicKey: patientKey.publicKey, evaluationKeys: randomBytes(4096), paramSetId: ethers.encodeBytes32String("bench") });
  const blobIds: string[] = [];
  for (let i = 0; i < BLOBS; i++) blobIds.push(await patient.gateway!.put(randomBytes(BLOB_BYTES), { owner: patientWallet.address, kind: "record", category: Category.VITAL_SIGNS }));
  const clinicians = Array.from({ length: CLIENTS }, () => Wallet.createRandom());
  const validUntil = Math.floor(Date.now() / 1000) + 86_400;
  for (const clinician of clinicians) {
    await grantConsent(patient, { grantee: clinician.address, purpose: Purpose.TREAT, categories: [Category.VITAL_SIGNS], validUntil });
  }

  // A block a second: the view cache is per block, so consent is re-read from the chain each second.
  let blocks = 0;
  const producer = BLOCK_EVERY_MS > 0
    ? setInterval(() => { void funder!.sendTransaction({ to: funder!.address, value: 0 }).then(() => blocks++); }, BLOCK_EVERY_MS)
    : undefined;

  const api = import.meta.resolve("tsx/esm/api");
  const bootstrap = `import(${JSON.stringify(api)}).then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const chainId = Number((await ethers.provider.getNetwork()).chainId);
  async function runPhase(session: boolean): Promise<WorkerReport> {
    const worker = new Worker(bootstrap, { eval: true });
    await new Promise<void>((resolve, reject) => { worker.once("message", () => resolve()); worker.once("error", reject); });
    let elu: ReturnType<typeof performance.eventLoopUtilization> | undefined;
    const eluTimer = setTimeout(() => { elu = performance.eventLoopUtilization(); }, WARMUP_SECONDS * 1000);
    const report = await new Promise<WorkerReport>((resolve, reject) => {
      worker.once("message", (r: WorkerReport) => {
        clearTimeout(eluTimer);
        resolve({ ...r, gatewayThreadUtilization: performance.eventLoopUtilization(elu).utilization });
      });
      worker.once("error", reject);
      worker.postMessage({
        url: service.url, chainId, gatewayAddress: gatewayKey.address, blobIds, session,
        clientKeys: clinicians.map((c) => c.privateKey), warmupMs: WARMUP_SECONDS * 1000, measureMs: MEASURE_SECONDS * 1000,
      } satisfies WorkerJob);
    });
    await worker.terminate();
    return report;
  }
  console.log("phase 1/2: session mode (EIP-712 session, Ed25519 per request and response)");
  const report = await runPhase(true);
  console.log("phase 2/2: direct mode (EIP-712 secp256k1 signature on every request and response)");
  const direct = await runPhase(false);
  clearInterval(producer);
  const anchored = await service.anchorer!.anchorNow().catch(() => undefined);
  await service.close();
  await connection.close();
  await rm(dataDir, { recursive: true, force: true });

  const round = (x: number) => Math.round(x * 10) / 10;
  const summarise = (r: WorkerReport) => {
    const sorted = [...r.latenciesMs].sort((a, b) => a - b);
    const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
    const share = (x: number | undefined) => Math.round((x ?? 0) * 100) / 100;
    return {
      readsPerSecond: round(sorted.length / (r.measuredMs / 1000)), p50: round(pct(0.5)), p95: round(pct(0.95)), p99: round(pct(0.99)),
      reads: sorted.length, errors: r.errors, seconds: round(r.measuredMs / 1000),
      gatewayThreadBusy: share(r.gatewayThreadUtilization), clientThreadBusy: share(r.clientThreadUtilization),
    };
  };
  const s = summarise(report);
  const d = summarise(direct);
  const results = {
    authenticatedReadsPerSecond: s.readsPerSecond,
    p50ReadMs: s.p50,
    p95ReadMs: s.p95,
    p99ReadMs: s.p99,
    reads: s.reads,
    errors: s.errors,
    authentication: "session mode: one EIP-712 session signature per client, Ed25519 signature on every request and response",
    eventLoopBusy: { gatewayThread: s.gatewayThreadBusy, clientThread: s.clientThreadBusy },
    direct: {
      authentication: "EIP-712 secp256k1 signature on every request and every response",
      readsPerSecond: d.readsPerSecond, p50ReadMs: d.p50, p95ReadMs: d.p95, p99ReadMs: d.p99, reads: d.reads, errors: d.errors,
      eventLoopBusy: { gatewayThread: d.gatewayThreadBusy, clientThread: d.clientThreadBusy },
    },
    blobBytes: BLOB_BYTES,
    clients: CLIENTS,
    measuredSeconds: s.seconds,
    blocksDuringRun: blocks,
    blockEveryMs: BLOCK_EVERY_MS,
    anchorEveryMs: ANCHOR_EVERY_MS,
    auditEntriesAnchored: anchored?.seq ?? null,
    consentCheck: "ConsentManager.hasAccess via eth_call, cached per block; block number reused for 250 ms",
    loadAverageAtEnd: loadavg()[0],
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "unknown", node: process.version },
    targets: { authenticatedReadsPerSecond: 300, p95ReadMs: 50 },
    date: new Date().toISOString(),
  };
  mkdirSync("bench/results", { recursive: true });
  writeFileSync("bench/results/gateway.json", `${JSON.stringify(results, null, 2)}\n`);
  const errorCount = (e: Record<string, number>) => Object.values(e).reduce((a, b) => a + b, 0);
  console.table({
    authenticatedReadsPerSecond: { session: s.readsPerSecond, direct: d.readsPerSecond, target: "≥ 300" },
    p50ReadMs: { session: s.p50, direct: d.p50, target: "" },
    p95ReadMs: { session: s.p95, direct: d.p95, target: "≤ 50" },
    p99ReadMs: { session: s.p99, direct: d.p99, target: "" },
    reads: { session: s.reads, direct: d.reads, target: "" },
    errors: { session: errorCount(s.errors), direct: errorCount(d.errors), target: "0" },
    gatewayThreadBusy: { session: s.gatewayThreadBusy, direct: d.gatewayThreadBusy, target: "" },
    clientThreadBusy: { session: s.clientThreadBusy, direct: d.clientThreadBusy, target: "" },
  });
  console.log("wrote bench/results/gateway.json");
}

if (isMainThread) await main();
else await clientWorker();
