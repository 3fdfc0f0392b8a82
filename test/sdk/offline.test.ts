import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";
import { hexlify, Wallet } from "ethers";

import { buildMerkleBatch, merkleLeaf, newSalt, recordCommitment, verifyMerkleProof } from "../../sdk/crypto/commitment.js";
import { openRecord, openRecordAsPatient, parseSealedRecord, sealRecord, unwrapDataKey, wrapDataKey } from "../../sdk/crypto/envelope.js";
import { generateEncryptionKeyPair } from "../../sdk/crypto/x25519.js";
import { DecryptionError, KeystoreError, ReadingsParseError } from "../../sdk/errors.js";
import { buildObservationBundle, consentFromFhir, consentToFhir, readingsFromBundle } from "../../sdk/fhir/observations.js";
import { readKeystore, writeKeystore } from "../../sdk/keystore.js";
import { parseReadingsCsv } from "../../sdk/readings/csv.js";
import { recoverReadingSigner, signReadings } from "../../sdk/readings/deviceSignature.js";

const FAST_KDF = { N: 1 << 10, r: 8, p: 1 };

describe("sdk: envelope encryption", function () {
  it("seals a record for the patient and shares it by re-wrapping the data key", async function () {
    const patient = await generateEncryptionKeyPair();
    const clinician = await generateEncryptionKeyPair();
    const plaintext = new TextEncoder().encode("heart rate 72");
    const { sealed, dataKey } = await sealRecord(plaintext, patient.publicKey);
    expect(Buffer.from(sealed).includes(Buffer.from(plaintext))).to.equal(false);
    expect(await openRecordAsPatient(sealed, patient)).to.deep.equal(plaintext);
    const share = await wrapDataKey(dataKey, clinician.publicKey);
    expect(await openRecord(sealed, await unwrapDataKey(share, clinician))).to.deep.equal(plaintext);
  });

  it("refuses the wrong key and an altered ciphertext or header", async function () {
    const patient = await generateEncryptionKeyPair();
    const other = await generateEncryptionKeyPair();
    const { sealed } = await sealRecord(new Uint8Array([1, 2, 3]), patient.publicKey);
    await openRecordAsPatient(sealed, other).then(() => expect.fail(), (e) => expect(e).to.be.instanceOf(DecryptionError));
    const flipped = sealed.slice();
    flipped[flipped.length - 1]! ^= 1;
    await openRecordAsPatient(flipped, patient).then(() => expect.fail(), (e) => expect(e).to.be.instanceOf(DecryptionError));
    const { headerBytes } = parseSealedRecord(sealed);
    const headerFlipped = sealed.slice();
    headerFlipped[8 + headerBytes.length - 3]! ^= 1;
    await openRecordAsPatient(headerFlipped, patient).then(() => expect.fail(), (e) => expect(e).to.be.instanceOf(DecryptionError));
  });
});

describe("sdk: commitments and Merkle batches", function () {
  it("salts commitments and proves every reading of a batch", function () {
    const sealed = new Uint8Array([9, 9, 9]);
    expect(recordCommitment(newSalt(), sealed)).to.not.equal(recordCommitment(newSalt(), sealed));
    for (const n of [1, 2, 3, 7, 8]) {
      const ids = Array.from({ length: n }, () => recordCommitment(newSalt(), sealed));
      const batch = buildMerkleBatch(ids);
      ids.forEach((id, i) => expect(verifyMerkleProof(batch.root, id, batch.proofs[i]!)).to.equal(true));
      expect(verifyMerkleProof(batch.root, recordCommitment(newSalt(), sealed), batch.proofs[0]!)).to.equal(false);
    }
  });

  it("hashes leaves as OpenZeppelin StandardMerkleTree [bytes32] does", function () {
    // keccak256(bytes.concat(keccak256(abi.encode(bytes32(0))))) — value from StandardMerkleTree.
    expect(merkleLeaf(`0x${"00".repeat(32)}`)).to.equal("0x510e4e770828ddbf7f7b00ab00a9f6adaf81c0dc9cc85f1f8249c256942d61d9");
  });
});

describe("sdk: readings CSV and FHIR", function () {
  const csv = [
    "time,metric,value,unit",
    "2026-01-01T08:00:00Z,heart_rate,72,/min",
    "2026-01-01T08:00:00Z,systolic_bp,121,mm[Hg]",
    "1767254400,spo2,97,%",
    "# a comment",
    "2026-01-01T08:05:00Z,heart_rate,abc,/min",
    "2026-01-01T08:05:00Z,temperature_x,37,Cel",
    "not-a-time,glucose,90,mg/dL",
    "2026-01-01T08:05:00Z,spo2,140,%",
    "2026-01-01T08:05:00Z,glucose,90",
  ].join("\n");

  it("reports every malformed row by line and ingests none by default", function () {
    try {
      parseReadingsCsv(csv);
      expect.fail("expected ReadingsParseError");
    } catch (error) {
      expect(error).to.be.instanceOf(ReadingsParseError);
      expect((error as ReadingsParseError).rows.map((r) => r.line)).to.deep.equal([6, 7, 8, 9, 10]);
    }
  });

  it("ingests the valid rows with skipInvalid and round-trips them through FHIR", function () {
    const { readings, rejected } = parseReadingsCsv(csv, { skipInvalid: true });
    expect(readings.map((r) => r.metric)).to.deep.equal(["heart_rate", "systolic_bp", "spo2"]);
    expect(rejected).to.have.length(5);
    const bundle = buildObservationBundle(readings, { patient: Wallet.createRandom().address });
    expect(bundle.entry?.[0]?.resource?.code?.coding?.[0]?.code).to.equal("8867-4");
    // A systolic reading without its diastolic partner is an R4 blood-pressure panel (85354-9) with one component.
    expect(bundle.entry?.[1]?.resource?.code?.coding?.[0]?.code).to.equal("85354-9");
    expect(bundle.entry?.[1]?.resource?.component?.[0]?.code?.coding?.[0]?.code).to.equal("8480-6");
    expect(bundle.entry?.[2]?.resource?.code?.coding?.map((c) => c.code)).to.deep.equal(["2708-6", "59408-5"]);
    expect(readingsFromBundle(bundle)).to.deep.equal(readings);
  });

  it("device signatures identify the device and break when a value changes", async function () {
    const device = Wallet.createRandom();
    const patient = Wallet.createRandom().address;
    const [signed] = await signReadings(device, patient, 31337, [{ time: "2026-01-01T08:00:00.000Z", metric: "heart_rate", value: 72 }]);
    expect(recoverReadingSigner(signed!, patient, 31337)).to.equal(device.address);
    expect(recoverReadingSigner({ ...signed!, value: 73 }, patient, 31337)).to.not.equal(device.address);
  });

  it("maps consent terms to FHIR Consent and back", function () {
    const terms = { patient: Wallet.createRandom().address, grantee: Wallet.createRandom().address, purpose: 1, categories: ["VITAL_SIGNS"], validFrom: 1767225600, validUntil: 1767312000, active: true };
    expect(consentFromFhir(consentToFhir(terms))).to.deep.equal(terms);
  });
});

describe("sdk: keystore", function () {
  it("encrypts secrets under a password and refuses a wrong one", async function () {
    const dir = await mkdtemp(join(tmpdir(), "medcipher-ks-"));
    try {
      const wallet = Wallet.createRandom();
      const enc = await generateEncryptionKeyPair();
      const secrets = { privateKey: wallet.privateKey, encryption: { publicKey: hexlify(enc.publicKey), privateKey: hexlify(enc.privateKey) } };
      await writeKeystore(join(dir, "k.json"), wallet.address, secrets, "correct horse", FAST_KDF);
      const { readFile } = await import("node:fs/promises");
      expect(await readFile(join(dir, "k.json"), "utf8")).to.not.include(wallet.privateKey.slice(2));
      expect((await readKeystore(join(dir, "k.json"), "correct horse")).secrets).to.deep.equal(secrets);
      await readKeystore(join(dir, "k.json"), "wrong").then(() => expect.fail(), (e) => expect(e).to.be.instanceOf(KeystoreError));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
