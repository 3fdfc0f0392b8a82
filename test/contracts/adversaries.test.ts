// Issue 9, items 15, 17, 18 and the consent / records / identity items of 20: what a grantee, a
// provider, a stranger or a vendor racing the patient can and cannot do. Each test is named
// `test_<function>_<case>` after the property it guards (docs/contracts.md states each one).
import { expect } from "chai";
import { network } from "hardhat";

import {
  Category,
  DAY,
  Purpose,
  bindDevice,
  categoryBit,
  deploySuite,
  latest,
  randomHash,
  registerPatient,
  signAnchor,
  signGrant,
  signRevoke,
  submitRevoke,
  type GrantTerms,
  type Suite,
} from "./fixtures.js";

const connection = await network.create();
const { ethers, networkHelpers } = connection;
const LABS = categoryBit(Category.LABORATORY);
const VITALS = categoryBit(Category.VITAL_SIGNS);

describe("adversaries (issue 9)", function () {
  async function suiteFixture(): Promise<Suite> {
    const suite = await deploySuite(connection);
    await registerPatient(suite, suite.actors.patient);
    await registerPatient(suite, suite.actors.otherPatient);
    return suite;
  }

  async function grantTerms(suite: Suite, overrides: Partial<GrantTerms> = {}): Promise<GrantTerms> {
    const now = await latest(connection);
    return {
      patient: suite.actors.patient.address,
      grantee: suite.actors.researcher.address,
      purpose: Purpose.HRESCH,
      categories: LABS | VITALS,
      validFrom: 0n,
      validUntil: now + 30n * DAY,
      deadline: now + DAY,
      ...overrides,
    };
  }

  function submitGrant(suite: Suite, t: GrantTerms, signature: string, by = suite.actors.relayer) {
    return suite.consent.connect(by).grantConsentBySig(t.patient, t.grantee, t.purpose, t.categories, t.validFrom, t.validUntil, t.deadline, signature);
  }

  const researcherHasLabs = (suite: Suite) =>
    suite.consent.hasAccess(suite.actors.researcher.address, suite.actors.patient.address, Category.LABORATORY, Purpose.HRESCH);

  describe("15: a signed revocation lands whatever the order", function () {
    it("test_revokeConsentBySig_landsAfterTheGranteeFrontRunsWithAHeldGrant", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, researcher, relayer } = suite.actors;
      // The patient signed a grant and handed it to the researcher, who held it back; then the
      // patient changed their mind and signed a revocation, both at the same nonce.
      const t = await grantTerms(suite);
      const heldGrant = await signGrant(suite, patient, t);
      const revoke = { patient: patient.address, grantee: researcher.address, purpose: Purpose.HRESCH, deadline: t.deadline };
      const { signature, nonce } = await signRevoke(suite, patient, revoke);
      // The researcher sees the revocation in the mempool and submits the held grant first.
      await (await submitGrant(suite, t, heldGrant, researcher)).wait();
      expect(await researcherHasLabs(suite)).to.equal(true);
      await expect(submitRevoke(suite, relayer, { ...revoke, nonce }, signature))
        .to.emit(suite.consent, "ConsentRevoked")
        .withArgs(patient.address, researcher.address, Purpose.HRESCH, relayer.address);
      expect(await researcherHasLabs(suite)).to.equal(false);
    });

    it("test_revokeConsentBySig_landingFirstRetiresTheHeldGrant", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, researcher, relayer } = suite.actors;
      const t = await grantTerms(suite);
      const heldGrant = await signGrant(suite, patient, t);
      const revoke = { patient: patient.address, grantee: researcher.address, purpose: Purpose.HRESCH, deadline: t.deadline };
      const { signature, nonce } = await signRevoke(suite, patient, revoke);
      await (await submitRevoke(suite, relayer, { ...revoke, nonce }, signature)).wait();
      await expect(submitGrant(suite, t, heldGrant, researcher)).to.be.revertedWithCustomError(suite.consent, "InvalidSigner");
      expect(await researcherHasLabs(suite)).to.equal(false);
    });

    it("test_revokeConsentBySig_landsAfterAnyOtherSignatureTookItsNonce", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, researcher, provider, relayer } = suite.actors;
      await (await suite.consent.connect(patient).grantConsent(researcher.address, Purpose.HRESCH, LABS, 0, (await latest(connection)) + DAY)).wait();
      const revoke = { patient: patient.address, grantee: researcher.address, purpose: Purpose.HRESCH, deadline: (await latest(connection)) + DAY };
      const { signature, nonce } = await signRevoke(suite, patient, revoke);
      // A grant to someone else, signed at the same nonce, lands first.
      const other = await grantTerms(suite, { grantee: provider.address, purpose: Purpose.TREAT });
      await (await submitGrant(suite, other, await signGrant(suite, patient, other))).wait();
      await (await submitRevoke(suite, relayer, { ...revoke, nonce }, signature)).wait();
      expect(await researcherHasLabs(suite)).to.equal(false);
      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.LABORATORY, Purpose.TREAT)).to.equal(true);
    });

    it("test_revokeConsentBySig_doesNotEndAGrantThePatientMadeAfterSigningIt", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, researcher, relayer } = suite.actors;
      const revoke = { patient: patient.address, grantee: researcher.address, purpose: Purpose.HRESCH, deadline: (await latest(connection)) + DAY };
      const { signature, nonce } = await signRevoke(suite, patient, revoke);
      await (await suite.consent.connect(patient).grantConsent(researcher.address, Purpose.HRESCH, LABS, 0, (await latest(connection)) + DAY)).wait();
      await expect(submitRevoke(suite, relayer, { ...revoke, nonce }, signature))
        .to.be.revertedWithCustomError(suite.consent, "RevocationSuperseded")
        .withArgs(patient.address, researcher.address, Purpose.HRESCH, nonce, nonce + 1n);
      expect(await researcherHasLabs(suite)).to.equal(true);
    });

    it("test_grantConsentBySig_heldGrantCannotOverrideANewerDirectNarrowing", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, researcher } = suite.actors;
      const wide = await grantTerms(suite, { categories: LABS | VITALS });
      const heldGrant = await signGrant(suite, patient, wide);
      await (await suite.consent.connect(patient).grantConsent(researcher.address, Purpose.HRESCH, VITALS, 0, wide.validUntil)).wait();
      await expect(submitGrant(suite, wide, heldGrant, researcher)).to.be.revertedWithCustomError(suite.consent, "InvalidSigner");
      expect(await researcherHasLabs(suite)).to.equal(false);
      expect((await suite.consent.grantOf(patient.address, researcher.address, Purpose.HRESCH)).categories).to.equal(BigInt(VITALS));
    });

    it("test_grantConsentBySig_heldGrantCannotOverrideANewerDirectRevocation", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, researcher } = suite.actors;
      const t = await grantTerms(suite);
      await (await submitGrant(suite, t, await signGrant(suite, patient, t))).wait();
      const heldGrant = await signGrant(suite, patient, t);
      await (await suite.consent.connect(patient).revokeConsent(researcher.address, Purpose.HRESCH)).wait();
      await expect(submitGrant(suite, t, heldGrant, researcher)).to.be.revertedWithCustomError(suite.consent, "InvalidSigner");
      expect(await researcherHasLabs(suite)).to.equal(false);
    });
  });

  describe("17: break-glass", function () {
    it("test_breakGlass_doesNotComeBackWhenTheRoleIsReGrantedWithinTheWindow", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { governance, patient, provider } = suite.actors;
      const role = await suite.identity.PROVIDER_ROLE();
      await (await suite.consent.connect(provider).breakGlass(patient.address, randomHash())).wait();
      await (await suite.identity.connect(governance).revokeRole(role, provider.address)).wait();
      await networkHelpers.time.increase(600);
      await (await suite.identity.connect(governance).grantRole(role, provider.address)).wait();
      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.LABORATORY, Purpose.ETREAT)).to.equal(false);
      // Only a new, logged break-glass gives access again.
      await expect(suite.consent.connect(provider).breakGlass(patient.address, randomHash())).to.emit(suite.consent, "BreakGlassAccessed");
      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.LABORATORY, Purpose.ETREAT)).to.equal(true);
    });

    it("test_endBreakGlass_byThePatientRefusesThatProviderForTheCoolDown", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { governance, patient, provider, stranger } = suite.actors;
      await (await suite.identity.connect(governance).grantRole(await suite.identity.PROVIDER_ROLE(), stranger.address)).wait();
      await (await suite.consent.connect(provider).breakGlass(patient.address, randomHash())).wait();
      const ended = await (await suite.consent.connect(patient).endBreakGlass(patient.address, provider.address)).wait();
      const endedAt = BigInt((await ethers.provider.getBlock(ended!.blockNumber))!.timestamp);
      const cooldown = await suite.consent.BREAK_GLASS_COOLDOWN();
      expect(cooldown).to.equal(24n * 3600n);
      await expect(ended).to.emit(suite.consent, "BreakGlassRefusedUntil").withArgs(patient.address, provider.address, endedAt + cooldown);
      expect(await suite.consent.breakGlassRefusedUntil(patient.address, provider.address)).to.equal(endedAt + cooldown);
      // The provider cannot renew at once …
      await expect(suite.consent.connect(provider).breakGlass(patient.address, randomHash()))
        .to.be.revertedWithCustomError(suite.consent, "BreakGlassRefused")
        .withArgs(patient.address, provider.address, endedAt + cooldown);
      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.LABORATORY, Purpose.ETREAT)).to.equal(false);
      // … another provider still can (a real emergency elsewhere) …
      await (await suite.consent.connect(stranger).breakGlass(patient.address, randomHash())).wait();
      // … and the provider again once the cool-down is over.
      await networkHelpers.time.increaseTo(endedAt + cooldown);
      await (await suite.consent.connect(provider).breakGlass(patient.address, randomHash())).wait();
      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.LABORATORY, Purpose.ETREAT)).to.equal(true);
    });
  });

  describe("18: a copied record id or batch root gains nothing", function () {
    it("test_anchorRecord_copiedIdBlocksNeitherThePatientNorTheirDoctor", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, provider, stranger } = suite.actors;
      const id = randomHash();
      // The stranger copies the patient's pending id and gets in first, naming themself.
      await (await suite.records.connect(stranger).anchorRecord(stranger.address, id, Category.LABORATORY, "u", ethers.ZeroHash)).wait();
      await expect(suite.records.connect(patient).anchorRecord(patient.address, id, Category.LABORATORY, "u", ethers.ZeroHash)).to.emit(suite.records, "RecordAnchored");
      expect((await suite.records.entryOf(patient.address, id)).patient).to.equal(patient.address);
      const now = await latest(connection);
      await (await suite.consent.connect(patient).grantRecordConsent(provider.address, Purpose.TREAT, [id], 0, now + DAY)).wait();
      expect(await suite.records.canAccessRecord(provider.address, patient.address, id, Purpose.TREAT)).to.equal(true);
      expect(await suite.records.canAccessRecord(provider.address, stranger.address, id, Purpose.TREAT)).to.equal(false);
    });

    it("test_anchorBatch_copiedRootDoesNotBlockTheDevice", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, device, stranger } = suite.actors;
      await bindDevice(connection, suite, device, patient);
      const root = randomHash();
      await (await suite.records.connect(stranger).anchorBatch(stranger.address, root, 5, Category.VITAL_SIGNS, "u")).wait();
      await expect(suite.records.connect(device).anchorBatch(patient.address, root, 5, Category.VITAL_SIGNS, "u")).to.emit(suite.records, "BatchAnchored");
      expect((await suite.records.entryOf(patient.address, root)).kind).to.equal(2n);
    });
  });

  describe("20: decided behaviours", function () {
    it("test_revokeConsent_leavesRecordGrantsOfThatPurposeAlive", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, provider } = suite.actors;
      const id = randomHash();
      await (await suite.records.connect(patient).anchorRecord(patient.address, id, Category.IMAGING, "u", ethers.ZeroHash)).wait();
      const now = await latest(connection);
      await (await suite.consent.connect(patient).grantConsent(provider.address, Purpose.TREAT, categoryBit(Category.IMAGING), 0, now + DAY)).wait();
      await (await suite.consent.connect(patient).grantRecordConsent(provider.address, Purpose.TREAT, [id], 0, now + DAY)).wait();
      await (await suite.consent.connect(patient).revokeConsent(provider.address, Purpose.TREAT)).wait();
      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.IMAGING, Purpose.TREAT)).to.equal(false);
      expect(await suite.records.canAccessRecord(provider.address, patient.address, id, Purpose.TREAT)).to.equal(true);
      // The record grant ends with its own revocation or with revoke-all.
      await (await suite.consent.connect(patient).revokeAllConsents()).wait();
      expect(await suite.records.canAccessRecord(provider.address, patient.address, id, Purpose.TREAT)).to.equal(false);
    });

    it("test_grantConsent_fullScopeCoversReservedCategories9To31", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, researcher } = suite.actors;
      await (await suite.consent.connect(patient).grantConsent(researcher.address, Purpose.HRESCH, 0xffffffff, 0, (await latest(connection)) + DAY)).wait();
      for (const category of [0, 8, 9, 31]) {
        expect(await suite.consent.hasAccess(researcher.address, patient.address, category, Purpose.HRESCH)).to.equal(true);
      }
      expect(await suite.consent.hasAccess(researcher.address, patient.address, 32, Purpose.HRESCH)).to.equal(false);
    });

    it("test_anchorRecordBySig_signatureIsGoodAgainAfterUnbindAndRebindToTheSamePatientOnly", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, otherPatient, device, relayer } = suite.actors;
      await bindDevice(connection, suite, device, patient);
      const t = { patient: patient.address, recordId: randomHash(), category: Category.VITAL_SIGNS, uri: "u", supersedes: ethers.ZeroHash, deadline: (await latest(connection)) + DAY };
      const signature = await signAnchor(suite, device, t);
      const relay = () => suite.records.connect(relayer).anchorRecordBySig(t.patient, t.recordId, t.category, t.uri, t.supersedes, t.deadline, signature);
      await (await suite.identity.connect(patient).unbindDevice(device.address)).wait();
      await expect(relay()).to.be.revertedWithCustomError(suite.records, "NotAuthorisedToAnchor");
      // Bound to someone else, the signature (which names the patient) stays useless.
      await bindDevice(connection, suite, device, otherPatient);
      await expect(relay()).to.be.revertedWithCustomError(suite.records, "NotAuthorisedToAnchor");
      await (await suite.identity.connect(otherPatient).unbindDevice(device.address)).wait();
      // Bound to the same patient again, it is good within its deadline, once.
      await bindDevice(connection, suite, device, patient);
      await expect(relay()).to.emit(suite.records, "RecordAnchored");
      await expect(relay()).to.be.revertedWithCustomError(suite.records, "AlreadyAnchored");
    });

    it("test_registerDevice_aVendorFrontRunningAnotherIsUndoneByRemovingIt", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { governance, vendor, stranger, otherDevice, patient, otherPatient } = suite.actors;
      const role = await suite.identity.DEVICE_VENDOR_ROLE();
      await (await suite.identity.connect(governance).grantRole(role, stranger.address)).wait();
      // A rival vendor copies the device address from the vendor's pending registration (and
      // even gets a patient to bind it).
      await (await suite.identity.connect(stranger).registerDevice(otherDevice.address, randomHash())).wait();
      await bindDevice(connection, suite, otherDevice, otherPatient);
      await expect(suite.identity.connect(vendor).registerDevice(otherDevice.address, randomHash()))
        .to.be.revertedWithCustomError(suite.identity, "DeviceAlreadyRegistered")
        .withArgs(otherDevice.address);
      // Governance removes the squatter; the device is free for its real vendor, and binds.
      await (await suite.identity.connect(governance).revokeRole(role, stranger.address)).wait();
      const modelHash = randomHash();
      await expect(suite.identity.connect(vendor).registerDevice(otherDevice.address, modelHash))
        .to.emit(suite.identity, "DeviceRegistered")
        .withArgs(otherDevice.address, vendor.address, modelHash)
        .and.to.emit(suite.identity, "DeviceUnbound")
        .withArgs(otherDevice.address, otherPatient.address, vendor.address);
      expect((await suite.identity.deviceOf(otherDevice.address)).vendor).to.equal(vendor.address);
      await bindDevice(connection, suite, otherDevice, patient);
      expect(await suite.identity.deviceOwner(otherDevice.address)).to.equal(patient.address);
    });

    it("test_revokeDevice_aRemovedVendorCanStillRevokeItsDevices", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { governance, vendor, device, patient } = suite.actors;
      await bindDevice(connection, suite, device, patient);
      const role = await suite.identity.DEVICE_VENDOR_ROLE();
      await (await suite.identity.connect(governance).revokeRole(role, vendor.address)).wait();
      await expect(suite.identity.connect(vendor).revokeDevice(device.address)).to.emit(suite.identity, "DeviceRevoked");
      // The revocation outlives a re-admission of the vendor.
      await (await suite.identity.connect(governance).grantRole(role, vendor.address)).wait();
      expect(await suite.identity.deviceOwner(device.address)).to.equal(ethers.ZeroAddress);
    });

    it("test_anchorRecord_aProviderMayTakeTheAmendmentSlotAndThePatientAmendsTheNewest", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, provider } = suite.actors;
      const [v1, byProvider, byPatient] = [randomHash(), randomHash(), randomHash()];
      await (await suite.records.connect(patient).anchorRecord(patient.address, v1, Category.LABORATORY, "u", ethers.ZeroHash)).wait();
      await (await suite.consent.connect(patient).grantConsent(provider.address, Purpose.TREAT, LABS, 0, (await latest(connection)) + DAY)).wait();
      await (await suite.records.connect(provider).anchorRecord(patient.address, byProvider, Category.LABORATORY, "u", v1)).wait();
      await expect(suite.records.connect(patient).anchorRecord(patient.address, byPatient, Category.LABORATORY, "u", v1))
        .to.be.revertedWithCustomError(suite.records, "AlreadySuperseded")
        .withArgs(v1, byProvider);
      await (await suite.records.connect(patient).anchorRecord(patient.address, byPatient, Category.LABORATORY, "u", byProvider)).wait();
      expect(await suite.records.supersededBy(patient.address, byProvider)).to.equal(byPatient);
    });
  });
});
