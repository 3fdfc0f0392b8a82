import { expect } from "chai";
import { network } from "hardhat";
import { AbiCoder, TypedDataEncoder, hexlify, keccak256, randomBytes } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";

import { medCipherDomain } from "../../protocol/typedData.js";
import { Category, DAY, Purpose, categoryBit, deploySuite, latest, type Suite } from "./fixtures.js";

// Private consent (ConsentManager.grantConsentPrivate / revokeConsentPrivate /
// privateConsentAllows): the chain holds a commitment and its state, never the parties. The
// EIP-712 type is written out here, apart from protocol/, so a drift on either side fails.

const connection = await network.create();
const { ethers, networkHelpers } = connection;
const coder = AbiCoder.defaultAbiCoder();
const PRIVATE_CONSENT_TYPES = {
  PrivateConsent: [
    { name: "patient", type: "address" },
    { name: "grantee", type: "address" },
    { name: "groupId", type: "uint256" },
    { name: "purpose", type: "uint8" },
    { name: "categories", type: "uint32" },
    { name: "validFrom", type: "uint40" },
    { name: "validUntil", type: "uint40" },
    { name: "epoch", type: "uint32" },
    { name: "salt", type: "bytes32" },
  ],
};

type Opening = {
  patient: string;
  grantee: string;
  groupId: bigint;
  purpose: number;
  categories: number;
  validFrom: bigint;
  validUntil: bigint;
  epoch: bigint;
  salt: string;
};

describe("private consent", function () {
  async function fixture() {
    return deploySuite(connection, false);
  }

  async function openConsent(suite: Suite, patient: HardhatEthersSigner, grantee: string, overrides: Partial<Opening> = {}) {
    const now = await latest(connection);
    const opening: Opening = {
      patient: patient.address,
      grantee,
      groupId: 0n,
      purpose: Purpose.TREAT,
      categories: categoryBit(Category.VITAL_SIGNS),
      validFrom: 0n,
      validUntil: now + DAY,
      epoch: await suite.consent.epochOf(patient.address),
      salt: hexlify(randomBytes(32)),
      ...overrides,
    };
    const domain = medCipherDomain("ConsentManager", suite.chainId, suite.addresses.ConsentManager);
    const signature = await patient.signTypedData(domain, PRIVATE_CONSENT_TYPES, opening);
    const secret = hexlify(randomBytes(32));
    const revocationHash = keccak256(coder.encode(["bytes32"], [secret]));
    const consentHash = TypedDataEncoder.hashStruct("PrivateConsent", PRIVATE_CONSENT_TYPES, opening);
    const commitment = keccak256(coder.encode(["bytes32", "bytes32"], [consentHash, revocationHash]));
    return { opening, signature, secret, revocationHash, consentHash, commitment };
  }

  it("hashes the opening and the commitment as documented", async function () {
    const suite = await networkHelpers.loadFixture(fixture);
    const c = await openConsent(suite, suite.actors.patient, suite.actors.provider.address);
    expect(await suite.consent.privateConsentHash(c.opening)).to.equal(c.consentHash);
    expect(await suite.consent.privateCommitment(c.consentHash, c.revocationHash)).to.equal(c.commitment);
  });

  it("is granted and revoked by a relayer with events that carry only the commitment", async function () {
    const suite = await networkHelpers.loadFixture(fixture);
    const { patient, provider, relayer, stranger } = suite.actors;
    const c = await openConsent(suite, patient, provider.address);
    const allows = () => suite.consent.privateConsentAllows(c.opening, c.revocationHash, c.signature, Category.VITAL_SIGNS, Purpose.TREAT);
    expect(await allows()).to.equal(false); // not published yet

    const grant = await suite.consent.connect(relayer).grantConsentPrivate(c.commitment);
    await expect(grant).to.emit(suite.consent, "PrivateConsentGranted").withArgs(c.commitment);
    const receipt = (await grant.wait())!;
    for (const log of receipt.logs) {
      const text = (log.topics.join("") + log.data).toLowerCase();
      for (const party of [patient.address, provider.address]) expect(text).not.to.include(party.slice(2).toLowerCase());
    }
    expect(await allows()).to.equal(true);
    // A copy sent ahead of it publishes the same commitment: the second is refused, nothing changes.
    await expect(suite.consent.connect(stranger).grantConsentPrivate(c.commitment))
      .to.be.revertedWithCustomError(suite.consent, "PrivateConsentExists")
      .withArgs(c.commitment);
    await expect(suite.consent.grantConsentPrivate(ethers.ZeroHash)).to.be.revertedWithCustomError(suite.consent, "InvalidCommitment");

    // Only the holder of the revocation secret can revoke.
    await expect(suite.consent.connect(stranger).revokeConsentPrivate(c.consentHash, hexlify(randomBytes(32))))
      .to.be.revertedWithCustomError(suite.consent, "UnknownPrivateConsent");
    const revoke = suite.consent.connect(relayer).revokeConsentPrivate(c.consentHash, c.secret);
    await expect(revoke).to.emit(suite.consent, "PrivateConsentRevoked").withArgs(c.commitment);
    expect(await allows()).to.equal(false);
    const state = await suite.consent.privateConsentState(c.commitment);
    expect(state.grantedAt).to.be.greaterThan(0n);
    expect(state.revokedAt).to.be.greaterThanOrEqual(state.grantedAt);
    await expect(suite.consent.revokeConsentPrivate(c.consentHash, c.secret))
      .to.be.revertedWithCustomError(suite.consent, "PrivateConsentAlreadyRevoked")
      .withArgs(c.commitment);
  });

  it("allows only what the patient signed, in its period, purpose, categories and epoch", async function () {
    const suite = await networkHelpers.loadFixture(fixture);
    const { patient, otherPatient, provider } = suite.actors;
    const c = await openConsent(suite, patient, provider.address);
    await (await suite.consent.grantConsentPrivate(c.commitment)).wait();
    const allows = (o: Opening, sig = c.signature, category: number = Category.VITAL_SIGNS, purpose: number = Purpose.TREAT, rh = c.revocationHash) =>
      suite.consent.privateConsentAllows(o, rh, sig, category, purpose);
    expect(await allows(c.opening)).to.equal(true);
    expect(await allows(c.opening, c.signature, Category.GENOMICS)).to.equal(false);
    expect(await allows(c.opening, c.signature, Category.VITAL_SIGNS, Purpose.HRESCH)).to.equal(false);
    expect(await allows({ ...c.opening, grantee: otherPatient.address })).to.equal(false); // another commitment
    expect(await allows(c.opening, c.signature, Category.VITAL_SIGNS, Purpose.TREAT, ethers.ZeroHash)).to.equal(false);

    // Someone else's signature over the same opening: the commitment exists, the signer is wrong.
    const domain = medCipherDomain("ConsentManager", suite.chainId, suite.addresses.ConsentManager);
    const forged = await otherPatient.signTypedData(domain, PRIVATE_CONSENT_TYPES, c.opening);
    expect(await allows(c.opening, forged)).to.equal(false);

    // revokeAllConsents ends private consents too (the epoch is part of the opening).
    await (await suite.consent.connect(patient).revokeAllConsents()).wait();
    expect(await allows(c.opening)).to.equal(false);

    // And a consent ends with its period.
    const later = await openConsent(suite, patient, provider.address);
    await (await suite.consent.grantConsentPrivate(later.commitment)).wait();
    expect(await suite.consent.privateConsentAllows(later.opening, later.revocationHash, later.signature, Category.VITAL_SIGNS, Purpose.TREAT)).to.equal(true);
    await networkHelpers.time.increase(DAY + 1n);
    expect(await suite.consent.privateConsentAllows(later.opening, later.revocationHash, later.signature, Category.VITAL_SIGNS, Purpose.TREAT)).to.equal(false);
  });
});
