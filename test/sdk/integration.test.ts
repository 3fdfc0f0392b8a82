import { join } from "node:path";

import { expect } from "chai";
import { Wallet } from "ethers";

import { readAuditLogFile } from "../../gateway/audit/auditLog.js";
import { verifyAuditChain } from "../../protocol/audit/entries.js";
import { bindDevice } from "../../sdk/actions/bindDevice.js";
import { getAuditTrail } from "../../sdk/actions/getAuditTrail.js";
import { grantConsent } from "../../sdk/actions/grantConsent.js";
import { ingestReadings } from "../../sdk/actions/ingestReadings.js";
import { listConsents } from "../../sdk/actions/listConsents.js";
import { readRecord } from "../../sdk/actions/readRecord.js";
import { readSharedRecord } from "../../sdk/actions/readSharedRecord.js";
import { registerDevice } from "../../sdk/actions/registerDevice.js";
import { registerPatient } from "../../sdk/actions/registerPatient.js";
import { revokeConsent } from "../../sdk/actions/revokeConsent.js";
import { shareRecord } from "../../sdk/actions/shareRecord.js";
import { storeRecord } from "../../sdk/actions/storeRecord.js";
import { unbindDevice } from "../../sdk/actions/unbindDevice.js";
import { Category, Purpose } from "../../protocol/codes.js";
import { buildObservation } from "../../sdk/fhir/observations.js";
import { createMedCipherClient } from "../../sdk/client.js";
import { parseReadingsCsv } from "../../sdk/readings/csv.js";
import { startTestGateway } from "../gateway/helpers.js";
import { freshEvaluationKeys, startFixture, TEST_PARAM_SET, type Fixture } from "./fixture.js";

function readingsCsv(count: number): string {
  const rows = ["time,metric,value,unit"];
  const start = Date.parse("2026-03-01T00:00:00Z") / 1000;
  const metrics: [string, string, number][] = [["heart_rate", "/min", 70], ["spo2", "%", 94], ["systolic_bp", "mm[Hg]", 120], ["glucose", "mg/dL", 95]];
  for (let i = 0; i < count; i++) {
    const [metric, unit, base] = metrics[i % metrics.length]!;
    rows.push(`${start + i * 60},${metric},${base + (i % 5)},${unit}`);
  }
  return rows.join("\n");
}

async function expectCode(promise: Promise<unknown>, code: string) {
  try {
    await promise;
  } catch (error) {
    expect((error as { code?: string }).code, String(error)).to.equal(code);
    return;
  }
  expect.fail(`expected ${code}`);
}

describe("integration: patient → device → batch → consent → read → revoke → audit", function () {
  this.timeout(120_000);
  let fx: Fixture;

  before(async function () {
    fx = await startFixture();
  });
  after(async function () {
    await fx?.close();
  });

  it("refuses a gateway whose key is not registered on-chain", async function () {
    const impostor = await startTestGateway();
    try {
      const wallet = new Wallet(Wallet.createRandom().privateKey, fx.provider);
      await createMedCipherClient({ account: wallet, addresses: fx.addresses, gatewayUrl: impostor.url }).then(
        () => expect.fail("connected to an unregistered gateway"),
        (error: unknown) => expect((error as { code?: string }).code).to.equal("SDK_GATEWAY_UNTRUSTED"),
      );
    } finally {
      await impostor.close();
    }
  });

  it("runs the whole consent lifecycle on a real chain and gateway", async function () {
    const patient = await fx.actor("patient");
    const device = await fx.actor("device");
    const clinician = await fx.actor("clinician");
    const relayer = await fx.actor("relayer");
    const vendor = await fx.actor("vendor");
    const now = Math.floor(Date.now() / 1000);

    // Patient registers (evaluation keys stand in for fhe/ output: the registry only commits to them).
    await registerPatient(patient.client, { encryptionPublicKey: patient.encryptionKey.publicKey, evaluationKeys: (await freshEvaluationKeys()), paramSetId: TEST_PARAM_SET });

    // A vendor-registered device is bound to the patient; it ingests a CSV as one anchored batch.
    await registerDevice(vendor.client, { device: device.wallet.address });
    await bindDevice(patient.client, { device: device.wallet, expiresAt: now + 86_400 });
    const { readings } = parseReadingsCsv(readingsCsv(130));
    const ingest = await ingestReadings(device.client, { patient: patient.wallet.address, readings, readingsPerRecord: 50 });
    expect(ingest.records.map((r) => r.readings)).to.deep.equal([50, 50, 30]);
    const entry = await fx.suite.records.entryOf(patient.wallet.address, ingest.root);
    expect(entry.patient).to.equal(patient.wallet.address);
    expect(entry.count).to.equal(3n);

    // The patient reads their own record back.
    const own = await readRecord(patient.client, { record: ingest.records[1]! });
    expect(own.readings).to.have.length(50);
    expect(own.readings[0]!.value).to.equal(readings[50]!.value);

    // Before consent the clinician is refused, even with a share.
    const record = ingest.records[0]!;
    const { shareId } = await shareRecord(patient.client, { record, grantee: clinician.wallet.address, granteeEncryptionKey: clinician.encryptionKey.publicKey });
    await expectCode(readSharedRecord(clinician.client, { shareId, purpose: Purpose.TREAT }), "GATEWAY_FORBIDDEN");

    // Gasless consent: the patient signs, a relayer submits.
    await grantConsent(patient.client, { grantee: clinician.wallet.address, purpose: Purpose.TREAT, categories: [Category.VITAL_SIGNS], validUntil: now + 86_400, relayer: relayer.wallet });
    const grants = await listConsents(patient.client);
    expect(grants).to.have.length(1);
    expect(grants[0]).to.include({ grantee: clinician.wallet.address, purpose: Purpose.TREAT, active: true });
    expect(grants[0]!.fhir.status).to.equal("active");

    // The clinician reads and decrypts; the record verifies against the anchored batch.
    const shared = await readSharedRecord(clinician.client, { shareId, purpose: Purpose.TREAT });
    expect(shared.readings.map((r) => r.value)).to.deep.equal(readings.slice(0, 50).map((r) => r.value));
    // Consent is purpose-bound: research is not treatment.
    await expectCode(readSharedRecord(clinician.client, { shareId, purpose: Purpose.HRESCH }), "GATEWAY_FORBIDDEN");

    // Consent is category-scoped: a laboratory record (stored on its own, then amended) stays closed.
    const labResult = buildObservation({ time: "2026-03-02T07:00:00.000Z", metric: "glucose", value: 101 }, { patient: patient.wallet.address });
    const lab = await storeRecord(patient.client, { patient: patient.wallet.address, resource: labResult, category: Category.LABORATORY });
    const amended = await storeRecord(patient.client, {
      patient: patient.wallet.address, resource: { ...labResult, valueQuantity: { ...labResult.valueQuantity, value: 99 } }, category: Category.LABORATORY, supersedes: lab.record.readingId,
    });
    expect(await fx.suite.records.supersededBy(patient.wallet.address, lab.record.readingId)).to.equal(amended.record.readingId);
    expect((await readRecord(patient.client, { record: amended.record })).readings.map((r) => r.value)).to.deep.equal([99]);
    const labShare = await shareRecord(patient.client, { record: amended.record, grantee: clinician.wallet.address, granteeEncryptionKey: clinician.encryptionKey.publicKey });
    await expectCode(readSharedRecord(clinician.client, { shareId: labShare.shareId, purpose: Purpose.TREAT }), "GATEWAY_FORBIDDEN");

    // Revoked: refused from the next block on.
    await revokeConsent(patient.client, { grantee: clinician.wallet.address, purpose: Purpose.TREAT });
    await expectCode(readSharedRecord(clinician.client, { shareId, purpose: Purpose.TREAT }), "GATEWAY_FORBIDDEN");
    expect((await listConsents(patient.client))[0]!.active).to.equal(false);

    // An unbound device can no longer write for the patient.
    await unbindDevice(patient.client, { device: device.wallet.address });
    await expectCode(ingestReadings(device.client, { patient: patient.wallet.address, readings: readings.slice(0, 3) }), "GATEWAY_FORBIDDEN");

    // The gateway anchors its audit head; the trail lists every step and verifies against it.
    const anchored = await fx.service.anchorer!.anchorNow();
    expect(anchored?.seq).to.be.greaterThan(0);
    const trail = await getAuditTrail(patient.client);
    expect(trail.anchoredHead?.verified).to.equal(true);
    const chainSteps = trail.chain.map((c) => c.event);
    expect(chainSteps).to.include.members(["PatientRegistered", "DeviceBound", "BatchAnchored", "ConsentGranted", "ConsentRevoked", "DeviceUnbound"]);
    const gatewaySteps = trail.gateway.map((e) => `${e.action}:${e.outcome}:${e.actor === clinician.wallet.address ? "clinician" : e.actor === device.wallet.address ? "device" : e.actor === patient.wallet.address ? "patient" : "other"}`);
    expect(gatewaySteps).to.include.members(["write:granted:device", "write:granted:patient", "read:granted:patient", "read:granted:clinician", "read:refused:clinician", "write:refused:device"]);
    expect(trail.events.every((e) => e.resourceType === "AuditEvent")).to.equal(true);
    expect(trail.events.length).to.equal(trail.chain.length + trail.gateway.length);

    // The trail of one record: its blob and share accesses, its batch, the consents over its category.
    const recordTrail = await getAuditTrail(patient.client, { record, extraBlobIds: [shareId] });
    expect(recordTrail.gateway.every((e) => e.blobId === record.blobId || e.blobId === shareId)).to.equal(true);
    expect(recordTrail.gateway.filter((e) => e.actor === clinician.wallet.address).map((e) => e.outcome)).to.include.members(["granted", "refused"]);
    expect(recordTrail.chain.map((c) => c.event)).to.include.members(["BatchAnchored", "ConsentGranted", "ConsentRevoked"]).and.not.include("PatientRegistered");

    // An auditor holding the whole log file checks it against the on-chain head too.
    const head = await fx.suite.audit.latestHead(fx.gatewayKey.address);
    const file = await readAuditLogFile(join(fx.dataDir, "gateway", "audit.jsonl"));
    verifyAuditChain(file, { seq: Number(head.entryCount), head: head.headHash });
  });
});
