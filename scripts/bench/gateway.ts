/**
 * `npm run bench:gateway` — authenticated reads of 200 KiB encrypted records from concurrent
 * clients on loopback, with consent checked on-chain. Prints a table and writes
 * bench/results/gateway.json.
 *
 * Topology, as operators run it: the chain is the in-process EDR network served over JSON-RPC on
 * loopback (what `hardhat node` does); the gateway is its own process, started with the shipped
 * command `medcipher gateway serve` (directory store, chain policy over JSON-RPC, audit log,
 * audit-head anchoring every 5 s, JSON request logs to a file); one patient stores BLOBS records
 * of 200 KiB and CLIENTS clinicians each hold a TREAT consent for VITAL_SIGNS.
 * A transaction is mined every second during the run (BENCH_BLOCK_MS; 0 = none), so the gateway's
 * per-block view cache is invalidated and consent is re-read from the chain each block
 * (--block-ttl-ms 250). BENCH_CLIENTS (default 8) and BENCH_SECONDS (default 10) shape the load;
 * BENCH_GATEWAY_NODE_ARGS adds Node flags to the gateway process (profiling, GC tracing);
 * BENCH_TRACE=<prefix> writes every measured read as [start ms, latency ms] to <prefix>.<mode>.json.
 *
 * Load (one worker thread of this process): CLIENTS clients, each a loop of signed GET requests
 * through the SDK gateway client, which checks the gateway's response signature and the blob's
 * SHA-256. Each read = request signature + its check + chain-policy check + disk read + integrity
 * hash + audit append + access log line + response signature + client verification.
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
type WorkerReport = { latenciesMs: number[]; errors: Record<string, number>; measuredMs: number; clientThreadUtilization: number; gatewayProcessCpu?: number };

async function clientWorker(): Promise<void> {
  const { Wallet } = await import("ethers");
  const { createGatewayClient } = await import("../../sdk/gateway/client.js");
  const { createNodeHttpTransport } = await import("../../sdk/node/transport.js");
  parentPort!.once("message", async (job: WorkerJob) => {
    const latenciesMs: number[] = [];
    /** [start of the read after the warm-up, its latency] in ms, for BENCH_TRACE. */
    const trace: [number, number][] = [];
    const errors: Record<string, number> = {};
    const start = performance.now();
    let elu: ReturnType<typeof performance.eventLoopUtilization> | undefined;
    setTimeout(() => { elu = performance.eventLoopUtilization(); }, job.warmupMs);
    const measureFrom = start + job.warmupMs;
    const end = measureFrom + job.measureMs;
    await Promise.all(job.clientKeys.map(async (key, index) => {
      const client = createGatewayClient({ url: job.url, signer: new Wallet(key), chainId: job.chainId, gatewayAddress: job.gatewayAddress, session: job.session, transport: createNodeHttpTransport() });
      let i = index;
      while (performance.now() < end) {
        const blobId = job.blobIds[i++ % job.blobIds.length]!;
        const t0 = performance.now();
        try {
          await client.get(blobId, { purpose: 1 });
          if (t0 >= measureFrom) {
            const ms = performance.now() - t0;
            latenciesMs.push(ms);
            trace.push([Math.round(t0 - measureFrom), Math.round(ms)]);
          }
        } catch (error) {
          const code = (error as { code?: string }).code ?? "UNKNOWN";
          errors[code] = (errors[code] ?? 0) + 1;
        }
      }
      client.close();
    }));
    const clientThreadUtilization = performance.eventLoopUtilization(elu).utilization;
    if (process.env.BENCH_TRACE) writeFileSync(`${process.env.BENCH_TRACE}.${job.session ? "session" : "direct"}.json`, JSON.stringify(trace));
    parentPort!.postMessage({ latenciesMs, errors, measuredMs: performance.now() - measureFrom, clientThreadUtilization } satisfies WorkerReport);
  });
  parentPort!.postMessage("ready");
}

async function main(): Promise<void> {
  const { readFile } = await import("node:fs/promises");
  const { randomBytes, Wallet } = await import("ethers");
  const { network } = await import("hardhat");
  const { deployMedCipher } = await import("../../deploy/local.js");
  const { serveJsonRpc } = await import("../../deploy/jsonRpcServer.js");
  const { createMedCipherClient } = await import("../../sdk/client.js");
  const { connectContracts } = await import("../../protocol/contracts.js");
  const { registerPatient } = await import("../../sdk/actions/registerPatient.js");
  const { grantConsent } = await import("../../sdk/actions/grantConsent.js");
  const { generateEncryptionKeyPair } = await import("../../sdk/crypto/x25519.js");
  const { startGatewayProcess } = await import("./gatewayProcess.js");
  const { Category, Purpose } = await import("../../protocol/codes.js");
  type Addresses = import("../../protocol/contracts.js").MedCipherAddresses;

  console.log(`bench:gateway — ${CLIENTS} clients, ${BLOBS} blobs of ${BLOB_BYTES / 1024} KiB, ${MEASURE_SECONDS} s measured after ${WARMUP_SECONDS} s warm-up`);
  const connection = await network.create();
  const { ethers } = connection;
  const [funder] = await ethers.getSigners();
  const gatewayKey = Wallet.createRandom();
  const oracle = Wallet.createRandom();
  const suite = await deployMedCipher(connection, { oracleSenders: [oracle.address], roles: { gateways: [gatewayKey.address] } });
  const addresses = suite.addresses as unknown as Addresses;
  const fund = async (address: string) => (await funder!.sendTransaction({ to: address, value: 10n ** 19n })).wait();
  await fund(gatewayKey.address);
  const chainId = Number((await ethers.provider.getNetwork()).chainId);
  const rpc = await serveJsonRpc(connection.provider);

  // BENCH_GATEWAY_NODE_ARGS adds Node flags to the gateway process (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
  const gateway = await startGatewayProcess({
    rpcUrl: rpc.url, chainId, addresses, gatewayKey, anchorIntervalSeconds: ANCHOR_EVERY_MS / 1000,
    nodeArgs: process.env.BENCH_GATEWAY_NODE_ARGS?.split(" ").filter(Boolean),
  });
  const gatewayUrl = gateway.url;

  const patientWallet = new Wallet(Wallet.createRandom().privateKey, ethers.provider);
  await fund(patientWallet.address);
  const patientKey = await generateEncryptionKeyPair();
  const patient = await createMedCipherClient({ account: patientWallet, addresses, gatewayUrl, encryptionKey: patientKey });
  await registerPatient(patient, { encryptionPublicKey: patientKey.publicKey, evaluationKeys: randomBytes(4096), paramSetId: ethers.encodeBytes32String("bench") });
  const blobIds: string[] = [];
  for (let i = 0; i < BLOBS; i++) blobIds.push(await patient.gateway!.put(randomBytes(BLOB_BYTES), { owner: patientWallet.address, kind: "record", category: Category.VITAL_SIGNS }));
  patient.gateway!.close();
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
  async function runPhase(session: boolean): Promise<WorkerReport> {
    const worker = new Worker(bootstrap, { eval: true });
    await new Promise<void>((resolve, reject) => { worker.once("message", () => resolve()); worker.once("error", reject); });
    let cpuAtWarmupEnd: number | undefined;
    const cpuTimer = setTimeout(() => { cpuAtWarmupEnd = gateway.cpuSeconds(); }, WARMUP_SECONDS * 1000);
    const report = await new Promise<WorkerReport>((resolve, reject) => {
      worker.once("message", (r: WorkerReport) => {
        clearTimeout(cpuTimer);
        const cpuAtEnd = gateway.cpuSeconds();
        resolve({
          ...r, gatewayProcessCpu: cpuAtWarmupEnd !== undefined && cpuAtEnd !== undefined ? (cpuAtEnd - cpuAtWarmupEnd) / (r.measuredMs / 1000) : undefined,
        });
      });
      worker.once("error", reject);
      worker.postMessage({
        url: gatewayUrl, chainId, gatewayAddress: gatewayKey.address, blobIds, session,
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
  const accessLogLines = (await readFile(gateway.logFile, "utf8")).split("\n").filter((line) => line.includes('"msg":"request"')).length;
  const gatewayExitCode = await gateway.stop();
  const anchoredHead = await connectContracts(addresses, ethers.provider).auditAnchor.latestHead(gatewayKey.address);
  await rpc.close();
  await connection.close();
  if (gatewayExitCode !== 0) throw new Error(`the gateway exited with ${gatewayExitCode} on SIGTERM`);

  const round = (x: number) => Math.round(x * 10) / 10;
  const summarise = (r: WorkerReport) => {
    const sorted = [...r.latenciesMs].sort((a, b) => a - b);
    const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
    const share = (x: number | undefined) => Math.round((x ?? 0) * 100) / 100;
    return {
      readsPerSecond: round(sorted.length / (r.measuredMs / 1000)), p50: round(pct(0.5)), p95: round(pct(0.95)), p99: round(pct(0.99)),
      reads: sorted.length, errors: r.errors, seconds: round(r.measuredMs / 1000),
      gatewayProcessCpu: share(r.gatewayProcessCpu), clientThreadBusy: share(r.clientThreadUtilization),
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
    cpu: { gatewayProcessCores: s.gatewayProcessCpu, clientThreadBusy: s.clientThreadBusy },
    direct: {
      authentication: "EIP-712 secp256k1 signature on every request and every response",
      readsPerSecond: d.readsPerSecond, p50ReadMs: d.p50, p95ReadMs: d.p95, p99ReadMs: d.p99, reads: d.reads, errors: d.errors,
      cpu: { gatewayProcessCores: d.gatewayProcessCpu, clientThreadBusy: d.clientThreadBusy },
    },
    blobBytes: BLOB_BYTES,
    clients: CLIENTS,
    measuredSeconds: s.seconds,
    blocksDuringRun: blocks,
    blockEveryMs: BLOCK_EVERY_MS,
    anchorEveryMs: ANCHOR_EVERY_MS,
    auditEntriesAnchored: Number(anchoredHead.entryCount),
    accessLogLines,
    topology: "gateway: its own process (medcipher gateway serve); chain: in-process EDR served over JSON-RPC on loopback; clients: one worker thread",
    consentCheck: "ConsentManager.hasAccess via eth_call over JSON-RPC, cached per block; block number reused for 250 ms",
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
    gatewayProcessCpu: { session: s.gatewayProcessCpu, direct: d.gatewayProcessCpu, target: "" },
    clientThreadBusy: { session: s.clientThreadBusy, direct: d.clientThreadBusy, target: "" },
  });
  console.log("wrote bench/results/gateway.json");
}

if (isMainThread) await main();
else await clientWorker();
