import { expect } from "chai";
import { network } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";

import { BIND_DEVICE_PQ_TYPES, medCipherDomain } from "../../protocol/typedData.js";
import { DAY, bindDevice, deploySuite, latest, randomHash, registerPatient, signBind, signatureVariants, type Suite } from "./fixtures.js";

const connection = await network.create();
const { ethers, networkHelpers } = connection;

/** The device signs BindDevicePq for `patient` (at the device's current bind nonce unless given). */
async function signBindPq(suite: Suite, device: HardhatEthersSigner, terms: { patient: string; expiresAt: bigint; pqKeyHash: string; deadline: bigint; nonce?: bigint; claimed?: string }) {
  const claimed = terms.claimed ?? device.address;
  const nonce = terms.nonce ?? (await suite.identity.deviceOf(claimed)).bindNonce;
  const domain = medCipherDomain("IdentityRegistry", suite.chainId, suite.addresses.IdentityRegistry);
  return device.signTypedData(domain, BIND_DEVICE_PQ_TYPES, { device: claimed, patient: terms.patient, expiresAt: terms.expiresAt, pqKeyHash: terms.pqKeyHash, nonce, deadline: terms.deadline });
}

describe("IdentityRegistry: post-quantum device bindings (bindDevicePq)", function () {
  async function fixture() {
    const suite = await deploySuite(connection);
    const { patient, otherPatient, vendor, device } = suite.actors;
    await registerPatient(suite, patient);
    await registerPatient(suite, otherPatient);
    await (await suite.identity.connect(vendor).registerDevice(device.address, randomHash())).wait();
    return suite;
  }

  /** Binds the fixture's device to `patient` under `pqKeyHash`; returns the block time of the bind. */
  async function bindPq(suite: Suite, patient: HardhatEthersSigner, pqKeyHash: string, days = 30n): Promise<bigint> {
    const now = await latest(connection);
    const terms = { patient: patient.address, expiresAt: now + days * DAY, pqKeyHash, deadline: now + 600n };
    const signature = await signBindPq(suite, suite.actors.device, terms);
    await (await suite.identity.connect(patient).bindDevicePq(suite.actors.device.address, terms.expiresAt, pqKeyHash, terms.deadline, signature)).wait();
    return BigInt((await ethers.provider.getBlock("latest"))!.timestamp);
  }

  it("binds with the device's signature over the key hash: stores it, records since when, emits both events", async function () {
    const suite = await networkHelpers.loadFixture(fixture);
    const { patient, device } = suite.actors;
    const pqKeyHash = randomHash();
    const now = await latest(connection);
    const expiresAt = now + DAY;
    const signature = await signBindPq(suite, device, { patient: patient.address, expiresAt, pqKeyHash, deadline: now + 60n });
    const tx = suite.identity.connect(patient).bindDevicePq(device.address, expiresAt, pqKeyHash, now + 60n, signature);
    await expect(tx).to.emit(suite.identity, "DeviceBound").withArgs(device.address, patient.address, expiresAt, 0);
    await expect(tx).to.emit(suite.identity, "DevicePqKeyBound").withArgs(device.address, patient.address, pqKeyHash);
    const bindTime = BigInt((await ethers.provider.getBlock("latest"))!.timestamp);
    const info = await suite.identity.deviceOf(device.address);
    expect(info.pqKeyHash).to.equal(pqKeyHash);
    expect(info.patient).to.equal(patient.address);
    expect(info.bindNonce).to.equal(1n);
    expect(await suite.identity.deviceOwner(device.address)).to.equal(patient.address);
    expect(await suite.identity.pqKeyBoundSince(device.address, patient.address, pqKeyHash)).to.equal(bindTime);
    expect(await suite.identity.pqKeyBoundSince(device.address, patient.address, randomHash()), "another key").to.equal(0n);
    expect(await suite.identity.pqKeyBoundSince(device.address, suite.actors.otherPatient.address, pqKeyHash), "another patient").to.equal(0n);
  });

  it("refuses a signature over another key hash, another patient or another device, a spent nonce, and malformed signatures", async function () {
    const suite = await networkHelpers.loadFixture(fixture);
    const { patient, otherPatient, device, otherDevice } = suite.actors;
    const pqKeyHash = randomHash();
    const now = await latest(connection);
    const expiresAt = now + DAY;
    const deadline = now + 600n;
    const bind = (keyHash: string, sig: string, by = patient) => suite.identity.connect(by).bindDevicePq(device.address, expiresAt, keyHash, deadline, sig);
    const good = await signBindPq(suite, device, { patient: patient.address, expiresAt, pqKeyHash, deadline });

    // The key hash is signed: the patient cannot swap in a key of its choosing.
    await expect(bind(randomHash(), good)).to.be.revertedWithCustomError(suite.identity, "InvalidDeviceSignature");
    // The patient is signed: another patient cannot use the device's signature.
    await expect(bind(pqKeyHash, good, otherPatient)).to.be.revertedWithCustomError(suite.identity, "InvalidDeviceSignature");
    // A signature by another device for this one.
    const byOther = await signBindPq(suite, otherDevice, { patient: patient.address, expiresAt, pqKeyHash, deadline, claimed: device.address });
    await expect(bind(pqKeyHash, byOther)).to.be.revertedWithCustomError(suite.identity, "InvalidDeviceSignature").withArgs(otherDevice.address, device.address);
    // A classic BindDevice signature is not a BindDevicePq one, nor the other way round (distinct type hashes).
    const classic = await signBind(suite, device, patient.address, expiresAt, deadline);
    await expect(bind(pqKeyHash, classic)).to.be.revertedWithCustomError(suite.identity, "InvalidDeviceSignature");
    await expect(suite.identity.connect(patient).bindDevice(device.address, expiresAt, deadline, good)).to.be.revertedWithCustomError(suite.identity, "InvalidDeviceSignature");
    const v = signatureVariants(good);
    await expect(bind(pqKeyHash, v.highS)).to.be.revertedWithCustomError(suite.identity, "ECDSAInvalidSignatureS");
    await expect(bind(pqKeyHash, v.compact)).to.be.revertedWithCustomError(suite.identity, "ECDSAInvalidSignatureLength");

    await (await bind(pqKeyHash, good)).wait();
    // Spent: the nonce moved on, the same signature cannot bind again (after an unbind, say).
    await (await suite.identity.connect(patient).unbindDevice(device.address)).wait();
    await expect(bind(pqKeyHash, good)).to.be.revertedWithCustomError(suite.identity, "InvalidDeviceSignature");
    // A signature made at a stale nonce.
    const stale = await signBindPq(suite, device, { patient: patient.address, expiresAt, pqKeyHash, deadline, nonce: 0n });
    await expect(bind(pqKeyHash, stale)).to.be.revertedWithCustomError(suite.identity, "InvalidDeviceSignature");
    const fresh = await signBindPq(suite, device, { patient: patient.address, expiresAt, pqKeyHash, deadline });
    await (await bind(pqKeyHash, fresh)).wait();
    expect((await suite.identity.deviceOf(device.address)).bindNonce).to.equal(2n);
  });

  it("refuses a zero key hash (InvalidPqKey), and shares bindDevice's checks (deadline, expiry, registration)", async function () {
    const suite = await networkHelpers.loadFixture(fixture);
    const { patient, device, stranger } = suite.actors;
    const now = await latest(connection);
    const zero = ethers.ZeroHash;
    const zeroSig = await signBindPq(suite, device, { patient: patient.address, expiresAt: now + DAY, pqKeyHash: zero, deadline: now + 600n });
    await expect(suite.identity.connect(patient).bindDevicePq(device.address, now + DAY, zero, now + 600n, zeroSig)).to.be.revertedWithCustomError(suite.identity, "InvalidPqKey");

    const pqKeyHash = randomHash();
    const past = await signBindPq(suite, device, { patient: patient.address, expiresAt: now, pqKeyHash, deadline: now + 600n });
    await expect(suite.identity.connect(patient).bindDevicePq(device.address, now, pqKeyHash, now + 600n, past)).to.be.revertedWithCustomError(suite.identity, "InvalidExpiry");
    const byStranger = await signBindPq(suite, device, { patient: stranger.address, expiresAt: now + DAY, pqKeyHash, deadline: now + 600n });
    await expect(suite.identity.connect(stranger).bindDevicePq(device.address, now + DAY, pqKeyHash, now + 600n, byStranger)).to.be.revertedWithCustomError(suite.identity, "PatientNotRegistered");
    const late = await signBindPq(suite, device, { patient: patient.address, expiresAt: now + DAY, pqKeyHash, deadline: now + 5n });
    await networkHelpers.time.increaseTo(now + 6n);
    await expect(suite.identity.connect(patient).bindDevicePq(device.address, now + DAY, pqKeyHash, now + 5n, late)).to.be.revertedWithCustomError(suite.identity, "SignatureExpired");
    expect((await suite.identity.deviceOf(device.address)).pqKeyHash).to.equal(zero);
  });

  it("keeps pqKeyBoundSince across unbind, re-keying and rebinding; the current key is cleared by unbind and by a classic bind", async function () {
    const suite = await networkHelpers.loadFixture(fixture);
    const { patient, device } = suite.actors;
    const firstKey = randomHash();
    const secondKey = randomHash();
    const firstSince = await bindPq(suite, patient, firstKey);

    await networkHelpers.time.increase(100);
    await (await suite.identity.connect(patient).unbindDevice(device.address)).wait();
    expect((await suite.identity.deviceOf(device.address)).pqKeyHash, "unbind clears the current key").to.equal(ethers.ZeroHash);
    expect(await suite.identity.pqKeyBoundSince(device.address, patient.address, firstKey), "records signed under it stay verifiable").to.equal(firstSince);

    // Re-keyed: a new key, the old one's first binding is still on record.
    const secondSince = await bindPq(suite, patient, secondKey);
    expect(secondSince).to.be.greaterThan(firstSince);
    expect((await suite.identity.deviceOf(device.address)).pqKeyHash).to.equal(secondKey);
    expect(await suite.identity.pqKeyBoundSince(device.address, patient.address, firstKey)).to.equal(firstSince);
    expect(await suite.identity.pqKeyBoundSince(device.address, patient.address, secondKey)).to.equal(secondSince);

    // Rebinding to the first key again keeps its FIRST binding time.
    await networkHelpers.time.increase(100);
    await bindPq(suite, patient, firstKey);
    expect(await suite.identity.pqKeyBoundSince(device.address, patient.address, firstKey)).to.equal(firstSince);

    // A classic bind (ECDSA only) clears the current key; the history stays.
    await bindDevice(connection, suite, device, patient);
    expect((await suite.identity.deviceOf(device.address)).pqKeyHash).to.equal(ethers.ZeroHash);
    expect(await suite.identity.deviceOwner(device.address)).to.equal(patient.address);
    expect(await suite.identity.pqKeyBoundSince(device.address, patient.address, secondKey)).to.equal(secondSince);
  });

  it("another patient's binding is recorded under that patient; a new vendor's re-registration clears the current key, not the history", async function () {
    const suite = await networkHelpers.loadFixture(fixture);
    const { patient, otherPatient, device, vendor, governance, stranger } = suite.actors;
    const key = randomHash();
    const since = await bindPq(suite, patient, key, 1n);
    // Expired: the device may now be bound by another patient, under the same key.
    await networkHelpers.time.increase(DAY);
    const otherSince = await bindPq(suite, otherPatient, key);
    expect(await suite.identity.pqKeyBoundSince(device.address, otherPatient.address, key)).to.equal(otherSince);
    expect(await suite.identity.pqKeyBoundSince(device.address, patient.address, key)).to.equal(since);
    expect(await suite.identity.deviceOwner(device.address)).to.equal(otherPatient.address);

    // Governance removes the vendor; a new vendor registers the device afresh: the binding and its key go.
    const role = await suite.identity.DEVICE_VENDOR_ROLE();
    await (await suite.identity.connect(governance).revokeRole(role, vendor.address)).wait();
    await (await suite.identity.connect(governance).grantRole(role, stranger.address)).wait();
    await (await suite.identity.connect(stranger).registerDevice(device.address, randomHash())).wait();
    const info = await suite.identity.deviceOf(device.address);
    expect(info.pqKeyHash).to.equal(ethers.ZeroHash);
    expect(info.patient).to.equal(ethers.ZeroAddress);
    expect(await suite.identity.pqKeyBoundSince(device.address, otherPatient.address, key)).to.equal(otherSince);
  });
});
