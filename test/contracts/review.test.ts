/**
 * Regression tests for the defects found in the second contracts review
 * (docs/notes/contracts-review.md). Each test failed before its fix.
 */
import { expect } from "chai";
import { network } from "hardhat";

import { encodeFulfilment, jobsFromReceipt } from "../../deploy/prediction.js";
import { PredictionCodes, RequestStatus } from "../../protocol/codes.js";
import {
  Category,
  DAY,
  Purpose,
  blobUri,
  categoryBit,
  deploySuite,
  latest,
  randomHash,
  registerPatient,
  bindDevice,
  signAnchor,
  signBind,
  signGrant,
  signRevoke,
  type GrantTerms,
  type Suite,
} from "./fixtures.js";

const connection = await network.create();
const { ethers, networkHelpers } = connection;

describe("contracts review", function () {
  async function suiteFixture(): Promise<Suite> {
    const suite = await deploySuite(connection);
    await registerPatient(suite, suite.actors.patient);
    return suite;
  }

  describe("revokeAllConsents retires signatures not yet submitted", function () {
    async function terms(suite: Suite): Promise<GrantTerms> {
      const now = await latest(connection);
      return {
        patient: suite.actors.patient.address,
        grantee: suite.actors.researcher.address,
        purpose: Purpose.HRESCH,
        categories: categoryBit(Category.GENOMICS),
        validFrom: 0n,
        validUntil: now + 30n * DAY,
        deadline: now + 7n * DAY,
      };
    }

    function submit(suite: Suite, t: GrantTerms, signature: string) {
      return suite.consent
        .connect(suite.actors.relayer)
        .grantConsentBySig(t.patient, t.grantee, t.purpose, t.categories, t.validFrom, t.validUntil, t.deadline, signature);
    }

    it("test_revokeAll_invalidatesOutstandingSignedGrant", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const t = await terms(suite);
      // The patient signs a grant and hands it to a relayer, who holds on to it.
      const signature = await signGrant(suite, suite.actors.patient, t);
      // The patient then ends everything.
      await (await suite.consent.connect(suite.actors.patient).revokeAllConsents()).wait();
      // The withheld signature must not bring the grant back in the new epoch.
      await expect(submit(suite, t, signature)).to.be.revertedWithCustomError(suite.consent, "InvalidSigner");
      expect(await suite.consent.hasAccess(t.grantee, t.patient, Category.GENOMICS, Purpose.HRESCH)).to.equal(false);
    });

    it("test_revokeAll_invalidatesEveryPreSignedNonce", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const t = await terms(suite);
      const base = await suite.consent.nonces(t.patient);
      // Signatures made ahead for the next few nonces all die with the epoch.
      const signatures = await Promise.all(
        [0n, 1n, 2n].map((i) => signGrant(suite, suite.actors.patient, t, { nonce: base + i })),
      );
      await (await suite.consent.connect(suite.actors.patient).revokeAllConsents()).wait();
      for (const signature of signatures) {
        await expect(submit(suite, t, signature)).to.be.revertedWithCustomError(suite.consent, "InvalidSigner");
      }
    });

    it("test_revokeAll_invalidatesOutstandingSignedRevocation", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, researcher, relayer } = suite.actors;
      const now = await latest(connection);
      const revoke = { patient: patient.address, grantee: researcher.address, purpose: Purpose.HRESCH, deadline: now + DAY };
      const { signature, nonce } = await signRevoke(suite, patient, revoke);
      await (await suite.consent.connect(patient).revokeAllConsents()).wait();
      // A grant made after revoke-all is not undone by a revocation signed before it.
      await (await suite.consent.connect(patient).grantConsent(researcher.address, Purpose.HRESCH, categoryBit(Category.GENOMICS), 0, now + DAY)).wait();
      await expect(
        suite.consent.connect(relayer).revokeConsentBySig(revoke.patient, revoke.grantee, revoke.purpose, nonce, revoke.deadline, signature),
      ).to.be.revertedWithCustomError(suite.consent, "RevocationSuperseded");
      expect(await suite.consent.hasAccess(researcher.address, patient.address, Category.GENOMICS, Purpose.HRESCH)).to.equal(true);
    });

    it("test_revokeAll_signaturesMadeAfterwardsWork", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const t = await terms(suite);
      await (await suite.consent.connect(suite.actors.patient).revokeAllConsents()).wait();
      const before = await suite.consent.nonces(t.patient);
      await (await submit(suite, t, await signGrant(suite, suite.actors.patient, t))).wait();
      expect(await suite.consent.hasAccess(t.grantee, t.patient, Category.GENOMICS, Purpose.HRESCH)).to.equal(true);
      expect(await suite.consent.nonces(t.patient)).to.equal(before + 1n);
    });
  });

  describe("amendments stay in their category", function () {
    it("test_anchorRecord_providerCannotSupersedeARecordOutsideItsConsent", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, provider } = suite.actors;
      const genomics = randomHash();
      await (await suite.records.connect(patient).anchorRecord(patient.address, genomics, Category.GENOMICS, "u", ethers.ZeroHash)).wait();
      // The provider may write LABORATORY records only.
      const now = await latest(connection);
      await (await suite.consent.connect(patient).grantConsent(provider.address, Purpose.TREAT, categoryBit(Category.LABORATORY), 0, now + DAY)).wait();
      const lab = randomHash();
      await expect(
        suite.records.connect(provider).anchorRecord(patient.address, lab, Category.LABORATORY, "u", genomics),
      )
        .to.be.revertedWithCustomError(suite.records, "AmendmentCategoryMismatch")
        .withArgs(genomics, Category.GENOMICS, Category.LABORATORY);
      expect(await suite.records.supersededBy(patient.address, genomics)).to.equal(ethers.ZeroHash);
    });

    it("test_anchorRecord_amendmentKeepsTheCategory", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient } = suite.actors;
      const v1 = randomHash();
      const r = suite.records.connect(patient);
      await (await r.anchorRecord(patient.address, v1, Category.CLINICAL_NOTES, "u", ethers.ZeroHash)).wait();
      await expect(r.anchorRecord(patient.address, randomHash(), Category.CONDITIONS, "u", v1))
        .to.be.revertedWithCustomError(suite.records, "AmendmentCategoryMismatch")
        .withArgs(v1, Category.CLINICAL_NOTES, Category.CONDITIONS);
      const v2 = randomHash();
      await (await r.anchorRecord(patient.address, v2, Category.CLINICAL_NOTES, "u", v1)).wait();
      expect(await suite.records.supersededBy(patient.address, v1)).to.equal(v2);
    });
  });

  describe("a retired model yields no result", function () {
    it("test_fulfilPrediction_failsWhenTheModelWasRetiredWhilePending", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, governance, oracle } = suite.actors;
      const inputHash = randomHash();
      const receipt = (await (await suite.router.connect(patient).requestPrediction(patient.address, 1, inputHash, blobUri(inputHash))).wait())!;
      const [job] = jobsFromReceipt(receipt, suite.addresses.Operator, suite.addresses.PredictionRouter);
      if (!job) throw new Error("no job");
      await (await suite.models.connect(governance).retireModel(1)).wait();
      const resultHash = randomHash();
      const data = encodeFulfilment({ requestId: job.requestId, resultHash, resultUri: blobUri(resultHash) });
      await expect(
        suite.operator
          .connect(oracle)
          .fulfillOracleRequest2(job.requestId, job.payment, job.callbackAddress, job.callbackFunctionId, job.expiration, data, { gasLimit: 2_000_000 }),
      )
        .to.emit(suite.router, "PredictionFailed")
        .withArgs(job.requestId, patient.address, PredictionCodes.MODEL_RETIRED);
      const state = await suite.router.getRequest(job.requestId);
      expect(state.status).to.equal(BigInt(RequestStatus.Failed));
      expect(state.failureCode).to.equal(BigInt(PredictionCodes.MODEL_RETIRED));
      expect(state.resultHash).to.equal(ethers.ZeroHash);
    });
  });
  describe("every contract answers to one IdentityRegistry", function () {
    it("test_constructors_refuseDependenciesOfAnotherIdentityRegistry", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { governance } = suite.actors;
      // A second registry with its own governance, and a ConsentManager / ModelRegistry under it.
      const otherIdentity = await ethers.deployContract("IdentityRegistry", [0, governance.address]);
      const otherAddress = await otherIdentity.getAddress();
      const otherConsent = await ethers.deployContract("ConsentManager", [otherAddress]);
      const otherModels = await ethers.deployContract("ModelRegistry", [otherAddress]);
      const [consentAddress, modelsAddress] = [await otherConsent.getAddress(), await otherModels.getAddress()];

      const records = await ethers.getContractFactory("RecordRegistry");
      await expect(records.deploy(suite.addresses.IdentityRegistry, consentAddress))
        .to.be.revertedWithCustomError(records, "IdentityRegistryMismatch")
        .withArgs(consentAddress, otherAddress);

      const router = await ethers.getContractFactory("PredictionRouter");
      const args = (consent: string, models: string) =>
        [suite.addresses.IdentityRegistry, consent, models, suite.addresses.PrivacyGroups, suite.addresses.LinkToken, suite.addresses.Operator, ethers.ZeroHash, 0n, false] as const;
      await expect(router.deploy(...args(consentAddress, suite.addresses.ModelRegistry)))
        .to.be.revertedWithCustomError(router, "IdentityRegistryMismatch")
        .withArgs(consentAddress, otherAddress);
      await expect(router.deploy(...args(suite.addresses.ConsentManager, modelsAddress)))
        .to.be.revertedWithCustomError(router, "IdentityRegistryMismatch")
        .withArgs(modelsAddress, otherAddress);
      // The suite's own dependencies still deploy.
      await (await router.deploy(...args(suite.addresses.ConsentManager, suite.addresses.ModelRegistry))).waitForDeployment();
    });
  });
  describe("governance can stop the devices of a vendor it removes", function () {
    it("test_deviceOwner_isZeroOnceTheVendorLosesItsRole", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { governance, vendor, device, patient, relayer } = suite.actors;
      await bindDevice(connection, suite, device, patient);
      expect(await suite.identity.deviceOwner(device.address)).to.equal(patient.address);

      // A vendor that provisioned its devices' keys is found to be rogue: governance removes it.
      await (await suite.identity.connect(governance).revokeRole(await suite.identity.DEVICE_VENDOR_ROLE(), vendor.address)).wait();
      expect(await suite.identity.deviceOwner(device.address)).to.equal(ethers.ZeroAddress);

      // Its devices can no longer anchor, directly or relayed.
      const id = randomHash();
      await expect(suite.records.connect(device).anchorRecord(patient.address, id, Category.VITAL_SIGNS, "u", ethers.ZeroHash))
        .to.be.revertedWithCustomError(suite.records, "NotAuthorisedToAnchor");
      const t = { patient: patient.address, recordId: id, category: Category.VITAL_SIGNS, uri: "u", supersedes: ethers.ZeroHash, deadline: (await latest(connection)) + 600n };
      await expect(
        suite.records.connect(relayer).anchorRecordBySig(t.patient, t.recordId, t.category, t.uri, t.supersedes, t.deadline, await signAnchor(suite, device, t)),
      ).to.be.revertedWithCustomError(suite.records, "NotAuthorisedToAnchor");

      // Nor be bound again.
      const now = await latest(connection);
      const signature = await signBind(suite, device, patient.address, now + DAY, now + 600n);
      await expect(suite.identity.connect(patient).bindDevice(device.address, now + DAY, now + 600n, signature))
        .to.be.revertedWithCustomError(suite.identity, "DeviceNotUsable")
        .withArgs(device.address);

      // Readmitting the vendor restores them (revocation of single devices stays with the vendor).
      await (await suite.identity.connect(governance).grantRole(await suite.identity.DEVICE_VENDOR_ROLE(), vendor.address)).wait();
      expect(await suite.identity.deviceOwner(device.address)).to.equal(patient.address);
    });
  });
});
