import { expect } from "chai";

import { isBucketLength } from "../../core/padding.js";
import { grantConsent } from "../../sdk/actions/grantConsent.js";
import { readSharedRecord } from "../../sdk/actions/readSharedRecord.js";
import { registerPatient } from "../../sdk/actions/registerPatient.js";
import { shareRecord } from "../../sdk/actions/shareRecord.js";
import { storeRecord } from "../../sdk/actions/storeRecord.js";
import { openBox } from "../../sdk/crypto/sealedBox.js";
import { DecryptionError } from "../../sdk/errors.js";
import { buildObservation } from "../../sdk/fhir/observations.js";
import { Category, Purpose } from "../../protocol/codes.js";
import { freshEvaluationKeys, startFixture, TEST_PARAM_SET, type Fixture } from "./fixture.js";

async function rejection(promise: Promise<unknown>): Promise<{ code?: string; message?: string }> {
  return promise.then(() => expect.fail("expected a rejection"), (error: unknown) => error as { code?: string });
}

describe("sdk: record shares are sealed to the grantee (the gateway holds no grantee, record id, salt, proof or category in clear)", function () {
  this.timeout(120_000);
  let fx: Fixture;
  before(async function () {
    fx = await startFixture();
  });
  after(async function () {
    await fx?.close();
  });

  it("the stored share is a fixed-size sealed box with none of the share's fields in it; the grantee reads it, another consented grantee cannot open it", async function () {
    const patient = await fx.actor("patient");
    const clinician = await fx.actor("clinician");
    const other = await fx.actor("other-clinician");
    await registerPatient(patient.client, { encryptionPublicKey: patient.encryptionKey.publicKey, evaluationKeys: await freshEvaluationKeys(), paramSetId: TEST_PARAM_SET });
    const resource = buildObservation({ time: "2026-03-02T07:00:00.000Z", metric: "heart_rate", value: 71 }, { patient: patient.wallet.address });
    const { record } = await storeRecord(patient.client, { patient: patient.wallet.address, resource, category: Category.VITAL_SIGNS });
    const { shareId } = await shareRecord(patient.client, { record, grantee: clinician.wallet.address, granteeEncryptionKey: clinician.encryptionKey.publicKey });

    // What the gateway stores (the owner may read it back): a sealed box, 4 KiB bucket + 64 bytes.
    const stored = await patient.client.gateway!.get(shareId, { purpose: Purpose.PATRQT });
    expect(new TextDecoder().decode(stored.subarray(0, 4))).to.equal("MCS1");
    expect(isBucketLength(stored.length - 64)).to.equal(true);
    const haystack = Buffer.from(stored).toString("latin1").toLowerCase();
    const hex = (value: string) => value.toLowerCase().replace(/^0x/, "");
    const needles = [
      hex(clinician.wallet.address), hex(patient.wallet.address), hex(record.blobId), hex(record.readingId), hex(record.salt),
      Buffer.from(clinician.encryptionKey.publicKey).toString("base64url").toLowerCase(), "grantee", "category", "salt",
    ];
    for (const needle of needles) expect(haystack.includes(needle), needle).to.equal(false);
    for (const needle of [record.blobId, record.readingId].map(hex)) expect(Buffer.from(stored).includes(Buffer.from(needle, "hex")), `raw ${needle}`).to.equal(false);

    // Only the grantee's key opens it; the patient's own key does not.
    expect((await openBox(stored, patient.encryptionKey).then(() => undefined, (e: unknown) => e))).to.be.instanceOf(DecryptionError);
    const share = JSON.parse(new TextDecoder().decode(await openBox(stored, clinician.encryptionKey))) as { grantee: string; record: { blobId: string } };
    expect(share.grantee).to.equal(clinician.wallet.address);
    expect(share.record.blobId).to.equal(record.blobId);

    const now = Math.floor(Date.now() / 1000);
    for (const grantee of [clinician, other]) {
      await grantConsent(patient.client, { grantee: grantee.wallet.address, purpose: Purpose.TREAT, categories: [Category.VITAL_SIGNS], validUntil: now + 86_400 });
    }
    const read = await readSharedRecord(clinician.client, { shareId, purpose: Purpose.TREAT });
    expect(read.readings.map((r) => r.value)).to.deep.equal([71]);
    // Consent lets the other clinician fetch the blob from the gateway, but not open it.
    const refused = await rejection(readSharedRecord(other.client, { shareId, purpose: Purpose.TREAT }));
    expect(refused.code).to.equal("SDK_INVALID_INPUT");
    expect(refused.message).to.include("sealed to another grantee");
  });
});
