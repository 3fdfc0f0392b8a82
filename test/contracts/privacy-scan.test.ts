/**
 * After a full scenario, every event argument and every storage word written holds only
 * commitments, ids, addresses, codes and times: none of the planted secrets (the plaintext, its
 * unsalted hash, the salt, the data key, a secret key) appears anywhere.
 */
import { createCipheriv, createHash, randomBytes } from "node:crypto";

import { expect } from "chai";
import { network } from "hardhat";
import { Interface, hexlify, type ContractTransactionResponse, type InterfaceAbi, type Log } from "ethers";

import { encodeFulfilment, jobsFromReceipt } from "../../deploy/prediction.js";
import { buildMerkleBatch } from "../../sdk/crypto/commitment.js";
import {
  Category,
  DAY,
  DEMO_MODEL,
  Purpose,
  bindDevice,
  blobUri,
  categoryBit,
  deploySuite,
  latest,
  randomHash,
  registerPatient,
  signAnchor,
  signGrant,
} from "./fixtures.js";
import {
  AuditLogAnchor__factory,
  ConsentManager__factory,
  IdentityRegistry__factory,
  LinkToken__factory,
  ModelRegistry__factory,
  Operator__factory,
  PredictionRouter__factory,
  PrivacyGroups__factory,
  RecordRegistry__factory,
  Semaphore__factory,
} from "../../types/ethers-contracts/index.js";

const connection = await network.create();
const { ethers } = connection;

type StructLog = { op: string; stack?: string[] };

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest();
const hexOf = (data: Uint8Array) => Buffer.from(data).toString("hex");

describe("privacy scan", function () {
  it("leaves no plaintext, unsalted hash, salt or key in any event or storage slot", async function () {
    this.timeout(120_000);
    const suite = await deploySuite(connection, true);
    const { patient, provider, researcher, device, relayer, oracle, gateway, governance } = suite.actors;

    // ── What must never reach the chain ──────────────────────────────────────────────────────
    const GLUCOSE = 18_273n; // a distinctive reading, mg/dL × 100
    const plaintext = Buffer.from(
      JSON.stringify({
        resourceType: "Observation",
        subject: { display: "Alice Example-Plantedname" },
        code: { text: "Glucose [Mass/volume] in Blood" },
        valueQuantity: { value: Number(GLUCOSE) / 100, unit: "mg/dL" },
      }),
    );
    const dataKey = randomBytes(32);
    const salt = randomBytes(32);
    const secretKey = randomBytes(64);
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", dataKey, iv);
    const ciphertext = Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    const recordId = hexlify(sha256(Buffer.concat([salt, ciphertext])));
    const blobId = hexlify(sha256(ciphertext));
    const planted: Record<string, string> = {
      "plaintext prefix": hexOf(plaintext.subarray(0, 24)),
      "plaintext name": Buffer.from("Plantedname").toString("hex"),
      "unsalted plaintext hash": hexOf(sha256(plaintext)),
      salt: hexOf(salt),
      "data key": hexOf(dataKey),
      "secret key (first 32 bytes)": hexOf(secretKey.subarray(0, 32)),
      "secret key (last 32 bytes)": hexOf(secretKey.subarray(32)),
    };

    // ── A full scenario ──────────────────────────────────────────────────────────────────────
    const txs: Promise<ContractTransactionResponse>[] = [];
    const send = async (tx: Promise<ContractTransactionResponse>) => {
      txs.push(tx);
      return (await (await tx).wait())!;
    };
    await registerPatient(suite, patient);
    await bindDevice(connection, suite, device, patient);
    const now = await latest(connection);
    await send(suite.records.connect(patient).anchorRecord(patient.address, recordId, Category.LABORATORY, blobUri(blobId), ethers.ZeroHash));
    const amended = hexlify(sha256(Buffer.concat([randomBytes(32), ciphertext])));
    await send(suite.records.connect(patient).anchorRecord(patient.address, amended, Category.LABORATORY, blobUri(randomHash()), recordId));
    const signed = { patient: patient.address, recordId: randomHash(), category: Category.VITAL_SIGNS, uri: blobUri(randomHash()), supersedes: ethers.ZeroHash, deadline: now + 600n };
    await send(suite.records.connect(relayer).anchorRecordBySig(signed.patient, signed.recordId, signed.category, signed.uri, signed.supersedes, signed.deadline, await signAnchor(suite, device, signed)));
    const tree = buildMerkleBatch([recordId, randomHash(), randomHash()]);
    await send(suite.records.connect(device).anchorBatch(patient.address, tree.root, 3, Category.VITAL_SIGNS, blobUri(randomHash())));
    await send(suite.consent.connect(patient).grantConsent(provider.address, Purpose.TREATDS, categoryBit(Category.PREDICTION), 0, now + DAY));
    const grant = { patient: patient.address, grantee: researcher.address, purpose: Purpose.HRESCH, categories: categoryBit(Category.VITAL_SIGNS), validFrom: 0n, validUntil: now + DAY, deadline: now + 600n };
    await send(suite.consent.connect(relayer).grantConsentBySig(grant.patient, grant.grantee, grant.purpose, grant.categories, grant.validFrom, grant.validUntil, grant.deadline, await signGrant(suite, patient, grant)));
    await send(suite.consent.connect(patient).grantRecordConsent(researcher.address, Purpose.HRESCH, [recordId], 0, now + DAY));
    await send(suite.consent.connect(provider).breakGlass(patient.address, randomHash()));
    await send(suite.models.connect(governance).registerModel({ ...DEMO_MODEL, version: "1.1.0" }));
    const inputHash = randomHash();
    const byProvider = await send(suite.router.connect(provider).requestPrediction(patient.address, 1, inputHash, blobUri(inputHash)));
    const byPatient = await send(suite.router.connect(patient).requestPrediction(patient.address, 1, randomHash(), blobUri(randomHash())));
    const resultCiphertext = randomBytes(2048);
    for (const [receipt, onChain] of [[byProvider, false], [byPatient, true]] as const) {
      const [job] = jobsFromReceipt(receipt, suite.addresses.Operator, suite.addresses.PredictionRouter);
      const resultHash = onChain ? hexlify(sha256(resultCiphertext)) : randomHash();
      const data = encodeFulfilment({ requestId: job!.requestId, resultHash, resultUri: onChain ? "" : blobUri(resultHash), resultCiphertext: onChain ? resultCiphertext : undefined });
      await send(suite.operator.connect(oracle).fulfillOracleRequest2(job!.requestId, job!.payment, job!.callbackAddress, job!.callbackFunctionId, job!.expiration, data, { gasLimit: 2_000_000 }));
    }
    await send(suite.consent.connect(patient).revokeConsent(provider.address, Purpose.TREATDS));
    await send(suite.consent.connect(patient).revokeAllConsents());
    await send(suite.audit.connect(gateway).anchorHead(randomHash(), 42));
    await send(suite.identity.connect(patient).rotateEncryptionKey(randomHash()));

    // Every transaction since genesis, including the fixture's.
    const hashes: string[] = [];
    const head = await ethers.provider.getBlockNumber();
    for (let n = 0; n <= head; n++) hashes.push(...((await ethers.provider.getBlock(n))?.transactions ?? []));
    expect(hashes.length).to.be.greaterThan(25);

    // ── Events ───────────────────────────────────────────────────────────────────────────────
    const interfaces = [
      IdentityRegistry__factory, ConsentManager__factory, RecordRegistry__factory, ModelRegistry__factory,
      PredictionRouter__factory, AuditLogAnchor__factory, Operator__factory, LinkToken__factory,
      PrivacyGroups__factory, Semaphore__factory,
    ].map((f) => new Interface(f.abi as InterfaceAbi));
    const allowedString = /^(medcipher:\/\/(blob|models)\/[A-Za-z0-9.\-_]+|diabetes-logreg|\d+\.\d+\.\d+|)$/;
    const problems: string[] = [];
    const values: string[] = [];
    const check = (where: string, value: unknown) => {
      if (typeof value === "string") {
        const hex = value.startsWith("0x") ? value.slice(2).toLowerCase() : Buffer.from(value).toString("hex");
        values.push(hex);
        if (!value.startsWith("0x") && !allowedString.test(value)) problems.push(`${where}: unexpected string ${JSON.stringify(value)}`);
        for (const [name, needle] of Object.entries(planted)) if (hex.includes(needle)) problems.push(`${where}: holds the ${name}`);
      } else if (typeof value === "bigint") {
        if (value === GLUCOSE) problems.push(`${where}: holds the planted reading`);
      } else if (Array.isArray(value)) {
        value.forEach((v, i) => check(`${where}[${i}]`, v));
      }
    };
    let events = 0;
    for (const hash of hashes) {
      const receipt = await ethers.provider.getTransactionReceipt(hash);
      for (const log of receipt!.logs as readonly Log[]) {
        const raw = (log.data + log.topics.map((t) => t.slice(2)).join("")).toLowerCase();
        for (const [name, needle] of Object.entries(planted)) if (raw.includes(needle)) problems.push(`log ${hash}: raw data holds the ${name}`);
        const parsed = interfaces.map((i) => i.parseLog(log)).find((p) => p !== null);
        if (!parsed) {
          problems.push(`log ${hash}: an event no contract of the suite declares`);
          continue;
        }
        events++;
        parsed.fragment.inputs.forEach((input, i) => check(`${parsed.name}.${input.name}`, parsed.args[i]));
      }
    }
    expect(events).to.be.greaterThan(30);
    // The scan sees the commitments it should see.
    expect(values).to.include(recordId.slice(2));
    expect(values).to.include(inputHash.slice(2));

    // ── Storage: every SSTORE of every transaction ───────────────────────────────────────────
    const written: string[] = [];
    for (const hash of hashes) {
      const trace = (await connection.provider.request({
        method: "debug_traceTransaction",
        params: [hash, { disableMemory: true, disableStorage: true }],
      })) as { structLogs: StructLog[] };
      for (const step of trace.structLogs) {
        if (step.op !== "SSTORE" || !step.stack) continue;
        const value = BigInt(step.stack[step.stack.length - 2]!);
        const word = value.toString(16).padStart(64, "0");
        written.push(word);
        if (value === GLUCOSE) problems.push(`storage in ${hash}: holds the planted reading`);
        for (const [name, needle] of Object.entries(planted)) if (word.includes(needle)) problems.push(`storage in ${hash}: holds the ${name}`);
      }
    }
    expect(written.length).to.be.greaterThan(50);
    // Sanity: the scan does see what is stored (the input commitment is kept by the router).
    expect(written).to.include(inputHash.slice(2));
    expect(problems).to.deep.equal([]);
  });
});
