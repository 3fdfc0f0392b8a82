import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

import { expect } from "chai";

import { createMlDsaSigner, generateMlDsaKeyPair } from "../../core/crypto/mldsa.js";
import { bindDevicePq } from "../../sdk/actions/bindDevicePq.js";
import { publishHybridEncryptionKey } from "../../sdk/actions/publishHybridEncryptionKey.js";
import { readDelegatedRecords } from "../../sdk/actions/readDelegatedRecords.js";
import { grantConsent } from "../../sdk/actions/grantConsent.js";
import { ingestReadings } from "../../sdk/actions/ingestReadings.js";
import { readSharedRecord } from "../../sdk/actions/readSharedRecord.js";
import { registerDevice } from "../../sdk/actions/registerDevice.js";
import { registerPatient } from "../../sdk/actions/registerPatient.js";
import { shareRecord } from "../../sdk/actions/shareRecord.js";
import { Category, Purpose } from "../../protocol/codes.js";
import { generateHybridKeyPair } from "../../sdk/crypto/hybrid.js";
import { parseReadingsCsv } from "../../sdk/readings/csv.js";
import { createMedCipherClient } from "../../sdk/node.js";
import { freshEvaluationKeys, startFixture, TEST_PARAM_SET, type Fixture } from "./fixture.js";

// Distinctive values no chain or gateway artefact would contain by chance.
const CANARIES = ["187.3141", "1789.2468", "33.1592"];

/** Every way a planted value could leak: as text, as UTF-8 hex, as a float64 (both byte orders), as a scaled integer word. */
function needles(): { text: string[]; hex: string[] } {
  const text = [...CANARIES];
  const hex: string[] = [];
  for (const canary of CANARIES) {
    hex.push(Buffer.from(canary).toString("hex"));
    const f = Buffer.alloc(8);
    f.writeDoubleBE(Number(canary));
    hex.push(f.toString("hex"));
    f.writeDoubleLE(Number(canary));
    hex.push(f.toString("hex"));
    const scaled = BigInt(canary.replace(".", ""));
    hex.push(scaled.toString(16).padStart(16, "0"));
  }
  return { text, hex };
}

/** Text needles are looked for in text, hex needles in hex (so random bytes cannot fake a decimal match). */
function findLeaks(text: string, hexDump: string, where: string): string[] {
  const { text: words, hex } = needles();
  const lower = text.toLowerCase();
  const hexLower = hexDump.toLowerCase();
  return [...words.filter((n) => lower.includes(n)), ...hex.filter((n) => hexLower.includes(n))].map((needle) => `${where}: ${needle}`);
}

/**
 * Secret key material, as raw bytes, hex and base64url (how keys travel in JSON): none may show
 * anywhere outside the client that holds it.
 */
function findSecrets(bytes: Buffer, where: string, secrets: readonly { what: string; bytes: Uint8Array }[]): string[] {
  const latin1 = bytes.toString("latin1");
  const lower = latin1.toLowerCase();
  return secrets.flatMap(({ what, bytes: secret }) => {
    const raw = Buffer.from(secret);
    const found = bytes.indexOf(raw) !== -1 || lower.includes(raw.toString("hex")) || latin1.includes(raw.toString("base64url")) || latin1.includes(raw.toString("base64"));
    return found ? [`${what} in ${where}`] : [];
  });
}

/** Chain JSON carries bytes as 0x-hex strings: search it as text and as hex at once. */
function findLeaksInJson(value: unknown, where: string): string[] {
  const json = JSON.stringify(value);
  return findLeaks(json, json, where);
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else out.push(path);
  }
  return out;
}

describe("canary: planted readings and secret keys (X25519, ML-KEM-768, ML-DSA-65, ECDSA) never reach the chain, the gateway's files or its logs", function () {
  this.timeout(120_000);
  let fx: Fixture;

  before(async function () {
    fx = await startFixture();
  });
  after(async function () {
    await fx?.close();
  });

  it("leaves no trace of the planted values", async function () {
    const patient = await fx.actor("patient");
    const device = await fx.actor("device");
    const clinician = await fx.actor("clinician");
    const vendor = await fx.actor("vendor");
    const now = Math.floor(Date.now() / 1000);
    // Post-quantum throughout: hybrid keys for the patient and the clinician, an ML-DSA-65 device.
    const patientKey = await generateHybridKeyPair(patient.encryptionKey);
    const clinicianKey = await generateHybridKeyPair(clinician.encryptionKey);
    const patientClient = await createMedCipherClient({ account: patient.wallet, addresses: fx.addresses, gatewayUrl: fx.service.url, encryptionKey: patientKey });
    const clinicianClient = await createMedCipherClient({ account: clinician.wallet, addresses: fx.addresses, gatewayUrl: fx.service.url, encryptionKey: clinicianKey });
    await registerPatient(patientClient, { encryptionPublicKey: patient.encryptionKey.publicKey, evaluationKeys: (await freshEvaluationKeys()), paramSetId: TEST_PARAM_SET });
    await publishHybridEncryptionKey(patientClient, { key: patientKey });
    await publishHybridEncryptionKey(clinicianClient, { key: clinicianKey });
    await registerDevice(vendor.client, { device: device.wallet.address });
    const deviceKey = await generateMlDsaKeyPair();
    await bindDevicePq(patientClient, { device: device.wallet, expiresAt: now + 86_400, pqPublicKey: deviceKey.publicKey });
    const pqSigner = await createMlDsaSigner(deviceKey);
    const csv = [
      "time,metric,value",
      `2026-03-01T00:00:00Z,heart_rate,${CANARIES[0]}`,
      `2026-03-01T00:01:00Z,glucose,${CANARIES[1]}`,
      `2026-03-01T00:02:00Z,body_temperature,${CANARIES[2]}`,
    ].join("\n");
    const { records } = await ingestReadings(device.client, { patient: patient.wallet.address, readings: parseReadingsCsv(csv).readings, readingsPerRecord: 2, pqSigner });
    await grantConsent(patientClient, { grantee: clinician.wallet.address, purpose: Purpose.TREAT, categories: [Category.VITAL_SIGNS], validUntil: now + 86_400 });
    const { shareId } = await shareRecord(patientClient, { record: records[0]!, grantee: clinician.wallet.address });
    const read = await readSharedRecord(clinicianClient, { shareId, purpose: Purpose.TREAT });
    // The values did go through the system (so their absence below means something).
    expect(read.readings.map((r) => String(r.value))).to.deep.equal([CANARIES[0], CANARIES[1]]);
    // A later upload is delegated to the clinician (live consent) and read without the patient.
    const fromBlock = await fx.provider.getBlockNumber();
    const later = await ingestReadings(device.client, { patient: patient.wallet.address, readings: parseReadingsCsv(csv.replaceAll("2026-03-01", "2026-03-02")).readings, readingsPerRecord: 3, pqSigner });
    expect(later.delegation?.shares).to.have.length(1);
    const delegated = await readDelegatedRecords(clinicianClient, { patient: patient.wallet.address, purpose: Purpose.TREAT, fromBlock });
    expect(delegated.records.flatMap((r) => r.readings.map((x) => String(x.value)))).to.deep.equal(CANARIES);
    await fx.service.anchorer!.anchorNow();

    const secrets = [
      { what: "the patient's X25519 private key", bytes: patientKey.x25519.privateKey },
      { what: "the patient's ML-KEM-768 seed", bytes: patientKey.mlkem.seed },
      { what: "the clinician's X25519 private key", bytes: clinicianKey.x25519.privateKey },
      { what: "the clinician's ML-KEM-768 seed", bytes: clinicianKey.mlkem.seed },
      { what: "the device's ML-DSA-65 seed", bytes: deviceKey.seed },
      ...[patient, device, clinician].map((a) => ({ what: `an ECDSA private key (${a.wallet.address})`, bytes: Buffer.from(a.wallet.privateKey.slice(2), "hex") })),
    ];
    const leaks: string[] = [];
    // Chain: every block with its transactions, every receipt and log, every storage write (traces).
    const latest = Number(await fx.provider.send("eth_blockNumber", []));
    for (let n = 0; n <= latest; n++) {
      const block = (await fx.provider.send("eth_getBlockByNumber", [`0x${n.toString(16)}`, true])) as { transactions: { hash: string }[] };
      leaks.push(...findLeaksInJson(block, `block ${n}`));
      leaks.push(...findSecrets(Buffer.from(JSON.stringify(block)), `block ${n}`, secrets));
      for (const tx of block.transactions) {
        const receipt = await fx.provider.send("eth_getTransactionReceipt", [tx.hash]);
        leaks.push(...findLeaksInJson(receipt, `receipt ${tx.hash}`));
        leaks.push(...findSecrets(Buffer.from(JSON.stringify(receipt)), `receipt ${tx.hash}`, secrets));
        const trace = await fx.provider.send("debug_traceTransaction", [tx.hash, { disableMemory: true, disableStack: false, disableStorage: false }]);
        leaks.push(...findLeaksInJson(trace, `trace ${tx.hash}`));
        leaks.push(...findSecrets(Buffer.from(JSON.stringify(trace)), `trace ${tx.hash}`, secrets));
      }
    }
    // Gateway: every file it wrote (blobs, metadata, audit log) and its log output.
    for (const file of await walk(fx.dataDir)) {
      const bytes = await readFile(file);
      leaks.push(...findLeaks(bytes.toString("latin1"), bytes.toString("hex"), file));
      leaks.push(...findSecrets(bytes, file, secrets));
    }
    // The search itself finds a planted value when there is one.
    expect(findLeaksInJson({ data: `0x${Buffer.from(CANARIES[1]!).toString("hex")}` }, "self-check")).to.have.length(1);
    expect(findSecrets(Buffer.from(`{"seed":"${Buffer.from(deviceKey.seed).toString("base64url")}"}`), "self-check", secrets)).to.deep.equal(["the device's ML-DSA-65 seed in self-check"]);
    expect(latest).to.be.greaterThan(5);
    expect((await readFile(fx.logPath, "utf8")).length).to.be.greaterThan(0);
    expect(leaks).to.deep.equal([]);
  });
});
