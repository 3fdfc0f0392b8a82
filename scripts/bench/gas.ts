/**
 * Gas used by the MedCipher contracts' main operations, measured on the embedded EDR chain from
 * transaction receipts (so storage refunds are included). Prints a table and writes
 * bench/results/gas.json. Run: `npm run bench:gas`.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";

import { network } from "hardhat";
import { AbiCoder, Wallet, hexlify, keccak256, sha256, type ContractTransactionResponse } from "ethers";
import { Group } from "@semaphore-protocol/group";
import { Identity } from "@semaphore-protocol/identity";
import { generateProof } from "@semaphore-protocol/proof";

import { deployMedCipher, OutputKind, sponsorPatients } from "../../deploy/local.js";
import { encodeFulfilment, jobsFromReceipt } from "../../deploy/prediction.js";
import {
  ANCHOR_BATCH_TYPES,
  ANCHOR_RECORD_TYPES,
  BIND_DEVICE_TYPES,
  GRANT_CONSENT_TYPES,
  medCipherDomain,
} from "../../protocol/typedData.js";
import { Category, Purpose, RequestStatus, categoryBit } from "../../protocol/codes.js";
import { releaseProver } from "../../protocol/zk/prove.js";
import { buildMerkleBatch } from "../../sdk/crypto/commitment.js";
import { measureQuorumGas, QUORUM_GAS_RATIO_TARGET } from "./quorumGas.js";

const TARGETS: Record<string, number | undefined> = {
  anchorRecord: 55_000,
  anchorBatch: 60_000,
  grantConsentBySig: 90_000,
  grantConsentPrivate: 90_000,
  revokeConsentPrivate: 50_000,
};
const PREDICTION_ROUND_TRIP_TARGET = 300_000;
const ANONYMOUS_ROUND_TRIP_TARGET = 550_000;

const connection = await network.create();
// Signed messages carry deadlines and expiries taken from this clock: pinned, they give the same
// signatures, and so the same calldata gas (zero bytes are cheaper), on every run.
const BENCH_START = 2_000_000_000n;
await connection.networkHelpers.time.increaseTo(BENCH_START);
const { ethers } = connection;
const signers = await ethers.getSigners();
const signer = (i: number) => {
  const s = signers[i];
  if (!s) throw new Error("the bench needs 8 accounts");
  return s;
};
const [oracle, patient, provider, vendor, device, relayer, researcher] = [1, 2, 3, 4, 5, 6, 7].map(signer) as [
  ReturnType<typeof signer>, ReturnType<typeof signer>, ReturnType<typeof signer>, ReturnType<typeof signer>,
  ReturnType<typeof signer>, ReturnType<typeof signer>, ReturnType<typeof signer>,
];

const paramSetId = ethers.id("ckks-n4096-demo");
const suite = await deployMedCipher(connection, {
  oracleSenders: [oracle.address],
  onChainResults: true,
  roles: { providers: [provider.address], deviceVendors: [vendor.address] },
  models: [
    {
      name: "bench-logreg",
      version: "1.0.0",
      weightsHash: sha256(ethers.toUtf8Bytes("weights")),
      weightsUri: "medcipher://models/bench-logreg",
      paramSetId,
      encodingSpecHash: sha256(ethers.toUtf8Bytes("encoding")),
      outputKind: OutputKind.Sigmoid,
      isPrivate: false,
    },
  ],
});
const { chainId } = await ethers.provider.getNetwork();
// Deterministic stand-ins for blob hashes and ciphertexts: the same run gives the same figures
// (calldata gas depends on how many bytes are zero).
let counter = 0;
const blobHash = () => ethers.id(`medcipher-bench-${counter++}`);
function pseudoRandomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i += 32) out.set(ethers.getBytes(blobHash()).subarray(0, Math.min(32, length - i)), i);
  return out;
}
const blobUri = (hash: string) => `medcipher://blob/${hash}`;

async function gasOf(tx: Promise<ContractTransactionResponse>): Promise<number> {
  const receipt = await (await tx).wait();
  if (!receipt) throw new Error("no receipt");
  return Number(receipt.gasUsed);
}

const results: Record<string, number> = {};

// Set-up: a registered patient with a bound device (registration and a key-set rotation measured).
const keysHash = blobHash();
results.registerPatient = await gasOf(suite.identity.connect(patient).registerPatient(keysHash, paramSetId, blobUri(keysHash), blobHash()));
const rotatedKeysHash = blobHash();
results.rotateKeySet = await gasOf(suite.identity.connect(patient).rotateKeySet(rotatedKeysHash, paramSetId, blobUri(rotatedKeysHash)));
await sponsorPatients(suite, [patient.address]);
await (await suite.identity.connect(vendor).registerDevice(device.address, ethers.id("wearable-v1"))).wait();
const now = BENCH_START;
const bind = { device: device.address, patient: patient.address, expiresAt: now + 86_400n * 365n, nonce: 0n, deadline: now + 3600n };
const bindSig = await device.signTypedData(medCipherDomain("IdentityRegistry", chainId, suite.addresses.IdentityRegistry), BIND_DEVICE_TYPES, bind);
await (await suite.identity.connect(patient).bindDevice(device.address, bind.expiresAt, bind.deadline, bindSig)).wait();

// Records: one warm-up anchor so the measured one is a typical (not first-ever) anchor.
await (await suite.records.connect(patient).anchorRecord(patient.address, blobHash(), Category.LABORATORY, blobUri(blobHash()), ethers.ZeroHash)).wait();
const recordHash = blobHash();
results.anchorRecord = await gasOf(
  suite.records.connect(patient).anchorRecord(patient.address, blobHash(), Category.LABORATORY, blobUri(recordHash), ethers.ZeroHash),
);

const signedRecord = { patient: patient.address, recordId: blobHash(), category: Category.VITAL_SIGNS, uri: blobUri(blobHash()), supersedes: ethers.ZeroHash, deadline: now + 3600n };
const recordSig = await device.signTypedData(medCipherDomain("RecordRegistry", chainId, suite.addresses.RecordRegistry), ANCHOR_RECORD_TYPES, signedRecord);
results.anchorRecordBySig = await gasOf(
  suite.records.connect(relayer).anchorRecordBySig(signedRecord.patient, signedRecord.recordId, signedRecord.category, signedRecord.uri, signedRecord.supersedes, signedRecord.deadline, recordSig),
);

const readings = Array.from({ length: 1_000 }, () => blobHash());
const batch = buildMerkleBatch(readings);
const batchHash = blobHash();
results.anchorBatch = await gasOf(
  suite.records.connect(patient).anchorBatch(patient.address, batch.root, readings.length, Category.VITAL_SIGNS, blobUri(batchHash)),
);
const signedBatch = { patient: patient.address, root: buildMerkleBatch(readings.slice(0, 10)).root, count: 10n, category: Category.VITAL_SIGNS, uri: blobUri(blobHash()), deadline: now + 3600n };
const batchSig = await device.signTypedData(medCipherDomain("RecordRegistry", chainId, suite.addresses.RecordRegistry), ANCHOR_BATCH_TYPES, signedBatch);
results.anchorBatchBySig = await gasOf(
  suite.records.connect(relayer).anchorBatchBySig(signedBatch.patient, signedBatch.root, signedBatch.count, signedBatch.category, signedBatch.uri, signedBatch.deadline, batchSig),
);

// Consent.
const later = now + 86_400n * 30n;
// The patient's first consent change, signed: the nonce slot goes from zero to one (the most
// expensive case).
const grant = {
  patient: patient.address,
  grantee: researcher.address,
  purpose: Purpose.HRESCH,
  categories: categoryBit(Category.VITAL_SIGNS),
  validFrom: 0n,
  validUntil: later,
  nonce: await suite.consent.nonces(patient.address),
  deadline: now + 3600n,
};
const grantSig = await patient.signTypedData(medCipherDomain("ConsentManager", chainId, suite.addresses.ConsentManager), GRANT_CONSENT_TYPES, grant);
results.grantConsentBySig = await gasOf(
  suite.consent.connect(relayer).grantConsentBySig(grant.patient, grant.grantee, grant.purpose, grant.categories, grant.validFrom, grant.validUntil, grant.deadline, grantSig),
);
// A direct grant after it (every consent change consumes a nonce, so this one moves it 1 → 2).
results.grantConsent = await gasOf(
  suite.consent.connect(patient).grantConsent(provider.address, Purpose.TREAT, categoryBit(Category.LABORATORY) | categoryBit(Category.VITAL_SIGNS), 0, later),
);
results.revokeConsent = await gasOf(suite.consent.connect(patient).revokeConsent(researcher.address, Purpose.HRESCH));

// Predictions: a warm-up round trip, then the measured ones.
async function request(): Promise<{ gas: number; job: ReturnType<typeof jobsFromReceipt>[number] }> {
  const inputHash = blobHash();
  const tx = await suite.router.connect(patient).requestPrediction(patient.address, 1, inputHash, blobUri(inputHash));
  const receipt = (await tx.wait())!;
  const [job] = jobsFromReceipt(receipt, suite.addresses.Operator, suite.addresses.PredictionRouter);
  if (!job) throw new Error("no OracleRequest/PredictionRequested pair in the receipt");
  return { gas: Number(receipt.gasUsed), job };
}
async function fulfil(job: Awaited<ReturnType<typeof request>>["job"], ciphertext?: Uint8Array): Promise<number> {
  const resultHash = ciphertext ? sha256(ciphertext) : blobHash();
  const data = encodeFulfilment({ requestId: job.requestId, resultHash, resultUri: ciphertext ? "" : blobUri(resultHash), resultCiphertext: ciphertext });
  const tx = suite.operator.connect(oracle).fulfillOracleRequest2(job.requestId, job.payment, job.callbackAddress, job.callbackFunctionId, job.expiration, data, { gasLimit: 3_000_000 });
  const gas = await gasOf(tx);
  const state = await suite.router.getRequest(job.requestId);
  if (state.status !== BigInt(RequestStatus.Fulfilled)) throw new Error(`fulfilment did not succeed (status ${state.status})`);
  return gas;
}
await fulfil((await request()).job);
const measured = await request();
results.requestPrediction = measured.gas;
results.fulfilPrediction = await fulfil(measured.job);
const onChain = await request();
results.fulfilPredictionOnChain = await fulfil(onChain.job, pseudoRandomBytes(32 * 1024));

// Privacy: the patients' group, an anonymous request and its fulfilment, private consent.
const identity = new Identity("bench patient");
results.joinGroup = await gasOf(suite.groups.connect(patient).joinPatientGroup(identity.commitment));
async function requestAnonymously(slot: number): Promise<{ gas: number; job: ReturnType<typeof jobsFromReceipt>[number] }> {
  const inputHash = blobHash();
  const request = {
    modelId: 1,
    epoch: Number(await suite.router.anonymousEpoch()),
    slot,
    accessKey: Wallet.createRandom().address,
    inputHash,
    keysHash: blobHash(),
    inputUri: blobUri(inputHash),
  };
  const proof = await generateProof(
    identity,
    new Group([identity.commitment]),
    await suite.router.anonymousMessage(request),
    await suite.router.anonymousScope(request.epoch, slot),
    20,
    { wasm: "circuits/semaphore/semaphore-20.wasm", zkey: "circuits/semaphore/semaphore-20.zkey" },
  );
  const tx = await suite.router.connect(relayer).requestPredictionAnonymous(request, proof);
  const receipt = (await tx.wait())!;
  const [job] = jobsFromReceipt(receipt, suite.addresses.Operator, suite.addresses.PredictionRouter);
  if (!job) throw new Error("no OracleRequest/AnonymousPredictionRequested pair in the receipt");
  return { gas: Number(receipt.gasUsed), job };
}
await fulfil((await requestAnonymously(0)).job);
const anonymous = await requestAnonymously(1);
results.requestPredictionAnonymous = anonymous.gas;
results.fulfilPredictionAnonymous = await fulfil(anonymous.job);
const coder = AbiCoder.defaultAbiCoder();
const consentHash = keccak256(ethers.toUtf8Bytes("a private consent's EIP-712 struct hash"));
const revocationSecret = hexlify(pseudoRandomBytes(32));
const commitment = keccak256(coder.encode(["bytes32", "bytes32"], [consentHash, keccak256(coder.encode(["bytes32"], [revocationSecret]))]));
results.grantConsentPrivate = await gasOf(suite.consent.connect(relayer).grantConsentPrivate(commitment));
results.revokeConsentPrivate = await gasOf(suite.consent.connect(relayer).revokeConsentPrivate(consentHash, revocationSecret));
await releaseProver();

// A 3-of-2 OracleQuorum in the Operator's place (its own suite on this chain, with a single
// Operator baseline from the same run): scripts/bench/quorumGas.ts.
const quorumGas = await measureQuorumGas(connection);
Object.assign(results, quorumGas);

// Consent across chains, through Chainlink's CCIP local simulator: its router delivers inside the
// sending transaction, on this same chain, for no fee, so these are not real CCIP costs. Receive
// is the gas the mirror's ccipReceive used as the router measured it (MsgExecuted.gasUsed: no
// base transaction cost, no OffRamp overhead); send is the rest of the sending transaction
// (bridge, simulator router; a real router's OnRamp and fee quoter cost more, and the fee is
// charged on top). A warm-up message first, so the destination's sequence slot is not new.
const DEST_SELECTOR = 3478487238524512106n;
const simulator = await ethers.deployContract("CCIPLocalSimulator");
const ccip = await simulator.configuration();
const ccipRouter = await ethers.getContractAt("MockCCIPRouter", ccip.sourceRouter_);
const bridge = await ethers.deployContract("ConsentBridge", [suite.addresses.IdentityRegistry, suite.addresses.ConsentManager, suite.addresses.RecordRegistry, ccip.sourceRouter_, ccip.linkToken_]);
const mirror = await ethers.deployContract("ConsentMirror", [suite.addresses.IdentityRegistry, ccip.destinationRouter_, 16015286601757825753n, await bridge.getAddress()]);
await (await bridge.setDestination(DEST_SELECTOR, await mirror.getAddress(), 200_000)).wait();
async function ccipSync(grantee: string, purpose: number): Promise<{ send: number; receive: number }> {
  const receipt = (await (await bridge.connect(relayer).syncConsent(DEST_SELECTOR, patient.address, grantee, purpose, false)).wait())!;
  const executed = receipt.logs.map((l) => ccipRouter.interface.parseLog(l)).find((p) => p?.name === "MsgExecuted");
  if (!executed?.args.success) throw new Error("the mirror did not take the message");
  const receive = Number(executed.args.gasUsed);
  return { send: Number(receipt.gasUsed) - receive, receive };
}
await ccipSync(researcher.address, Purpose.HRESCH);
await (await suite.consent.connect(patient).grantConsent(researcher.address, Purpose.TREATDS, categoryBit(Category.PREDICTION), 0, later)).wait();
const ccipGrant = await ccipSync(researcher.address, Purpose.TREATDS);
results.ccipSendGrant = ccipGrant.send;
results.ccipReceiveGrant = ccipGrant.receive;
await (await suite.consent.connect(patient).revokeConsent(researcher.address, Purpose.TREATDS)).wait();
const ccipRevoke = await ccipSync(researcher.address, Purpose.TREATDS);
results.ccipSendRevoke = ccipRevoke.send;
results.ccipReceiveRevoke = ccipRevoke.receive;

// Report.
const rows = Object.entries(results).map(([operation, gas]) => {
  const target = TARGETS[operation];
  return { operation, gas, target: target ?? "", ok: target === undefined ? "" : gas <= target ? "yes" : "NO" };
});
const roundTrip = results.requestPrediction! + results.fulfilPrediction!;
rows.push({ operation: "requestPrediction + fulfilPrediction", gas: roundTrip, target: PREDICTION_ROUND_TRIP_TARGET, ok: roundTrip <= PREDICTION_ROUND_TRIP_TARGET ? "yes" : "NO" });
const anonymousRoundTrip = results.requestPredictionAnonymous! + results.fulfilPredictionAnonymous!;
rows.push({ operation: "requestPredictionAnonymous + fulfilPrediction", gas: anonymousRoundTrip, target: ANONYMOUS_ROUND_TRIP_TARGET, ok: anonymousRoundTrip <= ANONYMOUS_ROUND_TRIP_TARGET ? "yes" : "NO" });
const quorumTarget = Math.floor(quorumGas.singleOperatorPerRequest * QUORUM_GAS_RATIO_TARGET);
rows.push({ operation: "3-of-2 quorum per request (request + 3 votes)", gas: quorumGas.quorumPerRequest, target: quorumTarget, ok: quorumGas.quorumPerRequest <= quorumTarget ? "yes" : "NO" });
rows.push({ operation: "3-of-2 quorum per request, primaries only (request + 2 votes)", gas: quorumGas.quorumPerRequestPrimariesOnly, target: quorumTarget, ok: quorumGas.quorumPerRequestPrimariesOnly <= quorumTarget ? "yes" : "NO" });
console.log("| operation | gas used | target | within |\n|---|---:|---:|---|");
for (const r of rows) console.log(`| ${r.operation} | ${r.gas.toLocaleString("en-US")} | ${r.target === "" ? "" : r.target.toLocaleString("en-US")} | ${r.ok} |`);

const out = path.join("bench", "results", "gas.json");
await mkdir(path.dirname(out), { recursive: true });
await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nwrote ${out}`);
if (rows.some((r) => r.ok === "NO")) {
  console.error("a gas target was missed");
  process.exitCode = 1;
}
