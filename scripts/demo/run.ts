/**
 * The end-to-end demo behind `npm start`: the whole MedCipher system on an embedded chain.
 *
 * Everything is real and in this one process except the chain's separate consumers: the EDR
 * chain (served over JSON-RPC on loopback for the oracle), the contract suite deployed through
 * Ignition, the gateway on loopback, the oracle daemon with its SQLite job store and worker
 * threads, SEAL for every encryption and evaluation. The "client" parts (patient's phone,
 * wearable, clinician's app) hold the only secret keys; the oracle and gateway never see them.
 */
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { AuditEvent, Bundle, Consent } from "@medplum/fhirtypes";
import { hexlify, randomBytes, Wallet } from "ethers";
import { network } from "hardhat";
import { pino } from "pino";

import { serveJsonRpc } from "../../deploy/jsonRpcServer.js";
import { deployMedCipher, sponsorPatients } from "../../deploy/local.js";
import { modelRegistration } from "../../deploy/models.js";
import { FheClient, loadModel, predictionFromScores, scoreReading, type ModelArtifact, type Reading as FeatureReading } from "../../fhe/index.js";
import { startGatewayService } from "../../gateway/service.js";
import { loadMaternalRisk, loadHeartDisease, MATERNAL_CLASSES, type Dataset } from "../../models/datasets.js";
import { loadSettings } from "../../oracle/config/settings.js";
import { startOracle } from "../../oracle/daemon.js";
import { createMlDsaSigner, generateMlDsaKeyPair } from "../../core/crypto/mldsa.js";
import { bindDevicePq } from "../../sdk/actions/bindDevicePq.js";
import { getAuditTrail } from "../../sdk/actions/getAuditTrail.js";
import { getPredictionResult } from "../../sdk/actions/getPredictionResult.js";
import { grantConsent } from "../../sdk/actions/grantConsent.js";
import { ingestReadings } from "../../sdk/actions/ingestReadings.js";
import { listConsents } from "../../sdk/actions/listConsents.js";
import { publishHybridEncryptionKey } from "../../sdk/actions/publishHybridEncryptionKey.js";
import { readDelegatedRecords } from "../../sdk/actions/readDelegatedRecords.js";
import { readSharedRecord } from "../../sdk/actions/readSharedRecord.js";
import { registerDevice } from "../../sdk/actions/registerDevice.js";
import { registerPatient } from "../../sdk/actions/registerPatient.js";
import { requestPrediction } from "../../sdk/actions/requestPrediction.js";
import { revokeConsent } from "../../sdk/actions/revokeConsent.js";
import type { RecordRef } from "../../sdk/actions/types.js";
import { verifyRecordSignature } from "../../sdk/actions/verifyRecordSignature.js";
import { shareRecord } from "../../sdk/actions/shareRecord.js";
import { waitForPrediction } from "../../sdk/actions/waitForPrediction.js";
import type { MedCipherAddresses } from "../../protocol/contracts.js";
import { requireGateway, type MedCipherClient } from "../../sdk/client.js";
import { createMedCipherClient } from "../../sdk/node.js";
import { Category, Purpose } from "../../protocol/codes.js";
import { generateHybridKeyPair } from "../../sdk/crypto/hybrid.js";
import { generateEncryptionKeyPair } from "../../sdk/crypto/x25519.js";
import { paramSetIdToBytes32 } from "../../sdk/predictions.js";
import { parseSealedRecord } from "../../sdk/crypto/envelope.js";
import type { Reading } from "../../sdk/fhir/observations.js";
import { parseReadingsCsv } from "../../sdk/readings/csv.js";
import { modelInputsFromReadings } from "../../sdk/readings/modelInputs.js";
import { runCrossChainStep, type CrossChainDemoSummary } from "./crosschain.js";
import { runPrivacySteps, type PrivacyDemoSummary } from "./privacy.js";
import { stepPrinter } from "./primitives.js";

export type DemoOptions = {
  /** Where progress lines go (default: stdout). */
  print?: (line: string) => void;
  /** Held-out rows predicted per model (default 4). */
  rowsPerModel?: number;
  /** Working directory for the gateway's blobs, the oracle's job store and the logs (default: a temp dir). */
  dataDir?: string;
};

export type DemoPrediction = {
  model: string;
  row: number;
  truth: string;
  encrypted: { label: string; probabilities: number[] };
  plaintext: { label: string; probabilities: number[] };
  maxProbabilityDifference: number;
};

export type DemoSummary = {
  dataDir: string;
  predictions: DemoPrediction[];
  clinicianReadReadings: number;
  clinicianRefusedAfterRevoke: boolean;
  /** Step 6: readings of the records the wearable uploaded after the grant, read by the clinician with the patient offline. */
  delegatedReadReadings: number;
  /** Step 9: delegated records the clinician could still read of those uploaded after the revocation (0). */
  delegatedAfterRevoke: number;
  /** The wrap algorithm of the records' data keys, and the device signature on them. */
  recordProtection: { wrap: string; signature: string };
  auditEvents: number;
  auditHeadVerified: boolean;
  /** The FHIR R4 resources the demo produced: the clinician's decrypted Bundle, the patient's Consents, the audit trail. */
  fhir: { sharedBundle: Bundle; consents: Consent[]; auditEvents: AuditEvent[] };
  oracleJobs: Record<string, number>;
  /** Steps 11–14: the anonymous prediction, the group consent and the researcher's read, what a chain observer links. */
  privacy: PrivacyDemoSummary;
  /** Step 15: the consent mirrored to a destination chain, used there (the destination's gateway and oracle serve the request, the patient decrypts), revoked, refused. */
  crossChain: CrossChainDemoSummary;
};

const HOUR_SECONDS = 3_600;

export async function runDemo(options: DemoOptions = {}): Promise<DemoSummary> {
  const print = options.print ?? ((line: string) => console.log(line));
  const step = stepPrinter(print);
  const info = (text: string) => print(`    ${text}`);
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "medcipher-demo-")));
  const rowsPerModel = options.rowsPerModel ?? 4;
  const closers: (() => Promise<unknown>)[] = [];

  try {
    // ── 1. The chain ────────────────────────────────────────────────────────────────────────
    step(1, "Embedded chain: Hardhat EDR in this process, served over JSON-RPC on loopback");
    const connection = await network.create();
    closers.push(() => connection.close());
    const { ethers } = connection;
    const rpc = await serveJsonRpc(connection.provider);
    closers.push(() => rpc.close());
    const [funder] = await ethers.getSigners();
    const fresh = async () => {
      const wallet = new Wallet(Wallet.createRandom().privateKey, ethers.provider);
      await (await funder!.sendTransaction({ to: wallet.address, value: 10n ** 19n })).wait();
      return wallet;
    };
    const oracleKey = await fresh();
    const gatewayKey = await fresh();
    const vendor = await fresh();
    info(`JSON-RPC ${rpc.url}, chain id ${(await ethers.provider.getNetwork()).chainId}`);

    // ── 2. Contracts ────────────────────────────────────────────────────────────────────────
    step(2, "Deploy the contract suite (Ignition) and register both prediction models");
    const artifacts: ModelArtifact[] = [loadModel("maternal-risk-v1"), loadModel("heart-disease-lr-v1")];
    const suite = await deployMedCipher(connection, {
      oracleSenders: [oracleKey.address],
      roles: { gateways: [gatewayKey.address], deviceVendors: [vendor.address] },
      models: artifacts.map((artifact) => modelRegistration(artifact)),
    });
    const addresses: MedCipherAddresses = suite.addresses;
    for (const [name, address] of Object.entries(suite.addresses)) info(`${name.padEnd(17)} ${address}`);
    const modelIdOf = new Map(artifacts.map((artifact, i) => [artifact.id, Number(suite.modelIds[i])]));
    for (const artifact of artifacts) {
      info(`model #${modelIdOf.get(artifact.id)} ${artifact.id} (${artifact.paramSetId}, ${artifact.isPrivate ? "private" : "public"} weights, held-out accuracy ${artifact.metrics.heldOut.accuracy})`);
    }

    // ── 3. Gateway and oracle ───────────────────────────────────────────────────────────────
    step(3, "Start the encrypted-storage gateway and the oracle daemon");
    const gatewayLog = join(dataDir, "gateway.log");
    const gateway = await startGatewayService({
      dataDir: join(dataDir, "gateway"),
      provider: ethers.provider,
      addresses,
      signingKey: gatewayKey.signingKey,
      anchorSigner: gatewayKey,
      anchorIntervalMs: 0,
      logger: pino({ level: "info" }, pino.destination({ dest: gatewayLog, sync: true })),
    });
    closers.push(() => gateway.close());
    info(`gateway ${gateway.url} (response key ${gateway.address}, logs ${gatewayLog})`);
    const oracleLog = join(dataDir, "oracle.log");
    const oracle = await startOracle({
      settings: loadSettings({
        env: {},
        overrides: {
          RPC_URL: rpc.url,
          OPERATOR_ADDRESS: suite.addresses.Operator,
          ROUTER_ADDRESS: suite.addresses.PredictionRouter,
          PRIVATE_KEY: oracleKey.privateKey,
          GATEWAY_URL: gateway.url,
          GATEWAY_ADDRESS: gateway.address,
          PRIVATE_MODEL_MASK_KEY: hexlify(randomBytes(32)),
          DATA_DIR: join(dataDir, "oracle"),
          HTTP_PORT: 0,
          POLL_INTERVAL_MS: 100,
          CONFIRMATIONS: 1,
        },
      }),
      logDestination: pino.destination({ dest: oracleLog, sync: true }),
    });
    closers.push(() => oracle.stop());
    info(`oracle ${oracle.address} (ops ${oracle.url}/metrics, logs ${oracleLog})`);

    // ── 4. Patient ──────────────────────────────────────────────────────────────────────────
    step(4, "Patient: wallet, hybrid X25519 + ML-KEM-768 key pair and CKKS key set on the device; register on-chain");
    const maternal = loadMaternalRisk();
    const heart = loadHeartDisease();
    const [maternalModel, heartModel] = artifacts as [ModelArtifact, ModelArtifact];
    const patientRow = maternalModel.training.split.testRows[0]!;
    const patientVitals = maternal.rows[patientRow]!;
    const patientWallet = await fresh();
    const patientKey = await generateHybridKeyPair();
    const patient = await createMedCipherClient({ account: patientWallet, addresses, gatewayUrl: gateway.url, encryptionKey: patientKey });
    const fhe = await FheClient.generate(maternalModel.paramSetId);
    closers.push(async () => fhe.dispose());
    const registered = await registerPatient(patient, { encryptionPublicKey: patientKey.x25519.publicKey, evaluationKeys: fhe.evaluationKeys(), paramSetId: paramSetIdToBytes32(maternalModel.paramSetId) });
    info(`patient ${patient.address}: evaluation keys ${registered.keysHash.slice(0, 18)}… committed on-chain; the secret key never leaves this client`);
    const patientHybrid = await publishHybridEncryptionKey(patient, { key: patientKey });
    info(`hybrid encryption key published (1216 B in the event, keccak256 ${short(patientHybrid.keyHash)} stored): record keys are wrapped to it from now on`);
    await sponsorPatients(suite, [patient.address]);
    info("governance sponsors the patient's predictions (a LINK budget from the router's pool)");

    // ── 5. Device ───────────────────────────────────────────────────────────────────────────
    step(5, "Wearable: vendor registers it, the patient binds it with its ML-DSA-65 key, it ingests a day of vitals");
    const deviceWallet = await fresh();
    const vendorClient = await createMedCipherClient({ account: vendor, addresses, gatewayUrl: gateway.url });
    await registerDevice(vendorClient, { device: deviceWallet.address });
    const latestBlock = await ethers.provider.getBlock("latest");
    const devicePqKey = await generateMlDsaKeyPair();
    const pqSigner = await createMlDsaSigner(devicePqKey);
    const bound = await bindDevicePq(patient, { device: deviceWallet, expiresAt: latestBlock!.timestamp + 30 * 24 * HOUR_SECONDS, pqPublicKey: devicePqKey.publicKey });
    info(`binding commits to the device's ML-DSA-65 key (keccak256 ${short(bound.pqKeyHash)}); the gateway refuses its unsigned records`);
    const device = await createMedCipherClient({ account: deviceWallet, addresses, gatewayUrl: gateway.url });
    const csvPath = join(dataDir, "readings.csv");
    await writeFile(csvPath, dayOfReadings(patientVitals, latestBlock!.timestamp));
    const { readings } = parseReadingsCsv(await readFile(csvPath, "utf8"));
    const ingest = await ingestReadings(device, { patient: patient.address, readings, readingsPerRecord: 24, pqSigner });
    const recordProtection = await protectionOf(patient, ingest.records[0]!);
    info(`${readings.length} signed readings → ${ingest.records.length} FHIR bundles, each AES-256-GCM encrypted, key wrapped ${recordProtection.wrap}, signed ${recordProtection.signature} and checked by the gateway → one Merkle root ${ingest.root.slice(0, 18)}… anchored`);

    // ── 6. Clinician, consent, sharing ─────────────────────────────────────────────────────
    step(6, "Clinician: the patient signs a consent (EIP-712), a relayer pays the gas; the clinician reads a shared record, then new records with the patient offline");
    const clinicianWallet = await fresh();
    const clinicianKey = await generateHybridKeyPair();
    const clinician = await createMedCipherClient({ account: clinicianWallet, addresses, gatewayUrl: gateway.url, encryptionKey: clinicianKey });
    await publishHybridEncryptionKey(clinician, { key: clinicianKey });
    const relayer = await fresh();
    const now = (await ethers.provider.getBlock("latest"))!.timestamp;
    await grantConsent(patient, { grantee: clinician.address, purpose: Purpose.TREAT, categories: [Category.VITAL_SIGNS], validUntil: now + 7 * 24 * HOUR_SECONDS, relayer });
    const { shareId } = await shareRecord(patient, { record: ingest.records[0]!, grantee: clinician.address });
    const shared = await readSharedRecord(clinician, { shareId, purpose: Purpose.TREAT });
    info(`consent TREAT/vital-signs for 7 days; clinician decrypted ${shared.readings.length} readings, commitment verified against the anchored batch`);
    const observations = (shared.bundle.entry ?? []).map((e) => e.resource?.meta?.profile?.[0]?.split("/").pop() ?? "laboratory");
    info(`the shared record is a FHIR R4 Bundle of ${observations.length} Observations (${[...new Set(observations)].join(", ")}): blood pressure as one bp panel per reading pair`);
    const consents = (await listConsents(patient)).map((g) => g.fhir);
    // The patient's phone is now offline: the wearable wraps each new record's key to the live grantee.
    const fromBlock = await ethers.provider.getBlockNumber();
    const nextHour = await ingestReadings(device, { patient: patient.address, readings: shiftHours(readings.slice(-10), 1), readingsPerRecord: 10, pqSigner });
    const delegated = await readDelegatedRecords(clinician, { patient: patient.address, purpose: Purpose.TREAT, fromBlock });
    const delegatedReadReadings = delegated.records.reduce((n, r) => n + r.readings.length, 0);
    info(`patient offline: the wearable uploaded ${nextHour.records.length} new record and wrapped its key to ${nextHour.delegation?.shares.length ?? 0} live grantee; the clinician found and decrypted ${delegatedReadReadings} readings from the chain's anchors and its own key`);

    // ── 7. Predictions ─────────────────────────────────────────────────────────────────────
    step(7, "Encrypted predictions: the device encrypts each feature tuple, the oracle evaluates it blind");
    const features = modelInputsFromReadings({ model: maternalModel, readings, known: { age: patientVitals.age! } });
    const jobs: { model: ModelArtifact; row: number; truth: string; reading: FeatureReading; requestId: string }[] = [];
    const own = await requestPrediction(patient, { modelId: modelIdOf.get(maternalModel.id)!, fhe, readings: features });
    jobs.push({ model: maternalModel, row: patientRow, truth: labelOf(maternalModel, maternal, patientRow), reading: features, requestId: own.requestId });
    info(`request ${short(own.requestId)}: maternal risk from today's wearable readings (input ${short(own.inputHash)}, ${formatReading(features)})`);
    for (const [model, data] of [[maternalModel, maternal], [heartModel, heart]] as const) {
      for (const row of model.training.split.testRows.slice(1, rowsPerModel)) {
        const reading = data.rows[row]!;
        const { requestId } = await requestPrediction(patient, { modelId: modelIdOf.get(model.id)!, fhe, readings: reading });
        jobs.push({ model, row, truth: labelOf(model, data, row), reading, requestId });
        info(`request ${short(requestId)}: ${model.id}, held-out row ${row}`);
      }
    }

    step(8, "Oracle fulfils on-chain; the patient fetches each result, checks its hash against the chain and decrypts");
    const predictions: DemoPrediction[] = [];
    for (const job of jobs) {
      await waitForPrediction(patient, { requestId: job.requestId, timeoutMs: 120_000, pollMs: 100 });
      const result = await getPredictionResult(patient, { requestId: job.requestId, fhe, keysHash: registered.keysHash });
      const encrypted = result.predictions[0]!;
      // The same model on the same reading, in plaintext, through the same output function.
      const plaintext = predictionFromScores(job.model, scoreReading(job.model, job.reading));
      const difference = Math.max(...encrypted.probabilities.map((p, i) => Math.abs(p - plaintext.probabilities[i]!)));
      predictions.push({
        model: job.model.id, row: job.row, truth: job.truth, maxProbabilityDifference: difference,
        encrypted: { label: encrypted.label, probabilities: encrypted.probabilities },
        plaintext: { label: plaintext.label, probabilities: plaintext.probabilities },
      });
    }
    printPredictionTable(print, predictions);

    // ── 9. Revocation ──────────────────────────────────────────────────────────────────────
    step(9, "The patient revokes the clinician's consent; the gateway refuses from the next block on");
    await revokeConsent(patient, { grantee: clinician.address, purpose: Purpose.TREAT });
    let refused = false;
    try {
      await readSharedRecord(clinician, { shareId, purpose: Purpose.TREAT });
    } catch (error) {
      refused = (error as { code?: string }).code === "GATEWAY_FORBIDDEN";
      info(`clinician refused: ${(error as { shortMessage?: string }).shortMessage ?? String(error)}`);
    }
    if (!refused) throw new Error("the clinician could still read after revocation");
    const afterRevokeBlock = await ethers.provider.getBlockNumber();
    const lateHour = await ingestReadings(device, { patient: patient.address, readings: shiftHours(readings.slice(-10), 2), readingsPerRecord: 10, pqSigner });
    let delegatedAfterRevoke = 0;
    try {
      delegatedAfterRevoke = (await readDelegatedRecords(clinician, { patient: patient.address, purpose: Purpose.TREAT, fromBlock: afterRevokeBlock })).records.length;
    } catch (error) {
      if ((error as { code?: string }).code !== "GATEWAY_FORBIDDEN") throw error;
    }
    info(`a record uploaded after the revocation was wrapped to ${lateHour.delegation?.shares.length ?? 0} grantees; the clinician reads ${delegatedAfterRevoke} of them`);

    // ── 10. Audit ──────────────────────────────────────────────────────────────────────────
    step(10, "Audit trail: chain events + the gateway's hash-chained access log, anchored on-chain");
    await gateway.anchorer!.anchorNow();
    const trail = await getAuditTrail(patient);
    const byEvent = new Map<string, number>();
    for (const item of trail.chain) byEvent.set(item.event, (byEvent.get(item.event) ?? 0) + 1);
    info(`chain: ${[...byEvent].map(([event, count]) => `${event}×${count}`).join(", ")}`);
    const accesses = new Map<string, number>();
    for (const entry of trail.gateway) accesses.set(`${entry.action}:${entry.outcome}`, (accesses.get(`${entry.action}:${entry.outcome}`) ?? 0) + 1);
    info(`gateway: ${[...accesses].map(([kind, count]) => `${kind}×${count}`).join(", ")}`);
    info(`${trail.events.length} FHIR AuditEvents; audit head anchored on-chain ${trail.anchoredHead?.verified ? "and verified" : "but NOT verified"}`);

    // ── 11–14. The same, unlinkable ───────────────────────────────────────────────────────
    // Other patients of the clinic register too: an anonymity set of one would be no anonymity.
    const neighbours: Wallet[] = [];
    for (let i = 0; i < 3; i++) {
      const wallet = await fresh();
      const client = await createMedCipherClient({ account: wallet, addresses, gatewayUrl: gateway.url });
      const keys = await FheClient.generate(maternalModel.paramSetId);
      await registerPatient(client, { encryptionPublicKey: (await generateEncryptionKeyPair()).publicKey, evaluationKeys: keys.evaluationKeys(), paramSetId: paramSetIdToBytes32(maternalModel.paramSetId) });
      keys.dispose();
      neighbours.push(wallet);
    }
    const privacy = await runPrivacySteps({
      print, provider: ethers.provider, rpcUrl: rpc.url, chainId: Number((await ethers.provider.getNetwork()).chainId), suite,
      gateway: { url: gateway.url, address: gateway.address, dataDir: join(dataDir, "gateway") }, fresh,
      patients: [patientWallet, ...neighbours], model: maternalModel, modelId: modelIdOf.get(maternalModel.id)!, readings: features,
      recordBlobId: ingest.records[0]!.blobId, plaintextScores: scoreReading(maternalModel, features), closers,
    }, 11);

    // ── 15. Across chains ─────────────────────────────────────────────────────────────────
    const crossChain = await runCrossChainStep({
      print, connection, rpcUrl: rpc.url, suite, fresh, dataDir, closers,
      models: artifacts.map((artifact) => modelRegistration(artifact)), modelIndex: 0, artifact: maternalModel,
      patient, patientWallet, fhe, keysHash: registered.keysHash, clinicianWallet, readings: features,
    }, 15);

    const summary: DemoSummary = {
      dataDir,
      predictions,
      clinicianReadReadings: shared.readings.length,
      clinicianRefusedAfterRevoke: refused,
      delegatedReadReadings,
      delegatedAfterRevoke,
      recordProtection,
      auditEvents: trail.events.length,
      auditHeadVerified: trail.anchoredHead?.verified === true,
      fhir: { sharedBundle: shared.bundle, consents, auditEvents: trail.events },
      oracleJobs: await oracle.jobCounts(),
      privacy,
      crossChain,
    };
    print(`\nDone: ${predictions.length} encrypted predictions, ${predictions.filter((p) => p.encrypted.label === p.plaintext.label).length} agree with the plaintext model; files in ${dataDir}`);
    return summary;
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  }
}

/** 24 hourly readings of each vital the maternal model uses, drifting towards the dataset row's values. */
function dayOfReadings(vitals: Record<string, number>, endSeconds: number): string {
  const lines = ["time,metric,value,unit"];
  const series: [string, string, number, number][] = [
    ["systolic_bp", "mm[Hg]", vitals.systolicBP!, 0],
    ["diastolic_bp", "mm[Hg]", vitals.diastolicBP!, 0],
    ["glucose", "mg/dL", vitals.bloodGlucose! * 18.016, 1],
    ["body_temperature", "Cel", ((vitals.bodyTemp! - 32) * 5) / 9, 2],
    ["heart_rate", "/min", vitals.heartRate!, 0],
  ];
  for (let hour = 23; hour >= 0; hour--) {
    const time = endSeconds - hour * HOUR_SECONDS;
    for (const [metric, unit, value, decimals] of series) {
      const wobble = hour === 0 ? 0 : Math.sin(hour + metric.length) * 0.04 * value;
      lines.push(`${time},${metric},${(value + wobble).toFixed(decimals)},${unit}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** The readings moved `hours` later (a later upload of the same wearable). */
function shiftHours(readings: readonly Reading[], hours: number): Reading[] {
  return readings.map((r) => ({ ...r, time: new Date(Date.parse(r.time) + hours * HOUR_SECONDS * 1000).toISOString() }));
}

/** What protects a stored record, as its owner reads it back: the data key's wrap and the device's signature (checked). */
async function protectionOf(patient: MedCipherClient, record: RecordRef): Promise<{ wrap: string; signature: string }> {
  const blob = await requireGateway(patient).get(record.blobId, { purpose: Purpose.PATRQT });
  const { envelope, deviceSignature } = await verifyRecordSignature(patient, { blob, patient: record.patient, category: record.category });
  return { wrap: parseSealedRecord(envelope).header.wrap.alg, signature: deviceSignature ? "ML-DSA-65" : "none" };
}

function labelOf(model: ModelArtifact, data: Dataset, row: number): string {
  const label = data.labels[row]!;
  return model.output.labels[label] ?? MATERNAL_CLASSES[label] ?? String(label);
}

function printPredictionTable(print: (line: string) => void, predictions: DemoPrediction[]): void {
  const rows = predictions.map((p) => [
    p.model,
    String(p.row),
    p.truth,
    `${p.encrypted.label} (${p.encrypted.probabilities.map((x) => x.toFixed(3)).join(" / ")})`,
    `${p.plaintext.label} (${p.plaintext.probabilities.map((x) => x.toFixed(3)).join(" / ")})`,
    p.maxProbabilityDifference.toExponential(1),
  ]);
  const header = ["model", "row", "truth", "decrypted (encrypted evaluation)", "plaintext model", "max |Δp|"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `    ${cells.map((c, i) => c.padEnd(widths[i]!)).join("  ")}`;
  print(line(header));
  print(line(widths.map((w) => "-".repeat(w))));
  for (const row of rows) print(line(row));
}

function formatReading(reading: FeatureReading): string {
  return Object.entries(reading).map(([k, v]) => `${k}=${Number(v.toFixed(1))}`).join(" ");
}

function short(hex: string): string {
  return `${hex.slice(0, 10)}…`;
}

