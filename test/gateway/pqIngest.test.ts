import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

import { expect } from "chai";
import { ZeroHash } from "ethers";

import { bytesToBase64, bytesToBase64Url, bytesToHexString, utf8ToBytes } from "../../core/bytes.js";
import { sha256Hex } from "../../core/hash.js";
import { createMlDsaSigner, generateMlDsaKeyPair, type MlDsaSigner } from "../../core/crypto/mldsa.js";
import { readAuditLogFile } from "../../gateway/audit/auditLog.js";
import { Category, Purpose } from "../../protocol/codes.js";
import { isSignedRecord, parseSignedRecordPrefix, signRecord, type RecordSignatureContext } from "../../protocol/signedRecord.js";
import { bindDevice } from "../../sdk/actions/bindDevice.js";
import { bindDevicePq } from "../../sdk/actions/bindDevicePq.js";
import { grantConsent } from "../../sdk/actions/grantConsent.js";
import { ingestReadings } from "../../sdk/actions/ingestReadings.js";
import { readRecord } from "../../sdk/actions/readRecord.js";
import { readSharedRecord } from "../../sdk/actions/readSharedRecord.js";
import { registerDevice } from "../../sdk/actions/registerDevice.js";
import { registerPatient } from "../../sdk/actions/registerPatient.js";
import { shareRecord } from "../../sdk/actions/shareRecord.js";
import { storeRecord } from "../../sdk/actions/storeRecord.js";
import type { RecordRef } from "../../sdk/actions/types.js";
import { unbindDevice } from "../../sdk/actions/unbindDevice.js";
import { verifyRecord } from "../../sdk/actions/verifyRecord.js";
import { newSalt, recordCommitment } from "../../sdk/crypto/commitment.js";
import { sealRecord } from "../../sdk/crypto/envelope.js";
import { buildObservation, type Reading } from "../../sdk/fhir/observations.js";
import { freshEvaluationKeys, startFixture, TEST_PARAM_SET, type Actor, type Fixture } from "../sdk/fixture.js";

/** The code, HTTP status and reason a call was refused with. */
async function refusal(promise: Promise<unknown>): Promise<{ code?: string; status?: number; reason?: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { code?: string; details?: { status?: number; reason?: string } };
    return { code: e.code, status: e.details?.status, reason: e.details?.reason };
  }
  expect.fail("expected a refusal");
}

function readings(count: number, start = Date.parse("2026-03-01T00:00:00Z")): Reading[] {
  return Array.from({ length: count }, (_, i) => ({ time: new Date(start + i * 60_000).toISOString(), metric: "heart_rate", value: 60 + (i % 30) }));
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/**
 * ML-DSA-65 device signatures on a real chain and a real gateway on loopback: the device binds
 * with its key (bindDevicePq), its records are checked at ingestion and by every reader.
 */
describe("post-quantum device signatures: gateway ingestion and readers", function () {
  this.timeout(180_000);
  let fx: Fixture;
  let patient: Actor;
  let otherPatient: Actor;
  let clinician: Actor;
  let device: Actor;
  let secondDevice: Actor;
  let classicDevice: Actor;
  let pqSigner: MlDsaSigner;
  let pqSeed: Uint8Array;
  let secondSigner: MlDsaSigner;
  let strayKey: MlDsaSigner;
  let sealedA: Uint8Array;
  let sealedB: Uint8Array;
  let signedRecords: RecordRef[];

  const now = () => Math.floor(Date.now() / 1000);
  const contextFor = (signer: Actor, category: number = Category.VITAL_SIGNS): RecordSignatureContext => ({
    device: signer.wallet.address, patient: patient.wallet.address, chainId: patient.client.chainId, identityRegistry: fx.addresses.IdentityRegistry, category,
  });
  const put = (by: Actor, bytes: Uint8Array, category: number = Category.VITAL_SIGNS) =>
    by.client.gateway!.put(bytes, { owner: patient.wallet.address, kind: "record", category });

  /** A refused upload left no blob file, no temporary file and no metadata. */
  async function expectNothingStored(bytes: Uint8Array) {
    const id = sha256Hex(bytes);
    const files = await filesUnder(join(fx.dataDir, "gateway"));
    expect(files.filter((f) => f.includes(id.slice(2)) || f.split("/").at(-1)!.startsWith(".tmp-")), "files left by a refused upload").to.deep.equal([]);
    expect((await refusal(patient.client.gateway!.get(id, { purpose: Purpose.PATRQT }))).code).to.equal("GATEWAY_BLOB_NOT_FOUND");
  }

  async function expectRefusedUpload(by: Actor, bytes: Uint8Array, code: string, status: number, category?: number) {
    const r = await refusal(put(by, bytes, category));
    expect(r.code, r.reason).to.equal(code);
    expect(r.status).to.equal(status);
    await expectNothingStored(bytes);
    return r;
  }

  /** Anchors `blob` under the patient's own record commitment without the gateway: what a reader gets from an uploader who bypassed it. */
  async function anchoredBehindTheGateway(owner: Actor, blob: Uint8Array, category: number = Category.VITAL_SIGNS): Promise<RecordRef> {
    const salt = newSalt();
    const readingId = recordCommitment(salt, blob);
    await (await owner.client.contracts.records.anchorRecord(owner.wallet.address, readingId, category, `medcipher://blob/${sha256Hex(blob)}`, ZeroHash)).wait();
    return { patient: owner.wallet.address, blobId: sha256Hex(blob), readingId, salt, category, root: null, proof: [], readings: 1 };
  }

  before(async function () {
    fx = await startFixture();
    [patient, otherPatient, clinician, device, secondDevice, classicDevice] = await Promise.all(
      (["patient", "otherPatient", "clinician", "device", "secondDevice", "classicDevice"] as const).map((name) => fx.actor(name)),
    ) as [Actor, Actor, Actor, Actor, Actor, Actor];
    const vendor = await fx.actor("vendor");
    for (const p of [patient, otherPatient]) {
      await registerPatient(p.client, { encryptionPublicKey: p.encryptionKey.publicKey, evaluationKeys: await freshEvaluationKeys(), paramSetId: TEST_PARAM_SET });
    }
    for (const d of [device, secondDevice, classicDevice]) await registerDevice(vendor.client, { device: d.wallet.address });
    const pqPair = await generateMlDsaKeyPair();
    pqSeed = Uint8Array.from(pqPair.seed);
    pqSigner = await createMlDsaSigner(pqPair);
    secondSigner = await createMlDsaSigner(await generateMlDsaKeyPair());
    strayKey = await createMlDsaSigner(await generateMlDsaKeyPair());
    const expiresAt = now() + 30 * 86_400;
    const bound = await bindDevicePq(patient.client, { device: device.wallet, expiresAt, pqPublicKey: pqSigner.publicKey });
    expect(bound.pqKeyHash).to.equal(pqSigner.publicKeyHash);
    await bindDevicePq(patient.client, { device: secondDevice.wallet, expiresAt, pqPublicKey: secondSigner.publicKey });
    await bindDevice(patient.client, { device: classicDevice.wallet, expiresAt });
    sealedA = (await sealRecord(utf8ToBytes('{"resourceType":"Bundle","type":"collection"}'), patient.encryptionKey.publicKey)).sealed;
    sealedB = (await sealRecord(utf8ToBytes('{"resourceType":"Bundle","type":"searchset"}'), patient.encryptionKey.publicKey)).sealed;
  });
  after(async function () {
    await fx?.close();
  });

  it("bindDevicePq commits the device's key hash on-chain", async function () {
    const info = await patient.client.contracts.identity.deviceOf(device.wallet.address);
    expect(info.pqKeyHash).to.equal(pqSigner.publicKeyHash);
    expect(info.patient).to.equal(patient.wallet.address);
    expect(Number(await patient.client.contracts.identity.pqKeyBoundSince(device.wallet.address, patient.wallet.address, pqSigner.publicKeyHash))).to.be.greaterThan(0);
    expect((await patient.client.contracts.identity.deviceOf(classicDevice.wallet.address)).pqKeyHash).to.equal(ZeroHash);
  });

  it("a PQ device's records are signed, accepted by the gateway, and verified again by the patient, a grantee and verifyRecord", async function () {
    const sent = readings(60);
    const ingest = await ingestReadings(device.client, { patient: patient.wallet.address, readings: sent, readingsPerRecord: 25, pqSigner });
    signedRecords = ingest.records;
    expect(ingest.records).to.have.length(3);
    const blob = await patient.client.gateway!.get(ingest.records[0]!.blobId, { purpose: Purpose.PATRQT });
    expect(isSignedRecord(blob), "stored as a signed record").to.equal(true);
    expect(parseSignedRecordPrefix(blob).header).to.include({ device: device.wallet.address, patient: patient.wallet.address, category: Category.VITAL_SIGNS });

    const own = await readRecord(patient.client, { record: ingest.records[1]! });
    expect(own.readings.map((r) => r.value)).to.deep.equal(sent.slice(25, 50).map((r) => r.value));
    const verified = await verifyRecord(patient.client, { record: ingest.records[0]!, sealed: blob });
    expect(verified.deviceSignature).to.include({ device: device.wallet.address, publicKeyHash: pqSigner.publicKeyHash });
    expect(verified.deviceSignature!.boundSince).to.be.greaterThan(0);
    expect(verified.envelope.length).to.be.lessThan(blob.length);

    await grantConsent(patient.client, { grantee: clinician.wallet.address, purpose: Purpose.TREAT, categories: [Category.VITAL_SIGNS], validUntil: now() + 86_400 });
    const { shareId } = await shareRecord(patient.client, { record: ingest.records[2]!, grantee: clinician.wallet.address, granteeEncryptionKey: clinician.encryptionKey.publicKey });
    const shared = await readSharedRecord(clinician.client, { shareId, purpose: Purpose.TREAT });
    expect(shared.readings.map((r) => r.value)).to.deep.equal(sent.slice(50).map((r) => r.value));

    const audit = await readAuditLogFile(join(fx.dataDir, "gateway", "audit.jsonl"));
    expect(audit.find((e) => e.blobId === ingest.records[0]!.blobId && e.action === "write")).to.include({ outcome: "granted", reason: "device" });
  });

  it("refuses an unsigned record from a device bound with an ML-DSA key (MISSING), storing nothing", async function () {
    const r = await expectRefusedUpload(device, sealedA, "GATEWAY_RECORD_SIGNATURE_MISSING", 403);
    expect(r.reason).to.match(/bound with an ML-DSA-65 key/);
    expect((await refusal(ingestReadings(device.client, { patient: patient.wallet.address, readings: readings(3) }))).code).to.equal("GATEWAY_RECORD_SIGNATURE_MISSING");
    // Any other bytes as well: a PQ-bound device uploads signed records only.
    await expectRefusedUpload(device, utf8ToBytes("not a record at all"), "GATEWAY_RECORD_SIGNATURE_MISSING", 403);
  });

  it("refuses forged, truncated, wrong-key, lifted and wrong-context signatures at the gateway, each with its code, storing nothing", async function () {
    const good = await signRecord(sealedA, pqSigner, contextFor(device));
    const { length } = parseSignedRecordPrefix(good);

    const forged = Uint8Array.from(good);
    forged[length - 10]! ^= 1;
    await expectRefusedUpload(device, forged, "GATEWAY_RECORD_SIGNATURE_INVALID", 403);

    expect((await expectRefusedUpload(device, good.subarray(0, length - 100), "GATEWAY_RECORD_SIGNATURE_MALFORMED", 400)).reason).to.match(/inside the header or signature/);
    // Cut inside the envelope: found only at the end of the stream, after the store began writing.
    expect((await expectRefusedUpload(device, good.subarray(0, good.length - 1), "GATEWAY_RECORD_SIGNATURE_MALFORMED", 400)).reason).to.match(/truncated or extended/);

    const wrongKey = await expectRefusedUpload(device, await signRecord(sealedA, strayKey, contextFor(device)), "GATEWAY_RECORD_SIGNATURE_WRONG_KEY", 403);
    expect(wrongKey.reason).to.match(/another ML-DSA key/);

    const lifted = new Uint8Array(length + sealedB.length);
    lifted.set(good.subarray(0, length));
    lifted.set(sealedB, length);
    await expectRefusedUpload(device, lifted, "GATEWAY_RECORD_SIGNATURE_BODY_MISMATCH", 422);

    // Signed for another category than uploaded under; signed by another device than the uploader.
    await expectRefusedUpload(device, good, "GATEWAY_RECORD_SIGNATURE_WRONG_CONTEXT", 403, Category.LABORATORY);
    const bySecond = await signRecord(sealedA, secondSigner, contextFor(secondDevice));
    expect((await expectRefusedUpload(device, bySecond, "GATEWAY_RECORD_SIGNATURE_WRONG_CONTEXT", 403)).reason).to.match(/signed for device/);
    // The second device itself may upload it.
    expect(await put(secondDevice, bySecond)).to.equal(sha256Hex(bySecond));

    // Refusals are audited under the uploader with their code.
    const audit = await readAuditLogFile(join(fx.dataDir, "gateway", "audit.jsonl"));
    const refused = audit.filter((e) => e.outcome === "refused" && e.actor === device.wallet.address).map((e) => e.reason);
    expect(refused).to.include.members(["GATEWAY_RECORD_SIGNATURE_INVALID", "GATEWAY_RECORD_SIGNATURE_BODY_MISMATCH", "GATEWAY_RECORD_SIGNATURE_WRONG_KEY", "GATEWAY_RECORD_SIGNATURE_MISSING"]);
  });

  it("replays: an identical re-upload is idempotent; a stale or future-dated signature is refused (STALE)", async function () {
    const fresh = await signRecord(sealedA, pqSigner, contextFor(device));
    const id = await put(device, fresh);
    // The very same bytes again (a retry, or a replay of a captured upload): the same blob, nothing new.
    const filesBefore = await filesUnder(join(fx.dataDir, "gateway", "blobs"));
    expect(filesBefore.filter((f) => f.includes(id.slice(2))), "the accepted blob's file (the helper sees stored blobs)").to.have.length(1);
    expect(await put(device, fresh)).to.equal(id);
    expect(await filesUnder(join(fx.dataDir, "gateway", "blobs"))).to.have.members(filesBefore);

    // A copy kept and re-sent after the freshness window (default 1 h): refused.
    const old = await signRecord(sealedB, pqSigner, { ...contextFor(device), signedAt: now() - 2 * 3600 });
    expect((await expectRefusedUpload(device, old, "GATEWAY_RECORD_SIGNATURE_STALE", 401)).reason).to.match(/signed \d+ s ago, more than 3600 s/);
    const future = await signRecord(sealedB, pqSigner, { ...contextFor(device), signedAt: now() + 3600 });
    expect((await expectRefusedUpload(device, future, "GATEWAY_RECORD_SIGNATURE_STALE", 401)).reason).to.match(/in the future/);
  });

  it("a classic device (no ML-DSA key) works unchanged; a signature it sends is refused (its binding commits to no key)", async function () {
    const ingest = await ingestReadings(classicDevice.client, { patient: patient.wallet.address, readings: readings(5) });
    const blob = await patient.client.gateway!.get(ingest.records[0]!.blobId, { purpose: Purpose.PATRQT });
    expect(isSignedRecord(blob)).to.equal(false);
    expect((await readRecord(patient.client, { record: ingest.records[0]! })).readings).to.have.length(5);
    expect((await verifyRecord(patient.client, { record: ingest.records[0]!, sealed: blob })).deviceSignature).to.equal(null);
    const r = await expectRefusedUpload(classicDevice, await signRecord(sealedA, strayKey, contextFor(classicDevice)), "GATEWAY_RECORD_SIGNATURE_WRONG_KEY", 403);
    expect(r.reason).to.match(/commits to no ML-DSA key/);
    // The patient's own unsigned uploads are unchanged too.
    const own = await storeRecord(patient.client, { patient: patient.wallet.address, resource: buildObservation(readings(1)[0]!, { patient: patient.wallet.address }), category: Category.LABORATORY });
    expect((await readRecord(patient.client, { record: own.record })).readings).to.have.length(1);
  });

  it("readers refuse forged, truncated, wrong-key, lifted, stripped and replayed signatures even when anchored behind the gateway's back", async function () {
    const good = await signRecord(sealedA, pqSigner, contextFor(device));
    const { length } = parseSignedRecordPrefix(good);
    const verify = async (blob: Uint8Array, record?: RecordRef) => verifyRecord(patient.client, { record: record ?? (await anchoredBehindTheGateway(patient, blob)), sealed: blob });

    // The genuine one verifies.
    expect((await verify(good)).deviceSignature!.publicKeyHash).to.equal(pqSigner.publicKeyHash);

    const forged = Uint8Array.from(good);
    forged[length - 10]! ^= 1;
    expect((await refusal(verify(forged))).code).to.equal("RECORD_SIGNATURE_INVALID");
    expect((await refusal(verify(good.subarray(0, good.length - 3)))).code).to.equal("RECORD_SIGNATURE_MALFORMED");
    const wrongKey = await refusal(verify(await signRecord(sealedA, strayKey, contextFor(device))));
    expect(wrongKey).to.include({ code: "RECORD_SIGNATURE_WRONG_KEY", reason: "the chain never bound this key to the device for the patient" });
    const lifted = new Uint8Array(length + sealedB.length);
    lifted.set(good.subarray(0, length));
    lifted.set(sealedB, length);
    expect((await refusal(verify(lifted))).code).to.equal("RECORD_SIGNATURE_BODY_MISMATCH");

    // Backdated: signed (by the right key) long before the key was bound.
    const boundSince = Number(await patient.client.contracts.identity.pqKeyBoundSince(device.wallet.address, patient.wallet.address, pqSigner.publicKeyHash));
    const backdated = await refusal(verify(await signRecord(sealedA, pqSigner, { ...contextFor(device), signedAt: boundSince - 1000 })));
    expect(backdated).to.include({ code: "RECORD_SIGNATURE_WRONG_KEY", reason: "signed before the key was bound to the device for the patient" });

    // Replayed into another context: the same signed blob anchored as another category, or as another patient's.
    expect((await refusal(verify(good, await anchoredBehindTheGateway(patient, good, Category.LABORATORY)))).code).to.equal("RECORD_SIGNATURE_WRONG_CONTEXT");
    const asOther = await refusal(verifyRecord(otherPatient.client, { record: await anchoredBehindTheGateway(otherPatient, good), sealed: good }));
    expect(asOther.code).to.equal("RECORD_SIGNATURE_WRONG_CONTEXT");

    // Stripped: the envelope without its signature does not match the commitment to the signed blob.
    const record = await anchoredBehindTheGateway(patient, good);
    expect((await refusal(verify(sealedA, record))).code).to.equal("SDK_INTEGRITY");
  });

  it("after unbinding: the gateway refuses the device's new signatures (DEVICE_NOT_BOUND); old records still verify, also after re-keying", async function () {
    await unbindDevice(patient.client, { device: device.wallet.address });
    // The patient relays a record the (now unbound) device signed: refused.
    const r = await expectRefusedUpload(patient, await signRecord(sealedB, pqSigner, contextFor(device)), "GATEWAY_RECORD_SIGNATURE_DEVICE_NOT_BOUND", 403);
    expect(r.reason).to.match(/is not bound to/);
    // Rebound under a new key: records signed under the old one still read (pqKeyBoundSince is kept).
    const newKey = await createMlDsaSigner(await generateMlDsaKeyPair());
    await bindDevicePq(patient.client, { device: device.wallet, expiresAt: now() + 86_400, pqPublicKey: newKey.publicKey });
    expect((await readRecord(patient.client, { record: signedRecords[0]! })).readings).to.have.length(25);
    // The old key no longer signs new uploads; the new one does.
    expect((await expectRefusedUpload(device, await signRecord(sealedB, pqSigner, contextFor(device)), "GATEWAY_RECORD_SIGNATURE_WRONG_KEY", 403)).reason).to.match(/another ML-DSA key/);
    const ingest = await ingestReadings(device.client, { patient: patient.wallet.address, readings: readings(2), pqSigner: newKey });
    expect((await readRecord(patient.client, { record: ingest.records[0]! })).readings).to.have.length(2);
  });

  it("the device's ML-DSA secret (its seed) reaches neither the gateway's files nor its log", async function () {
    const files = await filesUnder(fx.dataDir);
    expect(files.length).to.be.greaterThan(10);
    const encodings = [bytesToHexString(pqSeed), bytesToBase64Url(pqSeed), bytesToBase64(pqSeed)];
    for (const file of files) {
      const bytes = await readFile(file);
      expect(bytes.indexOf(Buffer.from(pqSeed)), `${file} holds the raw seed`).to.equal(-1);
      const text = bytes.toString("latin1");
      for (const encoded of encodings) expect(text.includes(encoded), `${file} holds the seed encoded`).to.equal(false);
    }
    // The public key is there (in every signed record's header): the scan does see inside the blobs.
    const publicKey = bytesToBase64Url(pqSigner.publicKey);
    const withPublicKey = [];
    for (const file of files) if ((await readFile(file, "latin1")).includes(publicKey)) withPublicKey.push(file);
    expect(withPublicKey.length, "blobs carrying the device's public key").to.be.greaterThan(0);
  });
});
