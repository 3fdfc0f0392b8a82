import { expect } from "chai";
import { network } from "hardhat";

import {
  DAY,
  PARAM_SET,
  OTHER_PARAM_SET,
  blobUri,
  bindDevice,
  deploySuite,
  latest,
  randomHash,
  registerPatient,
  signBind,
  signatureVariants,
  type Suite,
} from "./fixtures.js";

const connection = await network.create();
const { ethers, networkHelpers } = connection;

describe("IdentityRegistry", function () {
  async function suiteFixture(): Promise<Suite> {
    return deploySuite(connection);
  }

  describe("role holdings", function () {
    it("numbers each holding of a role and answers 0 while the role is not held", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { governance, provider, stranger } = suite.actors;
      const role = await suite.identity.PROVIDER_ROLE();
      expect(await suite.identity.roleHolding(role, provider.address)).to.equal(1n);
      expect(await suite.identity.roleHolding(role, stranger.address)).to.equal(0n);
      // A grant to a holder is no new holding; a revoke and re-grant is.
      await (await suite.identity.connect(governance).grantRole(role, provider.address)).wait();
      expect(await suite.identity.roleHolding(role, provider.address)).to.equal(1n);
      await (await suite.identity.connect(governance).revokeRole(role, provider.address)).wait();
      expect(await suite.identity.roleHolding(role, provider.address)).to.equal(0n);
      await (await suite.identity.connect(governance).grantRole(role, provider.address)).wait();
      expect(await suite.identity.roleHolding(role, provider.address)).to.equal(2n);
      expect(await suite.identity.roleHolding(await suite.identity.RESEARCHER_ROLE(), provider.address)).to.equal(0n);
    });
  });

  describe("patients", function () {
    it("registers a patient with an HE key-set commitment and an X25519 key; the URI is only emitted", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient } = suite.actors;
      const keysHash = randomHash();
      const x25519 = randomHash();
      await expect(suite.identity.connect(patient).registerPatient(keysHash, PARAM_SET, blobUri(keysHash), x25519))
        .to.emit(suite.identity, "PatientRegistered")
        .withArgs(patient.address, keysHash, PARAM_SET, blobUri(keysHash), x25519);
      const info = await suite.identity.patientOf(patient.address);
      expect(info.keysHash).to.equal(keysHash);
      expect(info.paramSetId).to.equal(PARAM_SET);
      expect(info.encryptionKey).to.equal(x25519);
      expect(info.keyVersion).to.equal(1n);
      expect(await suite.identity.isPatient(patient.address)).to.equal(true);
      expect(await suite.identity.keySetOf(patient.address)).to.deep.equal([keysHash, PARAM_SET]);
      await expect(suite.identity.connect(patient).registerPatient(keysHash, PARAM_SET, "x", x25519))
        .to.be.revertedWithCustomError(suite.identity, "PatientAlreadyRegistered")
        .withArgs(patient.address);
    });

    it("rejects incomplete key sets and a zero encryption key", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const id = suite.identity.connect(suite.actors.patient);
      const h = randomHash();
      await expect(id.registerPatient(ethers.ZeroHash, PARAM_SET, "u", h)).to.be.revertedWithCustomError(id, "InvalidKeySet");
      await expect(id.registerPatient(h, ethers.ZeroHash, "u", h)).to.be.revertedWithCustomError(id, "InvalidKeySet");
      await expect(id.registerPatient(h, PARAM_SET, "", h)).to.be.revertedWithCustomError(id, "InvalidKeySet");
      await expect(id.registerPatient(h, PARAM_SET, "u", ethers.ZeroHash)).to.be.revertedWithCustomError(id, "InvalidEncryptionKey");
    });

    it("rotates the key set and the encryption key; unregistered accounts cannot", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, stranger } = suite.actors;
      await registerPatient(suite, patient);
      const keysHash = randomHash();
      await expect(suite.identity.connect(patient).rotateKeySet(keysHash, OTHER_PARAM_SET, blobUri(keysHash)))
        .to.emit(suite.identity, "KeySetRotated")
        .withArgs(patient.address, keysHash, OTHER_PARAM_SET, blobUri(keysHash), 2);
      expect(await suite.identity.keySetOf(patient.address)).to.deep.equal([keysHash, OTHER_PARAM_SET]);
      const x25519 = randomHash();
      await expect(suite.identity.connect(patient).rotateEncryptionKey(x25519))
        .to.emit(suite.identity, "EncryptionKeyRotated")
        .withArgs(patient.address, x25519);
      expect((await suite.identity.patientOf(patient.address)).encryptionKey).to.equal(x25519);
      await expect(suite.identity.connect(patient).rotateEncryptionKey(ethers.ZeroHash)).to.be.revertedWithCustomError(suite.identity, "InvalidEncryptionKey");
      await expect(suite.identity.connect(patient).rotateKeySet(ethers.ZeroHash, PARAM_SET, "u")).to.be.revertedWithCustomError(suite.identity, "InvalidKeySet");
      await expect(suite.identity.connect(stranger).rotateKeySet(keysHash, PARAM_SET, "u"))
        .to.be.revertedWithCustomError(suite.identity, "PatientNotRegistered")
        .withArgs(stranger.address);
      await expect(suite.identity.connect(stranger).rotateEncryptionKey(x25519)).to.be.revertedWithCustomError(suite.identity, "PatientNotRegistered");
    });
  });

  describe("roles and governance", function () {
    it("admits and removes role holders by governance only", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { governance, stranger } = suite.actors;
      const PROVIDER = await suite.identity.PROVIDER_ROLE();
      expect(PROVIDER).to.equal(ethers.id("PROVIDER_ROLE"));
      await expect(suite.identity.connect(stranger).grantRole(PROVIDER, stranger.address)).to.be.revertedWithCustomError(
        suite.identity,
        "AccessControlUnauthorizedAccount",
      );
      await (await suite.identity.connect(governance).grantRole(PROVIDER, stranger.address)).wait();
      expect(await suite.identity.hasRole(PROVIDER, stranger.address)).to.equal(true);
      await (await suite.identity.connect(governance).revokeRole(PROVIDER, stranger.address)).wait();
      expect(await suite.identity.hasRole(PROVIDER, stranger.address)).to.equal(false);
      for (const role of [
        await suite.identity.RESEARCHER_ROLE(),
        await suite.identity.ORACLE_ROLE(),
        await suite.identity.DEVICE_VENDOR_ROLE(),
        await suite.identity.GATEWAY_ROLE(),
      ]) {
        expect(await suite.identity.getRoleAdmin(role)).to.equal(ethers.ZeroHash);
      }
      expect(await suite.identity.hasRole(await suite.identity.ORACLE_ROLE(), suite.actors.oracle.address)).to.equal(true);
    });

    it("transfers governance in two steps after the delay", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { governance, stranger } = suite.actors;
      await (await suite.identity.connect(governance).beginDefaultAdminTransfer(stranger.address)).wait();
      expect(await suite.identity.defaultAdmin()).to.equal(governance.address);
      await networkHelpers.time.increase(1);
      await (await suite.identity.connect(stranger).acceptDefaultAdminTransfer()).wait();
      expect(await suite.identity.defaultAdmin()).to.equal(stranger.address);
      // The other contracts follow the registry's admin.
      await expect(suite.router.connect(governance).setFee(1n)).to.be.revertedWithCustomError(suite.router, "NotGovernance");
      await (await suite.router.connect(stranger).setFee(1n)).wait();
    });
  });

  describe("devices", function () {
    it("lets only device vendors register devices, once", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { vendor, device, stranger } = suite.actors;
      const model = randomHash();
      await expect(suite.identity.connect(stranger).registerDevice(device.address, model)).to.be.revertedWithCustomError(
        suite.identity,
        "AccessControlUnauthorizedAccount",
      );
      await expect(suite.identity.connect(vendor).registerDevice(device.address, model))
        .to.emit(suite.identity, "DeviceRegistered")
        .withArgs(device.address, vendor.address, model);
      await expect(suite.identity.connect(vendor).registerDevice(device.address, model)).to.be.revertedWithCustomError(suite.identity, "DeviceAlreadyRegistered");
      await expect(suite.identity.connect(vendor).registerDevice(ethers.ZeroAddress, model)).to.be.revertedWithCustomError(suite.identity, "DeviceNotUsable");
      expect((await suite.identity.deviceOf(device.address)).vendor).to.equal(vendor.address);
    });

    it("binds a device to a patient with the device's signature, until expiry", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, vendor, device } = suite.actors;
      await registerPatient(suite, patient);
      await (await suite.identity.connect(vendor).registerDevice(device.address, randomHash())).wait();
      const now = await latest(connection);
      const expiresAt = now + 100n;
      const signature = await signBind(suite, device, patient.address, expiresAt, now + 50n);
      await expect(suite.identity.connect(patient).bindDevice(device.address, expiresAt, now + 50n, signature))
        .to.emit(suite.identity, "DeviceBound")
        .withArgs(device.address, patient.address, expiresAt, 0);
      expect(await suite.identity.deviceOwner(device.address)).to.equal(patient.address);
      // The signature is spent: the nonce moved on.
      await expect(suite.identity.connect(patient).bindDevice(device.address, expiresAt, now + 50n, signature)).to.be.revertedWithCustomError(
        suite.identity,
        "InvalidDeviceSignature",
      );
      await networkHelpers.time.increaseTo(expiresAt);
      expect(await suite.identity.deviceOwner(device.address)).to.equal(ethers.ZeroAddress);
    });

    it("refuses binds without the device's valid signature, past the deadline, or with a past expiry", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, vendor, device, otherDevice } = suite.actors;
      await registerPatient(suite, patient);
      await (await suite.identity.connect(vendor).registerDevice(device.address, randomHash())).wait();
      const now = await latest(connection);
      const bind = (expiresAt: bigint, deadline: bigint, sig: string) =>
        suite.identity.connect(patient).bindDevice(device.address, expiresAt, deadline, sig);
      const byOther = await signBind(suite, otherDevice, patient.address, now + DAY, now + 50n, device.address);
      await expect(bind(now + DAY, now + 50n, byOther))
        .to.be.revertedWithCustomError(suite.identity, "InvalidDeviceSignature")
        .withArgs(otherDevice.address, device.address);
      const good = await signBind(suite, device, patient.address, now + DAY, now + 50n);
      const v = signatureVariants(good);
      await expect(bind(now + DAY, now + 50n, v.highS)).to.be.revertedWithCustomError(suite.identity, "ECDSAInvalidSignatureS");
      await expect(bind(now + DAY, now + 50n, v.compact)).to.be.revertedWithCustomError(suite.identity, "ECDSAInvalidSignatureLength");
      await expect(bind(now + DAY, now + 50n, v.zero)).to.be.revertedWithCustomError(suite.identity, "ECDSAInvalidSignature");
      await expect(bind(now + DAY + 1n, now + 50n, good)).to.be.revertedWithCustomError(suite.identity, "InvalidDeviceSignature");
      await expect(bind(now, now + 50n, good)).to.be.revertedWithCustomError(suite.identity, "InvalidExpiry");
      await networkHelpers.time.increaseTo(now + 51n);
      await expect(bind(now + DAY, now + 50n, good)).to.be.revertedWithCustomError(suite.identity, "SignatureExpired");
    });

    it("needs a registered patient and a registered, unrevoked device", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, vendor, device, stranger } = suite.actors;
      const now = await latest(connection);
      const sig = await signBind(suite, device, stranger.address, now + DAY, now + 50n);
      await expect(suite.identity.connect(stranger).bindDevice(device.address, now + DAY, now + 50n, sig)).to.be.revertedWithCustomError(
        suite.identity,
        "PatientNotRegistered",
      );
      await registerPatient(suite, patient);
      const sig2 = await signBind(suite, device, patient.address, now + DAY, now + 50n);
      await expect(suite.identity.connect(patient).bindDevice(device.address, now + DAY, now + 50n, sig2)).to.be.revertedWithCustomError(
        suite.identity,
        "DeviceNotUsable",
      );
      await (await suite.identity.connect(vendor).registerDevice(device.address, randomHash())).wait();
      await expect(suite.identity.connect(stranger).revokeDevice(device.address)).to.be.revertedWithCustomError(suite.identity, "NotDeviceVendor");
      await expect(suite.identity.connect(vendor).revokeDevice(device.address)).to.emit(suite.identity, "DeviceRevoked").withArgs(device.address, vendor.address);
      await expect(suite.identity.connect(patient).bindDevice(device.address, now + DAY, now + 50n, sig2)).to.be.revertedWithCustomError(
        suite.identity,
        "DeviceNotUsable",
      );
    });

    it("binds a device to one patient at a time; after unbinding or expiry another may bind it", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, otherPatient, device } = suite.actors;
      await registerPatient(suite, patient);
      await registerPatient(suite, otherPatient);
      await bindDevice(connection, suite, device, patient, 1n);
      const now = await latest(connection);
      const sig = await signBind(suite, device, otherPatient.address, now + DAY, now + 50n);
      await expect(suite.identity.connect(otherPatient).bindDevice(device.address, now + DAY, now + 50n, sig))
        .to.be.revertedWithCustomError(suite.identity, "DeviceBoundToAnother")
        .withArgs(device.address, patient.address);
      await networkHelpers.time.increase(DAY);
      await (await suite.identity.connect(otherPatient).bindDevice(device.address, now + 2n * DAY, now + 2n * DAY, await signBind(suite, device, otherPatient.address, now + 2n * DAY, now + 2n * DAY))).wait();
      expect(await suite.identity.deviceOwner(device.address)).to.equal(otherPatient.address);
    });

    it("unbinds by the patient or the device, not by others; a revoked device acts for no one", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, device, vendor, stranger } = suite.actors;
      await registerPatient(suite, patient);
      await bindDevice(connection, suite, device, patient);
      await expect(suite.identity.connect(stranger).unbindDevice(device.address))
        .to.be.revertedWithCustomError(suite.identity, "DeviceNotBoundTo")
        .withArgs(device.address, stranger.address);
      await expect(suite.identity.connect(device).unbindDevice(device.address))
        .to.emit(suite.identity, "DeviceUnbound")
        .withArgs(device.address, patient.address, device.address);
      expect(await suite.identity.deviceOwner(device.address)).to.equal(ethers.ZeroAddress);
      await expect(suite.identity.connect(patient).unbindDevice(device.address)).to.be.revertedWithCustomError(suite.identity, "DeviceNotBoundTo");

      await bindDevice(connection, suite, device, patient);
      await expect(suite.identity.connect(patient).unbindDevice(device.address))
        .to.emit(suite.identity, "DeviceUnbound")
        .withArgs(device.address, patient.address, patient.address);
      await bindDevice(connection, suite, device, patient);
      await (await suite.identity.connect(vendor).revokeDevice(device.address)).wait();
      expect(await suite.identity.deviceOwner(device.address)).to.equal(ethers.ZeroAddress);
      expect(await suite.identity.deviceOwner(stranger.address)).to.equal(ethers.ZeroAddress);
    });
  });
});
