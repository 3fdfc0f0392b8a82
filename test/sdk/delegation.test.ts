import { join } from "node:path";

import { expect } from "chai";
import { randomBytes } from "ethers";

import { readAuditLogFile } from "../../gateway/audit/auditLog.js";
import { createDirectoryMetadataStore } from "../../gateway/store/metadata.js";
import { Category, Purpose } from "../../protocol/codes.js";
import { bindDevice } from "../../sdk/actions/bindDevice.js";
import { delegateRecordKey, registeredEncryptionKey } from "../../sdk/actions/delegateRecordKey.js";
import { grantConsent } from "../../sdk/actions/grantConsent.js";
import { ingestReadings, type IngestReadingsParameters } from "../../sdk/actions/ingestReadings.js";
import { liveGrantees } from "../../sdk/actions/liveGrantees.js";
import { readDelegatedRecords } from "../../sdk/actions/readDelegatedRecords.js";
import { readSharedRecord, SHARE_NOT_FOR_THIS_KEY } from "../../sdk/actions/readSharedRecord.js";
import { registerDevice } from "../../sdk/actions/registerDevice.js";
import { registerPatient } from "../../sdk/actions/registerPatient.js";
import { revokeConsent } from "../../sdk/actions/revokeConsent.js";
import { chainNow } from "../../sdk/chain/time.js";
import { newSalt } from "../../sdk/crypto/commitment.js";
import type { Reading } from "../../sdk/fhir/observations.js";
import { freshEvaluationKeys, startFixture, TEST_PARAM_SET, type Actor, type Fixture } from "./fixture.js";

const DAY = 86_400;

function heartRates(count: number, startValue: number): Reading[] {
  const start = Date.parse("2026-03-01T00:00:00Z");
  return Array.from({ length: count }, (_, i) => ({ time: new Date(start + i * 60_000).toISOString(), metric: "heart_rate", value: startValue + i }));
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<{ details?: Record<string, unknown> }> {
  const error = await promise.then(() => undefined, (e: unknown) => e as { code?: string; details?: Record<string, unknown> });
  expect(error, `expected ${code}`).not.to.equal(undefined);
  expect(error!.code, String(error)).to.equal(code);
  return error!;
}

describe("sdk: delegated sharing — the device wraps to live grantees, the grantee reads without the patient", function () {
  this.timeout(180_000);
  let fx: Fixture;

  before(async function () {
    fx = await startFixture();
  });
  after(async function () {
    await fx?.close();
  });

  /** Publishes the actor's X25519 key where the default resolver reads it (IdentityRegistry.patientOf). */
  const publishKey = async (actor: Actor) =>
    registerPatient(actor.client, { encryptionPublicKey: actor.encryptionKey.publicKey, evaluationKeys: await freshEvaluationKeys(), paramSetId: TEST_PARAM_SET });

  /** A registered patient with a vendor-registered device bound to it for a day of chain time. */
  async function patientWithDevice() {
    const patient = await fx.actor("patient");
    const device = await fx.actor("device");
    const vendor = await fx.actor("vendor");
    await publishKey(patient);
    await registerDevice(vendor.client, { device: device.wallet.address });
    await bindDevice(patient.client, { device: device.wallet, expiresAt: (await chainNow(fx.provider)) + 30 * DAY });
    let next = 60;
    const ingest = (count: number, options: Partial<IngestReadingsParameters> = {}) => {
      const readings = heartRates(count, next);
      next += count;
      return ingestReadings(device.client, { patient: patient.wallet.address, readings, readingsPerRecord: 20, ...options });
    };
    return { patient, device, ingest };
  }

  const grant = async (patient: Actor, grantee: Actor, options: { categories?: number[]; validUntil?: number } = {}) =>
    grantConsent(patient.client, {
      grantee: grantee.wallet.address, purpose: Purpose.TREAT, categories: options.categories ?? [Category.VITAL_SIGNS],
      validUntil: options.validUntil ?? (await chainNow(fx.provider)) + DAY,
    });

  /** The `wrapped-key` blobs the gateway holds for the patient under `root`, read from its data directory. */
  async function sharesStoredUnder(patient: string, root: string): Promise<string[]> {
    const metadata = createDirectoryMetadataStore(join(fx.dataDir, "gateway", "meta"));
    const ids: string[] = [];
    for (const id of await metadata.listByRef(patient, root)) if ((await metadata.get(id))?.kind === "wrapped-key") ids.push(id);
    return ids;
  }

  it("lets a clinician find and read, with only its own key and the chain, the records the device uploads after the grant", async function () {
    const { patient, device, ingest } = await patientWithDevice();
    const clinician = await fx.actor("clinician");
    await publishKey(clinician);
    const before = await ingest(20);
    expect(before.delegation?.grantees, "no consent yet: nobody to wrap to").to.deep.equal([]);

    await grant(patient, clinician);
    // From here on the patient is offline: its client and keys are not used again.
    const steps: string[] = [];
    const first = await ingest(50, { onProgress: (step, done, total) => steps.push(`${step} ${done}/${total}`) });
    expect(first.records).to.have.length(3);
    expect(first.delegation?.grantees).to.deep.equal([clinician.wallet.address]);
    expect(first.delegation?.shares.map((s) => [s.grantee, s.blobId])).to.deep.equal(first.records.map((r) => [clinician.wallet.address, r.blobId]));
    expect(steps.filter((s) => s.startsWith("delegate"))).to.deep.equal(["delegate 1/3", "delegate 2/3", "delegate 3/3"]);
    expect(steps.indexOf("delegate 3/3"), "shares are stored before the batch is anchored").to.be.lessThan(steps.indexOf("anchor 1/1"));

    const read = await readDelegatedRecords(clinician.client, { patient: patient.wallet.address, purpose: Purpose.TREAT });
    expect(read.rejected).to.deep.equal([]);
    expect(read.closedCategories).to.deep.equal([]);
    expect(read.records.map((r) => r.record), "each record once, as the device anchored it").to.deep.equal(first.records);
    expect(read.records.flatMap((r) => r.readings.map((reading) => reading.value))).to.deep.equal(heartRates(50, 80).map((r) => r.value));
    expect(read.records.map((r) => r.shareId)).to.deep.equal(first.delegation!.shares.map((s) => s.shareId));

    // Only what arrived since: the next call starts after the last block searched.
    const second = await ingest(10);
    const since = await readDelegatedRecords(clinician.client, { patient: patient.wallet.address, purpose: Purpose.TREAT, fromBlock: read.toBlock + 1 });
    expect(since.records.map((r) => r.record.blobId)).to.deep.equal(second.records.map((r) => r.blobId));

    // Every record is checked against its on-chain commitment: a share whose reference does not
    // open the anchored commitment (here a wrong salt) is rejected, and the others still read.
    const forged = { ...second.records[0]!, salt: newSalt() };
    await delegateRecordKey(device.client, { record: forged, dataKey: randomBytes(32), grantee: clinician.wallet.address, granteeEncryptionKey: clinician.encryptionKey.publicKey });
    const checked = await readDelegatedRecords(clinician.client, { patient: patient.wallet.address, purpose: Purpose.TREAT, fromBlock: read.toBlock + 1 });
    expect(checked.records.map((r) => r.record.blobId)).to.deep.equal(second.records.map((r) => r.blobId));
    expect(checked.rejected.map((r) => [r.code, r.anchor])).to.deep.equal([["SDK_INTEGRITY", second.root]]);

    // The earlier batch was uploaded before the grant: no share was made for it.
    expect(await sharesStoredUnder(patient.wallet.address, before.root)).to.deep.equal([]);
  });

  it("after revocation the device wraps nothing for the clinician and the gateway refuses its reads, old shares included", async function () {
    const { patient, ingest } = await patientWithDevice();
    const clinician = await fx.actor("clinician");
    await publishKey(clinician);
    await grant(patient, clinician);
    const shared = await ingest(20);
    expect(shared.delegation?.shares).to.have.length(1);
    const oldShare = shared.delegation!.shares[0]!.shareId;

    await revokeConsent(patient.client, { grantee: clinician.wallet.address, purpose: Purpose.TREAT });
    expect(await liveGrantees(clinician.client, { patient: patient.wallet.address, category: Category.VITAL_SIGNS })).to.deep.equal([]);
    const after = await ingest(20);
    expect(after.delegation).to.deep.equal({ grantees: [], shares: [], skipped: [] });
    expect(await sharesStoredUnder(patient.wallet.address, after.root), "no share exists for records uploaded after revocation").to.deep.equal([]);

    const read = await readDelegatedRecords(clinician.client, { patient: patient.wallet.address, purpose: Purpose.TREAT });
    expect(read.records).to.deep.equal([]);
    expect(read.closedCategories).to.deep.equal([Category.VITAL_SIGNS]);
    // Records shared before the revocation: the share still exists, the gateway refuses it.
    await expectCode(readSharedRecord(clinician.client, { shareId: oldShare, purpose: Purpose.TREAT }), "GATEWAY_FORBIDDEN");
    for (const root of [shared.root, after.root]) {
      await expectCode(clinician.client.gateway!.listShares({ owner: patient.wallet.address, ref: root, category: Category.VITAL_SIGNS, purpose: Purpose.TREAT }), "GATEWAY_FORBIDDEN");
    }
  });

  it("after expiry (chain time past validUntil) the same: nothing wrapped, everything refused", async function () {
    const { patient, ingest } = await patientWithDevice();
    const clinician = await fx.actor("clinician");
    await publishKey(clinician);
    const validUntil = (await chainNow(fx.provider)) + 3_600;
    await grant(patient, clinician, { validUntil });
    const shared = await ingest(20);
    expect(shared.delegation?.shares).to.have.length(1);
    expect((await readDelegatedRecords(clinician.client, { patient: patient.wallet.address, purpose: Purpose.TREAT })).records).to.have.length(1);

    await fx.provider.send("evm_increaseTime", [7_200]);
    await fx.provider.send("evm_mine", []);
    expect(await chainNow(fx.provider)).to.be.greaterThan(validUntil);
    const after = await ingest(20);
    expect(after.delegation?.grantees).to.deep.equal([]);
    expect(await sharesStoredUnder(patient.wallet.address, after.root)).to.deep.equal([]);
    const read = await readDelegatedRecords(clinician.client, { patient: patient.wallet.address, purpose: Purpose.TREAT });
    expect(read.records).to.deep.equal([]);
    await expectCode(readSharedRecord(clinician.client, { shareId: shared.delegation!.shares[0]!.shareId, purpose: Purpose.TREAT }), "GATEWAY_FORBIDDEN");
    await expectCode(clinician.client.gateway!.listShares({ owner: patient.wallet.address, ref: shared.root, category: Category.VITAL_SIGNS, purpose: Purpose.TREAT }), "GATEWAY_FORBIDDEN");
  });

  it("gives a grantee of another category nothing, keeps each grantee's shares to its own key, and skips a grantee with no key", async function () {
    const { patient, device, ingest } = await patientWithDevice();
    const [first, second, lab, keyless] = await Promise.all(["first", "second", "lab", "keyless"].map((name) => fx.actor(name)));
    for (const actor of [first!, second!, lab!]) await publishKey(actor);
    await grant(patient, first!);
    await grant(patient, second!);
    await grant(patient, lab!, { categories: [Category.LABORATORY] });
    await grant(patient, keyless!);

    const batch = await ingest(40);
    const { delegation } = batch;
    expect([...delegation!.grantees].sort()).to.deep.equal([first!, second!, keyless!].map((a) => a.wallet.address).sort());
    expect(delegation!.skipped).to.have.length(1);
    expect(delegation!.skipped[0]!.grantee).to.equal(keyless!.wallet.address);
    expect(delegation!.skipped[0]!.reason).to.equal(`grantee ${keyless!.wallet.address} has no published encryption key: it cannot receive delegated records`);
    expect(delegation!.shares).to.have.length(4);
    expect((await sharesStoredUnder(patient.wallet.address, batch.root)).sort()).to.deep.equal(delegation!.shares.map((s) => s.shareId).sort());

    const sharesOf = (grantee: Actor) => delegation!.shares.filter((s) => s.grantee === grantee.wallet.address).map((s) => s.shareId);
    for (const grantee of [first!, second!]) {
      const read = await readDelegatedRecords(grantee.client, { patient: patient.wallet.address, purpose: Purpose.TREAT });
      expect(read.records.map((r) => r.record.blobId), grantee.wallet.address).to.deep.equal(batch.records.map((r) => r.blobId));
      expect(read.records.map((r) => r.shareId)).to.deep.equal(sharesOf(grantee));
    }
    const error = await expectCode(readSharedRecord(first!.client, { shareId: sharesOf(second!)[0]!, purpose: Purpose.TREAT }), "SDK_INVALID_INPUT");
    expect(error.details?.reason, "the second grantee's share does not open with the first's key").to.equal(SHARE_NOT_FOR_THIS_KEY);

    // The laboratory grantee: no share, nothing listed, and the listing refused without naming any.
    const labRead = await readDelegatedRecords(lab!.client, { patient: patient.wallet.address, purpose: Purpose.TREAT });
    expect(labRead.records).to.deep.equal([]);
    expect(labRead.closedCategories).to.deep.equal([Category.VITAL_SIGNS]);
    const refused = await expectCode(lab!.client.gateway!.listShares({ owner: patient.wallet.address, ref: batch.root, category: Category.VITAL_SIGNS, purpose: Purpose.TREAT }), "GATEWAY_FORBIDDEN");
    expect(JSON.stringify(refused.details)).not.to.match(/shareIds|0x[0-9a-f]{64}"\]/);
    const audit = await readAuditLogFile(join(fx.dataDir, "gateway", "audit.jsonl"));
    expect(audit.filter((e) => e.actor === lab!.wallet.address && e.action === "list").map((e) => [e.blobId, e.outcome, e.reason])).to.deep.equal([[batch.root, "refused", "GATEWAY_FORBIDDEN"]]);

    // The key resolver is the device's choice: one that knows the keyless grantee's key shares with it.
    const resolved = await ingest(20, {
      delegate: { resolveEncryptionKey: async (client, account) => (account === keyless!.wallet.address ? keyless!.encryptionKey.publicKey : registeredEncryptionKey(client, account)) },
    });
    expect(resolved.delegation?.skipped).to.deep.equal([]);
    const keylessRead = await readDelegatedRecords(keyless!.client, { patient: patient.wallet.address, purpose: Purpose.TREAT });
    expect(keylessRead.records.map((r) => r.record.blobId)).to.deep.equal(resolved.records.map((r) => r.blobId));

    // Turned off, the device shares with nobody.
    const off = await ingestReadings(device.client, { patient: patient.wallet.address, readings: heartRates(5, 200), delegate: false });
    expect(off.delegation).to.equal(undefined);
    expect(await sharesStoredUnder(patient.wallet.address, off.root)).to.deep.equal([]);
  });
});
