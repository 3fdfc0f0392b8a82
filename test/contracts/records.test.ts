import { expect } from "chai";
import { network } from "hardhat";

import { ANCHOR_BATCH_TYPES, medCipherDomain } from "../../protocol/typedData.js";
import { buildMerkleBatch } from "../../sdk/crypto/commitment.js";
import {
  Category,
  DAY,
  Purpose,
  blobUri,
  bindDevice,
  categoryBit,
  deploySuite,
  latest,
  randomHash,
  registerPatient,
  signAnchor,
  signatureVariants,
  type AnchorTerms,
  type Suite,
} from "./fixtures.js";

const connection = await network.create();
const { ethers, networkHelpers } = connection;

describe("RecordRegistry", function () {
  /** A registered patient with a bound device. */
  async function suiteFixture(): Promise<Suite> {
    const suite = await deploySuite(connection);
    await registerPatient(suite, suite.actors.patient);
    await registerPatient(suite, suite.actors.otherPatient);
    await bindDevice(connection, suite, suite.actors.device, suite.actors.patient);
    await bindDevice(connection, suite, suite.actors.otherDevice, suite.actors.otherPatient);
    return suite;
  }

  async function anchorTerms(suite: Suite, overrides: Partial<AnchorTerms> = {}): Promise<AnchorTerms> {
    const id = randomHash();
    return {
      patient: suite.actors.patient.address,
      recordId: id,
      category: Category.VITAL_SIGNS,
      uri: blobUri(randomHash()),
      supersedes: ethers.ZeroHash,
      deadline: (await latest(connection)) + 600n,
      ...overrides,
    };
  }

  function relay(suite: Suite, t: AnchorTerms, signature: string) {
    return suite.records
      .connect(suite.actors.relayer)
      .anchorRecordBySig(t.patient, t.recordId, t.category, t.uri, t.supersedes, t.deadline, signature);
  }

  describe("anchorRecord", function () {
    it("anchors a patient's own record commitment; the URI is only emitted", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient } = suite.actors;
      const id = randomHash();
      const uri = blobUri(randomHash());
      await expect(suite.records.connect(patient).anchorRecord(patient.address, id, Category.LABORATORY, uri, ethers.ZeroHash))
        .to.emit(suite.records, "RecordAnchored")
        .withArgs(id, patient.address, Category.LABORATORY, uri, ethers.ZeroHash, patient.address, ethers.ZeroAddress);
      const entry = await suite.records.entryOf(patient.address, id);
      expect(entry.patient).to.equal(patient.address);
      expect(entry.category).to.equal(BigInt(Category.LABORATORY));
      expect(entry.kind).to.equal(1n);
      expect(entry.count).to.equal(1n);
      expect(entry.anchoredAt).to.equal(BigInt(await latest(connection)));
    });

    it("never overwrites: an id anchors once", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient } = suite.actors;
      const id = randomHash();
      await (await suite.records.connect(patient).anchorRecord(patient.address, id, Category.LABORATORY, "u", ethers.ZeroHash)).wait();
      await expect(suite.records.connect(patient).anchorRecord(patient.address, id, Category.IMAGING, "v", ethers.ZeroHash))
        .to.be.revertedWithCustomError(suite.records, "AlreadyAnchored")
        .withArgs(patient.address, id);
      expect((await suite.records.entryOf(patient.address, id)).category).to.equal(BigInt(Category.LABORATORY));
    });

    it("rejects a zero id, a zero patient and an out-of-range category", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient } = suite.actors;
      const r = suite.records.connect(patient);
      await expect(r.anchorRecord(patient.address, ethers.ZeroHash, 0, "u", ethers.ZeroHash)).to.be.revertedWithCustomError(r, "InvalidCommitment");
      await expect(r.anchorRecord(patient.address, randomHash(), 32, "u", ethers.ZeroHash)).to.be.revertedWithCustomError(r, "InvalidCategory").withArgs(32);
      await expect(r.anchorRecord(ethers.ZeroAddress, randomHash(), 0, "u", ethers.ZeroHash)).to.be.revertedWithCustomError(r, "NotAuthorisedToAnchor");
    });

    it("lets a bound device anchor for its own patient, never for another patient", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, otherPatient, device } = suite.actors;
      const id = randomHash();
      await expect(suite.records.connect(device).anchorRecord(patient.address, id, Category.VITAL_SIGNS, "u", ethers.ZeroHash))
        .to.emit(suite.records, "RecordAnchored")
        .withArgs(id, patient.address, Category.VITAL_SIGNS, "u", ethers.ZeroHash, device.address, device.address);
      await expect(suite.records.connect(device).anchorRecord(otherPatient.address, randomHash(), Category.VITAL_SIGNS, "u", ethers.ZeroHash))
        .to.be.revertedWithCustomError(suite.records, "NotAuthorisedToAnchor")
        .withArgs(device.address, otherPatient.address);
      // Once unbound, not even for its former patient.
      await (await suite.identity.connect(patient).unbindDevice(device.address)).wait();
      await expect(suite.records.connect(device).anchorRecord(patient.address, randomHash(), Category.VITAL_SIGNS, "u", ethers.ZeroHash))
        .to.be.revertedWithCustomError(suite.records, "NotAuthorisedToAnchor");
    });

    it("lets a provider anchor only with live TREAT consent for that category", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, provider, researcher } = suite.actors;
      const anchor = (who: typeof provider, category: number) =>
        suite.records.connect(who).anchorRecord(patient.address, randomHash(), category, "u", ethers.ZeroHash);
      await expect(anchor(provider, Category.LABORATORY)).to.be.revertedWithCustomError(suite.records, "NotAuthorisedToAnchor");
      const now = await latest(connection);
      await (await suite.consent.connect(patient).grantConsent(provider.address, Purpose.TREAT, categoryBit(Category.LABORATORY), 0, now + DAY)).wait();
      await (await suite.consent.connect(patient).grantConsent(researcher.address, Purpose.TREAT, categoryBit(Category.LABORATORY), 0, now + DAY)).wait();
      await expect(anchor(provider, Category.LABORATORY)).to.emit(suite.records, "RecordAnchored");
      await expect(anchor(provider, Category.IMAGING)).to.be.revertedWithCustomError(suite.records, "NotAuthorisedToAnchor");
      // Consent without the PROVIDER role is not enough.
      await expect(anchor(researcher, Category.LABORATORY)).to.be.revertedWithCustomError(suite.records, "NotAuthorisedToAnchor");
      await (await suite.consent.connect(patient).revokeConsent(provider.address, Purpose.TREAT)).wait();
      await expect(anchor(provider, Category.LABORATORY)).to.be.revertedWithCustomError(suite.records, "NotAuthorisedToAnchor");
    });
  });

  describe("device-signed anchors (EIP-712)", function () {
    it("anchors a record relayed by anyone with the bound device's signature, once", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, device, relayer } = suite.actors;
      const t = await anchorTerms(suite);
      const signature = await signAnchor(suite, device, t);
      await expect(relay(suite, t, signature))
        .to.emit(suite.records, "RecordAnchored")
        .withArgs(t.recordId, patient.address, t.category, t.uri, ethers.ZeroHash, relayer.address, device.address);
      await expect(relay(suite, t, signature)).to.be.revertedWithCustomError(suite.records, "AlreadyAnchored").withArgs(t.patient, t.recordId);
    });

    it("refuses a device signing for another patient, or an unbound device", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { otherPatient, device, otherDevice, stranger } = suite.actors;
      const t = await anchorTerms(suite, { patient: otherPatient.address });
      await expect(relay(suite, t, await signAnchor(suite, device, t)))
        .to.be.revertedWithCustomError(suite.records, "NotAuthorisedToAnchor")
        .withArgs(device.address, otherPatient.address);
      const own = await anchorTerms(suite);
      await expect(relay(suite, own, await signAnchor(suite, otherDevice, own))).to.be.revertedWithCustomError(suite.records, "NotAuthorisedToAnchor");
      await expect(relay(suite, own, await signAnchor(suite, stranger, own))).to.be.revertedWithCustomError(suite.records, "NotAuthorisedToAnchor");
      const zero = await anchorTerms(suite, { patient: ethers.ZeroAddress });
      await expect(relay(suite, zero, await signAnchor(suite, stranger, zero))).to.be.revertedWithCustomError(suite.records, "NotAuthorisedToAnchor");
    });

    it("refuses other chain ids and contracts, changed terms, expired deadlines and malformed signatures", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { device } = suite.actors;
      const t = await anchorTerms(suite);
      const good = await signAnchor(suite, device, t);
      await expect(relay(suite, t, await signAnchor(suite, device, t, { chainId: 1n }))).to.be.revertedWithCustomError(suite.records, "NotAuthorisedToAnchor");
      await expect(relay(suite, t, await signAnchor(suite, device, t, { verifyingContract: suite.addresses.ConsentManager }))).to.be.revertedWithCustomError(
        suite.records,
        "NotAuthorisedToAnchor",
      );
      await expect(relay(suite, { ...t, uri: "medcipher://blob/evil" }, good)).to.be.revertedWithCustomError(suite.records, "NotAuthorisedToAnchor");
      await expect(relay(suite, { ...t, category: Category.GENOMICS }, good)).to.be.revertedWithCustomError(suite.records, "NotAuthorisedToAnchor");
      const v = signatureVariants(good);
      await expect(relay(suite, t, v.highS)).to.be.revertedWithCustomError(suite.records, "ECDSAInvalidSignatureS");
      await expect(relay(suite, t, v.badV)).to.be.revertedWithCustomError(suite.records, "ECDSAInvalidSignature");
      await expect(relay(suite, t, v.compact)).to.be.revertedWithCustomError(suite.records, "ECDSAInvalidSignatureLength").withArgs(64);
      await expect(relay(suite, t, v.zero)).to.be.revertedWithCustomError(suite.records, "ECDSAInvalidSignature");
      await expect(relay(suite, t, v.garbage)).to.be.revert(ethers);
      await expect(relay(suite, t, v.flippedV)).to.be.revertedWithCustomError(suite.records, "NotAuthorisedToAnchor");
      await networkHelpers.time.increaseTo(t.deadline + 1n);
      await expect(relay(suite, t, good)).to.be.revertedWithCustomError(suite.records, "SignatureExpired").withArgs(t.deadline);
      expect((await suite.records.entryOf(t.patient, t.recordId)).kind).to.equal(0n);
    });
  });

  describe("amendments", function () {
    it("links an amendment to the record it supersedes; the old record stays", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient } = suite.actors;
      const [v1, v2, v3] = [randomHash(), randomHash(), randomHash()];
      const r = suite.records.connect(patient);
      await (await r.anchorRecord(patient.address, v1, Category.LABORATORY, "u1", ethers.ZeroHash)).wait();
      await expect(r.anchorRecord(patient.address, v2, Category.LABORATORY, "u2", v1))
        .to.emit(suite.records, "RecordAnchored")
        .withArgs(v2, patient.address, Category.LABORATORY, "u2", v1, patient.address, ethers.ZeroAddress);
      expect(await suite.records.supersededBy(patient.address, v1)).to.equal(v2);
      expect((await suite.records.entryOf(patient.address, v1)).kind).to.equal(1n);
      // History is linear: v1 cannot be amended twice; v2 can.
      await expect(r.anchorRecord(patient.address, v3, Category.LABORATORY, "u3", v1))
        .to.be.revertedWithCustomError(suite.records, "AlreadySuperseded")
        .withArgs(v1, v2);
      await (await r.anchorRecord(patient.address, v3, Category.LABORATORY, "u3", v2)).wait();
      expect(await suite.records.supersededBy(patient.address, v2)).to.equal(v3);
    });

    it("refuses to amend an unknown record, a batch, or another patient's record", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, otherPatient } = suite.actors;
      const theirs = randomHash();
      await (await suite.records.connect(otherPatient).anchorRecord(otherPatient.address, theirs, 0, "u", ethers.ZeroHash)).wait();
      const root = randomHash();
      await (await suite.records.connect(patient).anchorBatch(patient.address, root, 2, 0, "u")).wait();
      const r = suite.records.connect(patient);
      for (const target of [randomHash(), root, theirs]) {
        await expect(r.anchorRecord(patient.address, randomHash(), 0, "u", target)).to.be.revertedWithCustomError(r, "UnknownRecord").withArgs(target);
      }
    });
  });

  describe("batches", function () {
    it("anchors one Merkle root for many readings and verifies inclusion on-chain", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, device } = suite.actors;
      const readings = Array.from({ length: 37 }, () => randomHash());
      const tree = buildMerkleBatch(readings);
      await expect(suite.records.connect(device).anchorBatch(patient.address, tree.root, readings.length, Category.VITAL_SIGNS, "u"))
        .to.emit(suite.records, "BatchAnchored")
        .withArgs(tree.root, patient.address, Category.VITAL_SIGNS, readings.length, "u", device.address, device.address);
      for (const i of [0, 1, 17, 36]) {
        expect(await suite.records.verifyInclusion(patient.address, tree.root, readings[i]!, tree.proofs[i]!)).to.equal(true);
      }
      // A reading not in the batch, a wrong proof, an unknown root: false.
      expect(await suite.records.verifyInclusion(patient.address, tree.root, randomHash(), tree.proofs[3]!)).to.equal(false);
      expect(await suite.records.verifyInclusion(patient.address, tree.root, readings[3]!, tree.proofs[4]!)).to.equal(false);
      const unanchored = buildMerkleBatch(readings.slice(0, 5));
      expect(await suite.records.verifyInclusion(patient.address, unanchored.root, readings[0]!, unanchored.proofs[0]!)).to.equal(false);
      const entry = await suite.records.entryOf(patient.address, tree.root);
      expect(entry.kind).to.equal(2n);
      expect(entry.count).to.equal(37n);
    });

    it("treats a single record as no batch", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient } = suite.actors;
      const reading = randomHash();
      const tree = buildMerkleBatch([reading]);
      await (await suite.records.connect(patient).anchorRecord(patient.address, tree.root, 0, "u", ethers.ZeroHash)).wait();
      expect(await suite.records.verifyInclusion(patient.address, tree.root, reading, [])).to.equal(false);
    });

    it("costs the same gas for 10 or 10,000 readings", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient } = suite.actors;
      const gas = async (n: number) => {
        const tree = buildMerkleBatch(Array.from({ length: n }, () => randomHash()));
        const receipt = await (await suite.records.connect(patient).anchorBatch(patient.address, tree.root, n, 0, blobUri(randomHash()))).wait();
        return receipt!.gasUsed;
      };
      await gas(2); // warm the patient's first-write costs
      const small = await gas(10);
      const large = await gas(10_000);
      const diff = small > large ? small - large : large - small;
      expect(diff < 100n).to.equal(true);
      expect(large <= 60_000n).to.equal(true);
    });

    it("rejects an empty batch, a reused root and unauthorised submitters", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, otherDevice, stranger } = suite.actors;
      const r = suite.records.connect(patient);
      await expect(r.anchorBatch(patient.address, randomHash(), 0, 0, "u")).to.be.revertedWithCustomError(r, "InvalidCommitment");
      await expect(r.anchorBatch(patient.address, ethers.ZeroHash, 3, 0, "u")).to.be.revertedWithCustomError(r, "InvalidCommitment");
      const root = randomHash();
      await (await r.anchorBatch(patient.address, root, 3, 0, "u")).wait();
      await expect(r.anchorBatch(patient.address, root, 3, 0, "u")).to.be.revertedWithCustomError(r, "AlreadyAnchored");
      await expect(r.anchorRecord(patient.address, root, 0, "u", ethers.ZeroHash)).to.be.revertedWithCustomError(r, "AlreadyAnchored");
      await expect(suite.records.connect(otherDevice).anchorBatch(patient.address, randomHash(), 3, 0, "u")).to.be.revertedWithCustomError(r, "NotAuthorisedToAnchor");
      await expect(suite.records.connect(stranger).anchorBatch(patient.address, randomHash(), 3, 0, "u")).to.be.revertedWithCustomError(r, "NotAuthorisedToAnchor");
    });

    it("anchors a device-signed batch through a relayer, once, for the device's patient only", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, otherPatient, device, relayer } = suite.actors;
      const tree = buildMerkleBatch(Array.from({ length: 8 }, () => randomHash()));
      const domain = medCipherDomain("RecordRegistry", suite.chainId, suite.addresses.RecordRegistry);
      const deadline = (await latest(connection)) + 600n;
      const batch = { patient: patient.address, root: tree.root, count: 8n, category: Category.VITAL_SIGNS, uri: "u", deadline };
      const signature = await device.signTypedData(domain, ANCHOR_BATCH_TYPES, batch);
      const submit = (b: typeof batch, sig: string) =>
        suite.records.connect(relayer).anchorBatchBySig(b.patient, b.root, b.count, b.category, b.uri, b.deadline, sig);
      await expect(submit(batch, signature))
        .to.emit(suite.records, "BatchAnchored")
        .withArgs(tree.root, patient.address, Category.VITAL_SIGNS, 8, "u", relayer.address, device.address);
      await expect(submit(batch, signature)).to.be.revertedWithCustomError(suite.records, "AlreadyAnchored");
      const forOther = { ...batch, patient: otherPatient.address, root: randomHash() };
      await expect(submit(forOther, await device.signTypedData(domain, ANCHOR_BATCH_TYPES, forOther))).to.be.revertedWithCustomError(
        suite.records,
        "NotAuthorisedToAnchor",
      );
      const altered = { ...batch, root: randomHash() };
      await expect(submit({ ...altered, count: 9n }, await device.signTypedData(domain, ANCHOR_BATCH_TYPES, altered))).to.be.revertedWithCustomError(
        suite.records,
        "NotAuthorisedToAnchor",
      );
    });
  });

  describe("canAccessRecord", function () {
    it("answers from the record's own patient and category, with category or record-scoped consent", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, provider, researcher } = suite.actors;
      const [lab, img] = [randomHash(), randomHash()];
      await (await suite.records.connect(patient).anchorRecord(patient.address, lab, Category.LABORATORY, "u", ethers.ZeroHash)).wait();
      await (await suite.records.connect(patient).anchorRecord(patient.address, img, Category.IMAGING, "u", ethers.ZeroHash)).wait();
      const now = await latest(connection);
      await (await suite.consent.connect(patient).grantConsent(provider.address, Purpose.TREAT, categoryBit(Category.LABORATORY), 0, now + DAY)).wait();
      await (await suite.consent.connect(patient).grantRecordConsent(researcher.address, Purpose.HRESCH, [img], 0, now + DAY)).wait();
      expect(await suite.records.canAccessRecord(provider.address, patient.address, lab, Purpose.TREAT)).to.equal(true);
      expect(await suite.records.canAccessRecord(provider.address, patient.address, img, Purpose.TREAT)).to.equal(false);
      expect(await suite.records.canAccessRecord(researcher.address, patient.address, img, Purpose.HRESCH)).to.equal(true);
      expect(await suite.records.canAccessRecord(researcher.address, patient.address, lab, Purpose.HRESCH)).to.equal(false);
      expect(await suite.records.canAccessRecord(patient.address, patient.address, img, Purpose.TREAT)).to.equal(true);
      expect(await suite.records.canAccessRecord(provider.address, patient.address, randomHash(), Purpose.TREAT)).to.equal(false);
    });

    it("exposes its EIP-712 domain and type hashes", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      expect(await suite.records.ANCHOR_RECORD_TYPEHASH()).to.equal(
        ethers.id("AnchorRecord(address patient,bytes32 recordId,uint8 category,string uri,bytes32 supersedes,uint256 deadline)"),
      );
      expect(await suite.records.ANCHOR_BATCH_TYPEHASH()).to.equal(
        ethers.id("AnchorBatch(address patient,bytes32 root,uint32 count,uint8 category,string uri,uint256 deadline)"),
      );
      expect(await suite.records.DOMAIN_SEPARATOR()).to.equal(
        ethers.TypedDataEncoder.hashDomain(medCipherDomain("RecordRegistry", suite.chainId, suite.addresses.RecordRegistry)),
      );
      expect(await suite.records.identityRegistry()).to.equal(suite.addresses.IdentityRegistry);
    });
  });
});
