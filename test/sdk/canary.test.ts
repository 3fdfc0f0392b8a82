import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

import { expect } from "chai";

import { bindDevice } from "../../sdk/actions/bindDevice.js";
import { grantConsent } from "../../sdk/actions/grantConsent.js";
import { ingestReadings } from "../../sdk/actions/ingestReadings.js";
import { readSharedRecord } from "../../sdk/actions/readSharedRecord.js";
import { registerDevice } from "../../sdk/actions/registerDevice.js";
import { registerPatient } from "../../sdk/actions/registerPatient.js";
import { shareRecord } from "../../sdk/actions/shareRecord.js";
import { Category, Purpose } from "../../protocol/codes.js";
import { parseReadingsCsv } from "../../sdk/readings/csv.js";
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

describe("canary: planted readings never reach the chain, the gateway's files or its logs", function () {
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
    await registerPatient(patient.client, { encryptionPublicKey: patient.encryptionKey.publicKey, evaluationKeys: (await freshEvaluationKeys()), paramSetId: TEST_PARAM_SET });
    await registerDevice(vendor.client, { device: device.wallet.address });
    await bindDevice(patient.client, { device: device.wallet, expiresAt: now + 86_400 });
    const csv = [
      "time,metric,value",
      `2026-03-01T00:00:00Z,heart_rate,${CANARIES[0]}`,
      `2026-03-01T00:01:00Z,glucose,${CANARIES[1]}`,
      `2026-03-01T00:02:00Z,body_temperature,${CANARIES[2]}`,
    ].join("\n");
    const { records } = await ingestReadings(device.client, { patient: patient.wallet.address, readings: parseReadingsCsv(csv).readings, readingsPerRecord: 2 });
    await grantConsent(patient.client, { grantee: clinician.wallet.address, purpose: Purpose.TREAT, categories: [Category.VITAL_SIGNS], validUntil: now + 86_400 });
    const { shareId } = await shareRecord(patient.client, { record: records[0]!, grantee: clinician.wallet.address, granteeEncryptionKey: clinician.encryptionKey.publicKey });
    const read = await readSharedRecord(clinician.client, { shareId, purpose: Purpose.TREAT });
    // The values did go through the system (so their absence below means something).
    expect(read.readings.map((r) => String(r.value))).to.deep.equal([CANARIES[0], CANARIES[1]]);
    await fx.service.anchorer!.anchorNow();

    const leaks: string[] = [];
    // Chain: every block with its transactions, every receipt and log, every storage write (traces).
    const latest = Number(await fx.provider.send("eth_blockNumber", []));
    for (let n = 0; n <= latest; n++) {
      const block = (await fx.provider.send("eth_getBlockByNumber", [`0x${n.toString(16)}`, true])) as { transactions: { hash: string }[] };
      leaks.push(...findLeaksInJson(block, `block ${n}`));
      for (const tx of block.transactions) {
        leaks.push(...findLeaksInJson(await fx.provider.send("eth_getTransactionReceipt", [tx.hash]), `receipt ${tx.hash}`));
        const trace = await fx.provider.send("debug_traceTransaction", [tx.hash, { disableMemory: true, disableStack: false, disableStorage: false }]);
        leaks.push(...findLeaksInJson(trace, `trace ${tx.hash}`));
      }
    }
    // Gateway: every file it wrote (blobs, metadata, audit log) and its log output.
    for (const file of await walk(fx.dataDir)) {
      const bytes = await readFile(file);
      leaks.push(...findLeaks(bytes.toString("latin1"), bytes.toString("hex"), file));
    }
    // The search itself finds a planted value when there is one.
    expect(findLeaksInJson({ data: `0x${Buffer.from(CANARIES[1]!).toString("hex")}` }, "self-check")).to.have.length(1);
    expect(latest).to.be.greaterThan(5);
    expect((await readFile(fx.logPath, "utf8")).length).to.be.greaterThan(0);
    expect(leaks).to.deep.equal([]);
  });
});
