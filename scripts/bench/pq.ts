/**
 * `npm run bench:pq` — what the post-quantum and reverse-firewall work costs (issue 13). Prints a
 * table and writes bench/results/pq.json, all measured in this one run:
 *   wrapMs / unwrapMs        median hybrid (X25519 + ML-KEM-768, HKDF-SHA256, AES-256-GCM) wrap and
 *                            unwrap of a 32-byte data key (sdk/crypto/envelope.ts)
 *   wrapMsClassic            median X25519-only wrap of the same key
 *   wrappedKeyBytes          the hybrid wrap as stored (JSON), classic beside it
 *   mldsaSignMs / mldsaVerifyMs
 *                            median ML-DSA-65 sign / verify of a signed record's header (core/crypto/mldsa.ts)
 *   firewallMsPerCiphertext  median reverse-firewall cost (check + re-randomise) per CKKS input
 *                            ciphertext (fhe/firewall.ts), on the maternal-risk model's input
 *   ingestReadingsPerSecondClassic / ingestReadingsPerSecondPq
 *                            readings per second through the whole ingest path on a real EDR chain
 *                            and a real gateway on loopback: per record of READINGS_PER_RECORD
 *                            readings, the device seals and uploads the record and the batch is
 *                            anchored, and the record's CKKS model input is encrypted and stored.
 *                            Classic: X25519 wrap, no record signature, input PUT as sent. PQ: hybrid
 *                            wrap, an ML-DSA-65 signature per record checked by the gateway, and the
 *                            input through the gateway's firewall. Same readings, same gateway.
 *   delegatedShareMsPerRecord
 *                            what delegated sharing adds per record and live grantee: a hybrid wrap,
 *                            a sealed box and one gateway PUT (sdk/actions/delegateRecordKey.ts)
 *
 * Run: `hardhat run scripts/bench/pq.ts` (BENCH_PQ_ITERATIONS, default 200; BENCH_PQ_READINGS, default 1200).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

import { Wallet } from "ethers";
import { network } from "hardhat";
import { pino } from "pino";

import { generateMlDsaKeyPair, createMlDsaSigner, mlDsaSign, mlDsaVerify } from "../../core/crypto/mldsa.js";
import { deployMedCipher, sponsorPatients } from "../../deploy/local.js";
import { FheClient, loadModel, type ModelArtifact } from "../../fhe/index.js";
import { firewallInput, loadFirewallKey } from "../../fhe/firewall.js";
import { startGatewayService } from "../../gateway/service.js";
import { Category } from "../../protocol/codes.js";
import type { MedCipherAddresses } from "../../protocol/contracts.js";
import { RECORD_SIGNATURE_CONTEXT } from "../../protocol/signedRecord.js";
import { bindDevice } from "../../sdk/actions/bindDevice.js";
import { bindDevicePq } from "../../sdk/actions/bindDevicePq.js";
import { delegateRecordKey } from "../../sdk/actions/delegateRecordKey.js";
import { ingestReadings } from "../../sdk/actions/ingestReadings.js";
import { publishHybridEncryptionKey } from "../../sdk/actions/publishHybridEncryptionKey.js";
import { registerDevice } from "../../sdk/actions/registerDevice.js";
import { registerPatient } from "../../sdk/actions/registerPatient.js";
import { chainNow } from "../../sdk/chain/time.js";
import { requireGateway } from "../../sdk/client.js";
import { generateHybridKeyPair, hybridPublicKey } from "../../sdk/crypto/hybrid.js";
import { unwrapDataKey, wrapDataKey } from "../../sdk/crypto/envelope.js";
import { generateEncryptionKeyPair } from "../../sdk/crypto/x25519.js";
import type { Reading } from "../../sdk/fhir/observations.js";
import { createMedCipherClient } from "../../sdk/node.js";
import { paramSetIdToBytes32 } from "../../sdk/predictions.js";

const ITERATIONS = Number(process.env.BENCH_PQ_ITERATIONS ?? 200);
const READINGS = Number(process.env.BENCH_PQ_READINGS ?? 1_200);
const READINGS_PER_RECORD = 50;
const TARGETS = { wrapMs: 2, mldsaVerifyMs: 1, firewallMsPerCiphertext: 2, pqOverClassicThroughput: 0.5 };

const round = (v: number, digits = 3) => Number(v.toFixed(digits));
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
/** Median ms of `fn` over `n` runs, after a tenth as many warm-up runs. */
async function timeMedian(n: number, fn: (i: number) => unknown): Promise<number> {
  for (let i = 0; i < Math.max(3, n / 10); i++) await fn(i);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await fn(i);
    times.push(performance.now() - start);
  }
  return median(times);
}

// ── Key wrapping ─────────────────────────────────────────────────────────────────────────────
console.error(`wrapping: ${ITERATIONS} runs each`);
const dataKey = globalThis.crypto.getRandomValues(new Uint8Array(32));
const classicRecipient = await generateEncryptionKeyPair();
const hybridRecipient = await generateHybridKeyPair();
const hybridKey = hybridPublicKey(hybridRecipient);
const wrapMsClassic = await timeMedian(ITERATIONS, () => wrapDataKey(dataKey, classicRecipient.publicKey));
const wrapMs = await timeMedian(ITERATIONS, () => wrapDataKey(dataKey, hybridKey));
const hybridWrapped = await wrapDataKey(dataKey, hybridKey);
const unwrapMs = await timeMedian(ITERATIONS, () => unwrapDataKey(hybridWrapped, hybridRecipient));
const wrappedKeyBytes = new TextEncoder().encode(JSON.stringify(hybridWrapped)).length;
const wrappedKeyBytesClassic = new TextEncoder().encode(JSON.stringify(await wrapDataKey(dataKey, classicRecipient.publicKey))).length;

// ── ML-DSA-65 ────────────────────────────────────────────────────────────────────────────────
console.error(`ML-DSA-65: ${ITERATIONS} signatures`);
const deviceKey = await generateMlDsaKeyPair();
// A signed record's header is ~2.9 KB of JSON (it carries the 1952-byte public key, base64url).
const header = globalThis.crypto.getRandomValues(new Uint8Array(2_900));
const signatures: Uint8Array[] = [];
const mldsaSignMs = await timeMedian(ITERATIONS, async () => { signatures.push(await mlDsaSign(deviceKey.seed, header, RECORD_SIGNATURE_CONTEXT)); });
const mldsaVerifyMs = await timeMedian(ITERATIONS, async (i) => {
  if (!(await mlDsaVerify(deviceKey.publicKey, signatures[i % signatures.length]!, header, RECORD_SIGNATURE_CONTEXT))) throw new Error("a genuine signature did not verify");
});

// ── Reverse firewall ─────────────────────────────────────────────────────────────────────────
const model: ModelArtifact = loadModel("maternal-risk-v1");
const featureTuple = { age: 29, systolicBP: 120, diastolicBP: 80, bloodGlucose: 7.1, bodyTemp: 98.6, heartRate: 76 };
const fhe = await FheClient.generate(model.paramSetId);
const evaluationKeys = fhe.evaluationKeys();
const firewallKey = await loadFirewallKey(evaluationKeys, model.paramSetId);
const sampleInput = fhe.encrypt(model, featureTuple);
const ciphertextsPerInput = firewallInput(firewallKey, sampleInput, { model }).ciphertexts;
console.error(`firewall: ${Math.min(ITERATIONS, 100)} inputs of ${ciphertextsPerInput} ciphertext(s)`);
const firewallMsPerInput = await timeMedian(Math.min(ITERATIONS, 100), () => firewallInput(firewallKey, sampleInput, { model }));
const firewallMsPerCiphertext = firewallMsPerInput / ciphertextsPerInput;

// ── Ingest, classic and post-quantum, on a chain and a gateway ──────────────────────────────
console.error(`ingest: ${READINGS} readings per path, ${READINGS_PER_RECORD} per record`);
const connection = await network.create();
const { ethers } = connection;
const [funder] = await ethers.getSigners();
const fresh = async () => {
  const wallet = new Wallet(Wallet.createRandom().privateKey, ethers.provider);
  await (await funder!.sendTransaction({ to: wallet.address, value: 10n ** 19n })).wait();
  return wallet;
};
const gatewayKey = await fresh();
const vendor = await fresh();
const suite = await deployMedCipher(connection, { oracleSenders: [(await fresh()).address], roles: { gateways: [gatewayKey.address], deviceVendors: [vendor.address] } });
const addresses = suite.addresses as unknown as MedCipherAddresses;
const dataDir = await mkdtemp(join(tmpdir(), "medcipher-bench-pq-"));
// "offered": the classic path's direct input PUT and the PQ path's firewalled one, on one gateway.
const gateway = await startGatewayService({
  dataDir, provider: ethers.provider, addresses, signingKey: gatewayKey.signingKey, anchorIntervalMs: 0, firewall: "offered",
  logger: pino({ level: "warn" }, pino.destination({ dest: join(dataDir, "gateway.log"), sync: true })),
});
const vendorClient = await createMedCipherClient({ account: vendor, addresses, gatewayUrl: gateway.url });

async function patientAndDevice(pq: boolean) {
  const patientWallet = await fresh();
  const classicKey = await generateEncryptionKeyPair();
  const hybrid = pq ? await generateHybridKeyPair() : undefined;
  const patient = await createMedCipherClient({ account: patientWallet, addresses, gatewayUrl: gateway.url, encryptionKey: hybrid ?? classicKey });
  const keys = fhe.evaluationKeys();
  await registerPatient(patient, { encryptionPublicKey: hybrid?.x25519.publicKey ?? classicKey.publicKey, evaluationKeys: keys, paramSetId: paramSetIdToBytes32(model.paramSetId) });
  if (hybrid) await publishHybridEncryptionKey(patient, { key: hybridPublicKey(hybrid) });
  await sponsorPatients(suite, [patient.address]);
  const deviceWallet = await fresh();
  await registerDevice(vendorClient, { device: deviceWallet.address });
  const expiresAt = (await chainNow(ethers.provider)) + 30 * 86_400;
  const pqKey = pq ? await generateMlDsaKeyPair() : undefined;
  if (pqKey) await bindDevicePq(patient, { device: deviceWallet, expiresAt, pqPublicKey: pqKey.publicKey });
  else await bindDevice(patient, { device: deviceWallet, expiresAt });
  const device = await createMedCipherClient({ account: deviceWallet, addresses, gatewayUrl: gateway.url });
  return { patient, device, pqSigner: pqKey ? await createMlDsaSigner(pqKey) : undefined };
}

function readingsFrom(startSeconds: number): Reading[] {
  const metrics = ["heart_rate", "systolic_bp", "diastolic_bp", "glucose", "body_temperature"] as const;
  const values = { heart_rate: 76, systolic_bp: 120, diastolic_bp: 80, glucose: 127.9, body_temperature: 37 };
  return Array.from({ length: READINGS }, (_, i) => {
    const metric = metrics[i % metrics.length]!;
    return { time: new Date((startSeconds - (READINGS - i) * 60) * 1000).toISOString(), metric, value: Number((values[metric] + (i % 7) * 0.1).toFixed(1)) };
  });
}

/** Readings per second: every record sealed, (signed,) uploaded, anchored, and its model input stored (firewalled on the PQ path). */
async function ingestThroughput(pq: boolean): Promise<{ readingsPerSecond: number; records: number }> {
  const { patient, device, pqSigner } = await patientAndDevice(pq);
  const readings = readingsFrom(await chainNow(ethers.provider));
  const records = Math.ceil(READINGS / READINGS_PER_RECORD);
  const start = performance.now();
  await ingestReadings(device, { patient: patient.address, readings, readingsPerRecord: READINGS_PER_RECORD, pqSigner, delegate: false });
  for (let i = 0; i < records; i++) {
    const input = fhe.encrypt(model, { ...featureTuple, heartRate: 70 + i });
    const parameters = { owner: patient.address, kind: "he-input" as const, category: Category.PREDICTION };
    if (pq) await requireGateway(patient).putFirewalled(input, parameters);
    else await requireGateway(patient).put(input, parameters);
  }
  return { readingsPerSecond: READINGS / ((performance.now() - start) / 1000), records };
}

// One unmeasured warm-up of each path (JIT, SEAL, the gateway's key cache), then the measured runs.
await ingestThroughput(false);
await ingestThroughput(true);
const classic = await ingestThroughput(false);
const pq = await ingestThroughput(true);

// ── Delegated sharing per record ─────────────────────────────────────────────────────────────
const { patient: sharer, device: sharerDevice, pqSigner: sharerSigner } = await patientAndDevice(true);
const shared = await ingestReadings(sharerDevice, { patient: sharer.address, readings: readingsFrom(await chainNow(ethers.provider)).slice(0, READINGS_PER_RECORD * 4), readingsPerRecord: READINGS_PER_RECORD, pqSigner: sharerSigner, delegate: false });
const grantee = await generateHybridKeyPair();
const granteeWallet = Wallet.createRandom();
const delegatedShareMsPerRecord = await timeMedian(Math.min(ITERATIONS, 60), (i) =>
  delegateRecordKey(sharerDevice, { record: shared.records[i % shared.records.length]!, dataKey, grantee: granteeWallet.address, granteeEncryptionKey: hybridPublicKey(grantee) }));

await gateway.close();
await connection.close();
await rm(dataDir, { recursive: true, force: true });
fhe.dispose();

// ── Report ───────────────────────────────────────────────────────────────────────────────────
const results = {
  generatedAt: new Date().toISOString(),
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model.trim() ?? "unknown", node: process.version, loadAverage: loadavg().map((l) => round(l, 2)) },
  notes: `medians of ${ITERATIONS} runs (firewall: of ${Math.min(ITERATIONS, 100)} inputs of ${ciphertextsPerInput} ciphertexts; delegation: of ${Math.min(ITERATIONS, 60)} shares); ingest: ${READINGS} readings per path, ${READINGS_PER_RECORD} per record, after one warm-up run of each path, EDR chain in process, gateway service on loopback (chain policy, firewall offered)`,
  wrapMs: round(wrapMs),
  unwrapMs: round(unwrapMs),
  wrapMsClassic: round(wrapMsClassic),
  wrappedKeyBytes,
  wrappedKeyBytesClassic,
  mldsaSignMs: round(mldsaSignMs),
  mldsaVerifyMs: round(mldsaVerifyMs),
  firewallMsPerCiphertext: round(firewallMsPerCiphertext),
  firewallCiphertextsPerInput: ciphertextsPerInput,
  ingestReadingsPerSecondClassic: round(classic.readingsPerSecond, 1),
  ingestReadingsPerSecondPq: round(pq.readingsPerSecond, 1),
  pqOverClassicThroughput: round(pq.readingsPerSecond / classic.readingsPerSecond, 2),
  delegatedShareMsPerRecord: round(delegatedShareMsPerRecord, 2),
  targets: TARGETS,
};
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/pq.json", JSON.stringify(results, null, 2) + "\n");

const rows: [string, string, string][] = [
  ["hybrid wrap (X25519 + ML-KEM-768)", `${results.wrapMs} ms`, `≤ ${TARGETS.wrapMs} ms`],
  ["hybrid unwrap", `${results.unwrapMs} ms`, ""],
  ["classic wrap (X25519)", `${results.wrapMsClassic} ms`, ""],
  ["wrapped key (hybrid / classic)", `${wrappedKeyBytes} B / ${wrappedKeyBytesClassic} B`, ""],
  ["ML-DSA-65 sign", `${results.mldsaSignMs} ms`, ""],
  ["ML-DSA-65 verify", `${results.mldsaVerifyMs} ms`, `≤ ${TARGETS.mldsaVerifyMs} ms`],
  ["firewall per input ciphertext", `${results.firewallMsPerCiphertext} ms`, `≤ ${TARGETS.firewallMsPerCiphertext} ms`],
  ["ingest, classic", `${results.ingestReadingsPerSecondClassic} readings/s`, ""],
  ["ingest, PQ + firewall", `${results.ingestReadingsPerSecondPq} readings/s (${results.pqOverClassicThroughput}×)`, `≥ ${TARGETS.pqOverClassicThroughput}×`],
  ["delegated share per record and grantee", `${results.delegatedShareMsPerRecord} ms`, ""],
];
const width = Math.max(...rows.map((r) => r[0].length));
const valueWidth = Math.max(...rows.map((r) => r[1].length));
console.log(`\n${"measure".padEnd(width)}  ${"value".padEnd(valueWidth)}  target`);
for (const [name, value, target] of rows) console.log(`${name.padEnd(width)}  ${value.padEnd(valueWidth)}  ${target}`);
console.log(`\nwrote bench/results/pq.json (${results.machine.cpus} × ${results.machine.cpuModel}, Node ${results.machine.node})`);
