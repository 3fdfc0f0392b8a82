import { expect } from "chai";
import { network } from "hardhat";

import {
  Category,
  DAY,
  Purpose,
  categoryBit,
  deploySuite,
  latest,
  randomHash,
  signGrant,
  signRevoke,
  submitRevoke,
  signatureVariants,
  type GrantTerms,
  type Suite,
} from "./fixtures.js";

const connection = await network.create();
const { ethers, networkHelpers } = connection;
const LABS = categoryBit(Category.LABORATORY);
const VITALS = categoryBit(Category.VITAL_SIGNS);

describe("ConsentManager", function () {
  async function suiteFixture(): Promise<Suite> {
    return deploySuite(connection);
  }

  async function grantTerms(suite: Suite, overrides: Partial<GrantTerms> = {}): Promise<GrantTerms> {
    const now = await latest(connection);
    return {
      patient: suite.actors.patient.address,
      grantee: suite.actors.researcher.address,
      purpose: Purpose.HRESCH,
      categories: VITALS,
      validFrom: 0n,
      validUntil: now + 30n * DAY,
      deadline: now + 3600n,
      ...overrides,
    };
  }

  function submit(suite: Suite, t: GrantTerms, signature: string) {
    return suite.consent
      .connect(suite.actors.relayer)
      .grantConsentBySig(t.patient, t.grantee, t.purpose, t.categories, t.validFrom, t.validUntil, t.deadline, signature);
  }

  describe("grant and hasAccess", function () {
    it("grants purpose-bound, category-scoped access for a period, and emits the full terms", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, provider } = suite.actors;
      const now = await latest(connection);
      const until = now + 10n * DAY;
      await expect(suite.consent.connect(patient).grantConsent(provider.address, Purpose.TREAT, LABS | VITALS, 0, until))
        .to.emit(suite.consent, "ConsentGranted")
        .withArgs(patient.address, provider.address, Purpose.TREAT, LABS | VITALS, 0, until, 0, patient.address);

      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.LABORATORY, Purpose.TREAT)).to.equal(true);
      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.VITAL_SIGNS, Purpose.TREAT)).to.equal(true);
      // Another category, another purpose, another grantee, another patient: no.
      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.GENOMICS, Purpose.TREAT)).to.equal(false);
      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.LABORATORY, Purpose.HRESCH)).to.equal(false);
      expect(await suite.consent.hasAccess(suite.actors.stranger.address, patient.address, Category.LABORATORY, Purpose.TREAT)).to.equal(false);
      expect(await suite.consent.hasAccess(provider.address, suite.actors.otherPatient.address, Category.LABORATORY, Purpose.TREAT)).to.equal(false);
      // Invalid purpose codes and categories never grant.
      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.LABORATORY, Purpose.NONE)).to.equal(false);
      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.LABORATORY, 6)).to.equal(false);
      expect(await suite.consent.hasAccess(provider.address, patient.address, 32, Purpose.TREAT)).to.equal(false);
    });

    it("answers yes for the patient themself, never for address(0)", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient } = suite.actors;
      expect(await suite.consent.hasAccess(patient.address, patient.address, Category.GENOMICS, Purpose.HRESCH)).to.equal(true);
      expect(await suite.consent.hasAccess(ethers.ZeroAddress, ethers.ZeroAddress, Category.GENOMICS, Purpose.HRESCH)).to.equal(false);
      expect(await suite.consent.hasAccess(patient.address, patient.address, Category.GENOMICS, Purpose.NONE)).to.equal(false);
    });

    it("is live only from validFrom until (excluding) validUntil", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, provider } = suite.actors;
      const now = await latest(connection);
      const from = now + 100n;
      const until = now + 200n;
      await (await suite.consent.connect(patient).grantConsent(provider.address, Purpose.TREAT, LABS, from, until)).wait();
      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.LABORATORY, Purpose.TREAT)).to.equal(false);
      await networkHelpers.time.increaseTo(from);
      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.LABORATORY, Purpose.TREAT)).to.equal(true);
      await networkHelpers.time.increaseTo(until - 1n);
      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.LABORATORY, Purpose.TREAT)).to.equal(true);
      await networkHelpers.time.increaseTo(until);
      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.LABORATORY, Purpose.TREAT)).to.equal(false);
    });

    it("rejects a zero or self grantee, an unknown purpose, an empty scope and a dead period", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, provider } = suite.actors;
      const now = await latest(connection);
      const c = suite.consent.connect(patient);
      await expect(c.grantConsent(ethers.ZeroAddress, Purpose.TREAT, LABS, 0, now + DAY)).to.be.revertedWithCustomError(c, "InvalidGrantee");
      await expect(c.grantConsent(patient.address, Purpose.TREAT, LABS, 0, now + DAY)).to.be.revertedWithCustomError(c, "InvalidGrantee");
      await expect(c.grantConsent(provider.address, 0, LABS, 0, now + DAY)).to.be.revertedWithCustomError(c, "InvalidPurpose").withArgs(0);
      await expect(c.grantConsent(provider.address, 9, LABS, 0, now + DAY)).to.be.revertedWithCustomError(c, "InvalidPurpose").withArgs(9);
      await expect(c.grantConsent(provider.address, Purpose.TREAT, 0, 0, now + DAY)).to.be.revertedWithCustomError(c, "EmptyScope");
      await expect(c.grantConsent(provider.address, Purpose.TREAT, LABS, 0, now)).to.be.revertedWithCustomError(c, "InvalidPeriod");
      await expect(c.grantConsent(provider.address, Purpose.TREAT, LABS, now + 10n, now + 5n)).to.be.revertedWithCustomError(c, "InvalidPeriod");
    });

    it("replaces an earlier grant of the same grantee and purpose", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, provider } = suite.actors;
      const now = await latest(connection);
      await (await suite.consent.connect(patient).grantConsent(provider.address, Purpose.TREAT, LABS, 0, now + DAY)).wait();
      await (await suite.consent.connect(patient).grantConsent(provider.address, Purpose.TREAT, VITALS, 0, now + DAY)).wait();
      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.LABORATORY, Purpose.TREAT)).to.equal(false);
      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.VITAL_SIGNS, Purpose.TREAT)).to.equal(true);
      const stored = await suite.consent.grantOf(patient.address, provider.address, Purpose.TREAT);
      expect(stored.categories).to.equal(BigInt(VITALS));
    });
  });

  describe("record-scoped grants", function () {
    it("grants and revokes access to specific records only", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, researcher } = suite.actors;
      const [a, b, c] = [randomHash(), randomHash(), randomHash()];
      const now = await latest(connection);
      await expect(suite.consent.connect(patient).grantRecordConsent(researcher.address, Purpose.HRESCH, [a, b], 0, now + DAY))
        .to.emit(suite.consent, "RecordConsentGranted")
        .withArgs(patient.address, researcher.address, Purpose.HRESCH, b, 0, now + DAY, 0);
      const access = (id: string) =>
        suite.consent.hasRecordAccess(researcher.address, patient.address, id, Category.LABORATORY, Purpose.HRESCH);
      expect(await access(a)).to.equal(true);
      expect(await access(b)).to.equal(true);
      expect(await access(c)).to.equal(false);
      // Category-level access is not implied.
      expect(await suite.consent.hasAccess(researcher.address, patient.address, Category.LABORATORY, Purpose.HRESCH)).to.equal(false);
      // Nor another purpose, nor a record the patient granted under their own key to someone else's record.
      expect(await suite.consent.hasRecordAccess(researcher.address, patient.address, a, Category.LABORATORY, Purpose.TREAT)).to.equal(false);
      expect(await suite.consent.hasRecordAccess(researcher.address, patient.address, a, Category.LABORATORY, 0)).to.equal(false);
      expect(await suite.consent.hasRecordAccess(researcher.address, suite.actors.otherPatient.address, a, Category.LABORATORY, Purpose.HRESCH)).to.equal(false);

      await expect(suite.consent.connect(patient).revokeRecordConsent(researcher.address, Purpose.HRESCH, [a]))
        .to.emit(suite.consent, "RecordConsentRevoked")
        .withArgs(patient.address, researcher.address, Purpose.HRESCH, a);
      expect(await access(a)).to.equal(false);
      expect(await access(b)).to.equal(true);
      expect((await suite.consent.recordGrantOf(patient.address, researcher.address, Purpose.HRESCH, a)).validUntil).to.equal(0n);
    });

    it("rejects an empty list or a zero id", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, researcher } = suite.actors;
      const now = await latest(connection);
      const c = suite.consent.connect(patient);
      await expect(c.grantRecordConsent(researcher.address, Purpose.HRESCH, [], 0, now + DAY)).to.be.revertedWithCustomError(c, "EmptyScope");
      await expect(c.grantRecordConsent(researcher.address, Purpose.HRESCH, [ethers.ZeroHash], 0, now + DAY)).to.be.revertedWithCustomError(c, "EmptyScope");
    });
  });

  describe("revocation", function () {
    it("revokes one grant in O(1) and access ends immediately", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, provider } = suite.actors;
      const now = await latest(connection);
      await (await suite.consent.connect(patient).grantConsent(provider.address, Purpose.TREAT, LABS, 0, now + DAY)).wait();
      await expect(suite.consent.connect(patient).revokeConsent(provider.address, Purpose.TREAT))
        .to.emit(suite.consent, "ConsentRevoked")
        .withArgs(patient.address, provider.address, Purpose.TREAT, patient.address);
      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.LABORATORY, Purpose.TREAT)).to.equal(false);
    });

    it("keeps 1,000 grants revocable: one by one at constant gas, and all at once in one small transaction", async function () {
      this.timeout(120_000);
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient } = suite.actors;
      const now = await latest(connection);
      const grantees = Array.from({ length: 1000 }, (_, i) => ethers.getAddress("0x" + (i + 1).toString(16).padStart(40, "0")));
      const recordIds = Array.from({ length: 1000 }, () => randomHash());
      // 1,000 category grants (batched into blocks) and 1,000 record-scoped grants in one call.
      await connection.provider.request({ method: "evm_setAutomine", params: [false] });
      const nonce = await patient.getNonce();
      const txs = [];
      for (let i = 0; i < grantees.length; i++) {
        txs.push(suite.consent.connect(patient).grantConsent(grantees[i]!, Purpose.TREAT, LABS, 0, now + DAY, { nonce: nonce + i, gasLimit: 120_000 }));
      }
      await Promise.all(txs);
      await connection.provider.request({ method: "evm_setAutomine", params: [true] });
      await networkHelpers.mine(1);
      for (let i = 0; i < recordIds.length; i += 250) {
        await (await suite.consent.connect(patient).grantRecordConsent(grantees[0]!, Purpose.HRESCH, recordIds.slice(i, i + 250), 0, now + DAY)).wait();
      }
      expect(await suite.consent.hasAccess(grantees[999]!, patient.address, Category.LABORATORY, Purpose.TREAT)).to.equal(true);

      const first = await (await suite.consent.connect(patient).revokeConsent(grantees[0]!, Purpose.TREAT)).wait();
      const last = await (await suite.consent.connect(patient).revokeConsent(grantees[998]!, Purpose.TREAT)).wait();
      // Same cost for the 1st and the 999th (up to calldata zero bytes): nothing is iterated.
      const diff = first!.gasUsed > last!.gasUsed ? first!.gasUsed - last!.gasUsed : last!.gasUsed - first!.gasUsed;
      expect(diff < 200n).to.equal(true);
      // 29,806: the slot delete plus the nonce every direct change consumes (cold read + write);
      // 32,920 under `--coverage` (instrumentation), hence the bound.
      expect(last!.gasUsed < 36_000n, `revokeConsent used ${last!.gasUsed}`).to.equal(true);

      const all = await (await suite.consent.connect(patient).revokeAllConsents()).wait();
      const blockGasLimit = (await ethers.provider.getBlock("latest"))!.gasLimit;
      expect(all!.gasUsed < 50_000n).to.equal(true);
      expect(all!.gasUsed < blockGasLimit / 100n).to.equal(true);
      for (const i of [1, 500, 999]) {
        expect(await suite.consent.hasAccess(grantees[i]!, patient.address, Category.LABORATORY, Purpose.TREAT)).to.equal(false);
      }
      expect(await suite.consent.hasRecordAccess(grantees[0]!, patient.address, recordIds[7]!, Category.LABORATORY, Purpose.HRESCH)).to.equal(false);
      expect(await suite.consent.epochOf(patient.address)).to.equal(1n);
    });

    it("revokeAllConsents ends everything of that patient only, and new grants work again", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, otherPatient, provider } = suite.actors;
      const now = await latest(connection);
      await (await suite.consent.connect(patient).grantConsent(provider.address, Purpose.TREAT, LABS, 0, now + DAY)).wait();
      await (await suite.consent.connect(otherPatient).grantConsent(provider.address, Purpose.TREAT, LABS, 0, now + DAY)).wait();
      await expect(suite.consent.connect(patient).revokeAllConsents()).to.emit(suite.consent, "AllConsentsRevoked").withArgs(patient.address, 1);
      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.LABORATORY, Purpose.TREAT)).to.equal(false);
      expect(await suite.consent.hasAccess(provider.address, otherPatient.address, Category.LABORATORY, Purpose.TREAT)).to.equal(true);
      await (await suite.consent.connect(patient).grantConsent(provider.address, Purpose.TREAT, LABS, 0, now + DAY)).wait();
      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.LABORATORY, Purpose.TREAT)).to.equal(true);
      expect((await suite.consent.grantOf(patient.address, provider.address, Purpose.TREAT)).epoch).to.equal(1n);
    });
  });

  describe("signed grants (EIP-712)", function () {
    it("lets a relayer submit the patient's signed grant, once", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const t = await grantTerms(suite);
      const signature = await signGrant(suite, suite.actors.patient, t);
      await expect(submit(suite, t, signature))
        .to.emit(suite.consent, "ConsentGranted")
        .withArgs(t.patient, t.grantee, t.purpose, t.categories, t.validFrom, t.validUntil, 0, suite.actors.relayer.address);
      expect(await suite.consent.hasAccess(t.grantee, t.patient, Category.VITAL_SIGNS, Purpose.HRESCH)).to.equal(true);
      expect(await suite.consent.nonces(t.patient)).to.equal(1n);
      // Replay: the nonce moved on, so the same signature now recovers to some other address.
      await expect(submit(suite, t, signature)).to.be.revertedWithCustomError(suite.consent, "InvalidSigner");
    });

    it("rejects an expired deadline", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const now = await latest(connection);
      const t = await grantTerms(suite, { deadline: now });
      const signature = await signGrant(suite, suite.actors.patient, t);
      await networkHelpers.time.increase(1);
      await expect(submit(suite, t, signature)).to.be.revertedWithCustomError(suite.consent, "SignatureExpired").withArgs(now);
    });

    it("rejects a signature for another chain id or another contract", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const t = await grantTerms(suite);
      const otherChain = await signGrant(suite, suite.actors.patient, t, { chainId: suite.chainId + 1n });
      const otherContract = await signGrant(suite, suite.actors.patient, t, { verifyingContract: suite.addresses.RecordRegistry });
      await expect(submit(suite, t, otherChain)).to.be.revertedWithCustomError(suite.consent, "InvalidSigner");
      await expect(submit(suite, t, otherContract)).to.be.revertedWithCustomError(suite.consent, "InvalidSigner");
    });

    it("rejects altered terms and signatures by anyone but the patient", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const t = await grantTerms(suite);
      const signature = await signGrant(suite, suite.actors.patient, t);
      await expect(submit(suite, { ...t, categories: VITALS | LABS }, signature)).to.be.revertedWithCustomError(suite.consent, "InvalidSigner");
      await expect(submit(suite, { ...t, grantee: suite.actors.stranger.address }, signature)).to.be.revertedWithCustomError(suite.consent, "InvalidSigner");
      const byGrantee = await signGrant(suite, suite.actors.researcher, t);
      await expect(submit(suite, t, byGrantee))
        .to.be.revertedWithCustomError(suite.consent, "InvalidSigner")
        .withArgs(suite.actors.researcher.address, t.patient);
    });

    it("rejects high-s, wrong-v, 64-byte, short, garbage and zero signatures; nothing is granted", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const t = await grantTerms(suite);
      const v = signatureVariants(await signGrant(suite, suite.actors.patient, t));
      await expect(submit(suite, t, v.highS)).to.be.revertedWithCustomError(suite.consent, "ECDSAInvalidSignatureS");
      await expect(submit(suite, t, v.flippedV)).to.be.revertedWithCustomError(suite.consent, "InvalidSigner");
      await expect(submit(suite, t, v.badV)).to.be.revertedWithCustomError(suite.consent, "ECDSAInvalidSignature");
      await expect(submit(suite, t, v.compact)).to.be.revertedWithCustomError(suite.consent, "ECDSAInvalidSignatureLength").withArgs(64);
      await expect(submit(suite, t, v.short)).to.be.revertedWithCustomError(suite.consent, "ECDSAInvalidSignatureLength");
      await expect(submit(suite, t, v.garbage)).to.be.revert(ethers);
      await expect(submit(suite, t, v.zero)).to.be.revertedWithCustomError(suite.consent, "ECDSAInvalidSignature");
      await expect(submit(suite, t, "0x")).to.be.revertedWithCustomError(suite.consent, "ECDSAInvalidSignatureLength").withArgs(0);
      expect(await suite.consent.hasAccess(t.grantee, t.patient, Category.VITAL_SIGNS, Purpose.HRESCH)).to.equal(false);
      expect(await suite.consent.nonces(t.patient)).to.equal(0n);
    });

    it("never lets address(0) authorise: a zero patient with an unrecoverable signature reverts", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const t = await grantTerms(suite, { patient: ethers.ZeroAddress });
      const v = signatureVariants(await signGrant(suite, suite.actors.patient, t));
      await expect(submit(suite, t, v.zero)).to.be.revertedWithCustomError(suite.consent, "ECDSAInvalidSignature");
      await expect(submit(suite, t, v.badV)).to.be.revertedWithCustomError(suite.consent, "ECDSAInvalidSignature");
      await expect(submit(suite, t, v.garbage)).to.be.revert(ethers);
    });

    it("revokes with a signature too, consuming the nonce it was signed at; a replay changes nothing", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, researcher, relayer } = suite.actors;
      const t = await grantTerms(suite);
      await (await submit(suite, t, await signGrant(suite, patient, t))).wait();
      const revoke = { patient: patient.address, grantee: researcher.address, purpose: Purpose.HRESCH, deadline: t.deadline };
      const { signature, nonce } = await signRevoke(suite, patient, revoke);
      await expect(submitRevoke(suite, relayer, { ...revoke, nonce }, signature))
        .to.emit(suite.consent, "ConsentRevoked")
        .withArgs(patient.address, researcher.address, Purpose.HRESCH, relayer.address);
      expect(await suite.consent.hasAccess(researcher.address, patient.address, Category.VITAL_SIGNS, Purpose.HRESCH)).to.equal(false);
      expect(await suite.consent.nonces(patient.address)).to.equal(nonce + 1n);
      // A replay ends nothing new and consumes nothing.
      await (await submitRevoke(suite, relayer, { ...revoke, nonce }, signature)).wait();
      expect(await suite.consent.nonces(patient.address)).to.equal(nonce + 1n);
      const byOther = await signRevoke(suite, researcher, { ...revoke, nonce: nonce + 1n });
      await expect(submitRevoke(suite, relayer, { ...revoke, nonce: nonce + 1n }, byOther.signature)).to.be.revertedWithCustomError(suite.consent, "InvalidSigner");
      await expect(submitRevoke(suite, relayer, { ...revoke, nonce: nonce + 1n }, signature)).to.be.revertedWithCustomError(suite.consent, "InvalidSigner");
      const ahead = await signRevoke(suite, patient, { ...revoke, nonce: nonce + 2n });
      await expect(submitRevoke(suite, relayer, { ...revoke, nonce: nonce + 2n }, ahead.signature))
        .to.be.revertedWithCustomError(suite.consent, "InvalidAccountNonce")
        .withArgs(patient.address, nonce + 1n);
      const now = await latest(connection);
      await expect(submitRevoke(suite, relayer, { ...revoke, nonce, deadline: now - 1n }, signature)).to.be.revertedWithCustomError(suite.consent, "SignatureExpired");
    });

    it("exposes the EIP-712 domain the SDK signs against", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const domain = await suite.consent.eip712Domain();
      expect(domain.name).to.equal("MedCipher ConsentManager");
      expect(domain.version).to.equal("1");
      expect(domain.chainId).to.equal(suite.chainId);
      expect(domain.verifyingContract).to.equal(suite.addresses.ConsentManager);
      expect(await suite.consent.DOMAIN_SEPARATOR()).to.equal(
        ethers.TypedDataEncoder.hashDomain({ name: domain.name, version: "1", chainId: suite.chainId, verifyingContract: suite.addresses.ConsentManager }),
      );
    });
  });

  describe("break-glass", function () {
    it("gives a provider time-limited ETREAT access to every category, loudly", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, provider } = suite.actors;
      const reason = randomHash();
      const tx = await suite.consent.connect(provider).breakGlass(patient.address, reason);
      const block = await ethers.provider.getBlock((await tx.wait())!.blockNumber);
      const until = BigInt(block!.timestamp) + 4n * 3600n;
      await expect(tx).to.emit(suite.consent, "BreakGlassAccessed").withArgs(patient.address, provider.address, until, reason, 0);
      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.GENOMICS, Purpose.ETREAT)).to.equal(true);
      // Only for emergency treatment.
      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.GENOMICS, Purpose.TREAT)).to.equal(false);
      expect((await suite.consent.breakGlassOf(patient.address, provider.address))[0]).to.equal(until);
      await networkHelpers.time.increaseTo(until);
      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.GENOMICS, Purpose.ETREAT)).to.equal(false);
    });

    it("is for PROVIDER_ROLE holders only, needs a reason, and ends when the role is removed", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, provider, researcher } = suite.actors;
      await expect(suite.consent.connect(researcher).breakGlass(patient.address, randomHash()))
        .to.be.revertedWithCustomError(suite.consent, "MissingRole")
        .withArgs(researcher.address, await suite.identity.PROVIDER_ROLE());
      await expect(suite.consent.connect(provider).breakGlass(patient.address, ethers.ZeroHash)).to.be.revertedWithCustomError(suite.consent, "MissingReason");
      await expect(suite.consent.connect(provider).breakGlass(ethers.ZeroAddress, randomHash())).to.be.revertedWithCustomError(suite.consent, "InvalidGrantee");
      await expect(suite.consent.connect(provider).breakGlass(provider.address, randomHash())).to.be.revertedWithCustomError(suite.consent, "InvalidGrantee");
      await (await suite.consent.connect(provider).breakGlass(patient.address, randomHash())).wait();
      await (await suite.identity.revokeRole(await suite.identity.PROVIDER_ROLE(), provider.address)).wait();
      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.LABORATORY, Purpose.ETREAT)).to.equal(false);
    });

    it("can be ended by the patient or the provider, and by revokeAllConsents", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, otherPatient, provider, stranger } = suite.actors;
      await (await suite.consent.connect(provider).breakGlass(patient.address, randomHash())).wait();
      await expect(suite.consent.connect(stranger).endBreakGlass(patient.address, provider.address)).to.be.revertedWithCustomError(suite.consent, "NotBreakGlassParty");
      await expect(suite.consent.connect(patient).endBreakGlass(patient.address, provider.address))
        .to.emit(suite.consent, "BreakGlassEnded")
        .withArgs(patient.address, provider.address, patient.address);
      expect(await suite.consent.hasAccess(provider.address, patient.address, Category.LABORATORY, Purpose.ETREAT)).to.equal(false);
      await expect(suite.consent.connect(provider).endBreakGlass(patient.address, provider.address)).to.be.revertedWithCustomError(suite.consent, "NoBreakGlass");

      // The provider ending its own access leaves it free to break the glass again.
      await (await suite.consent.connect(provider).breakGlass(otherPatient.address, randomHash())).wait();
      await (await suite.consent.connect(provider).endBreakGlass(otherPatient.address, provider.address)).wait();
      await (await suite.consent.connect(provider).breakGlass(otherPatient.address, randomHash())).wait();
      await (await suite.consent.connect(otherPatient).revokeAllConsents()).wait();
      expect(await suite.consent.hasAccess(provider.address, otherPatient.address, Category.LABORATORY, Purpose.ETREAT)).to.equal(false);
    });

    it("still honours an ordinary ETREAT grant without break-glass", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, researcher } = suite.actors;
      const now = await latest(connection);
      await (await suite.consent.connect(patient).grantConsent(researcher.address, Purpose.ETREAT, LABS, 0, now + DAY)).wait();
      expect(await suite.consent.hasAccess(researcher.address, patient.address, Category.LABORATORY, Purpose.ETREAT)).to.equal(true);
      expect(await suite.consent.hasAccess(researcher.address, patient.address, Category.GENOMICS, Purpose.ETREAT)).to.equal(false);
    });
  });
});
