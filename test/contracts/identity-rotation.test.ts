import { expect } from "chai";
import { network } from "hardhat";

import { PARAM_SET, OTHER_PARAM_SET, blobUri, deploySuite, randomHash, registerPatient, type Suite } from "./fixtures.js";

const connection = await network.create();
const { ethers, networkHelpers } = connection;

describe("IdentityRegistry: key-set rotation", function () {
  async function suiteFixture(): Promise<Suite> {
    return deploySuite(connection);
  }

  it("rotateKeySet_replacesTheHashAndParameterSet_andEmitsKeySetRotated", async function () {
    const suite = await networkHelpers.loadFixture(suiteFixture);
    const { patient } = suite.actors;
    await registerPatient(suite, patient);
    const [oldHash] = await suite.identity.keySetOf(patient.address);
    const keysHash = randomHash();
    await expect(suite.identity.connect(patient).rotateKeySet(keysHash, OTHER_PARAM_SET, blobUri(keysHash)))
      .to.emit(suite.identity, "KeySetRotated")
      .withArgs(patient.address, keysHash, OTHER_PARAM_SET, blobUri(keysHash), 2);
    const info = await suite.identity.patientOf(patient.address);
    expect(info.keysHash).to.equal(keysHash).and.not.equal(oldHash);
    expect(info.paramSetId).to.equal(OTHER_PARAM_SET);
    expect(info.keyVersion).to.equal(2n);
    // The encryption key and registration time are untouched.
    expect(info.registeredAt).to.be.greaterThan(0n);
  });

  it("rotateKeySet_onlyByTheRegisteredPatient", async function () {
    const suite = await networkHelpers.loadFixture(suiteFixture);
    const { patient, stranger } = suite.actors;
    await registerPatient(suite, patient);
    const before = await suite.identity.keySetOf(patient.address);
    // Nobody rotates another patient's key set: the function acts on msg.sender only, so a
    // stranger (not a patient) is refused and the patient's commitment stays as it was.
    await expect(suite.identity.connect(stranger).rotateKeySet(randomHash(), PARAM_SET, "u"))
      .to.be.revertedWithCustomError(suite.identity, "PatientNotRegistered")
      .withArgs(stranger.address);
    expect(await suite.identity.keySetOf(patient.address)).to.deep.equal(before);
  });

  it("rotateKeySet_refusesTheCurrentKeySet_withKeySetUnchanged", async function () {
    const suite = await networkHelpers.loadFixture(suiteFixture);
    const { patient } = suite.actors;
    await registerPatient(suite, patient);
    const [keysHash, paramSetId] = await suite.identity.keySetOf(patient.address);
    await expect(suite.identity.connect(patient).rotateKeySet(keysHash, paramSetId, blobUri(keysHash)))
      .to.be.revertedWithCustomError(suite.identity, "KeySetUnchanged")
      .withArgs(keysHash);
    expect((await suite.identity.patientOf(patient.address)).keyVersion).to.equal(1n);
  });

  it("rotateKeySet_refusesAnIncompleteKeySet", async function () {
    const suite = await networkHelpers.loadFixture(suiteFixture);
    const id = suite.identity.connect(suite.actors.patient);
    await registerPatient(suite, suite.actors.patient);
    await expect(id.rotateKeySet(ethers.ZeroHash, PARAM_SET, "u")).to.be.revertedWithCustomError(id, "InvalidKeySet");
    await expect(id.rotateKeySet(randomHash(), ethers.ZeroHash, "u")).to.be.revertedWithCustomError(id, "InvalidKeySet");
    await expect(id.rotateKeySet(randomHash(), PARAM_SET, "")).to.be.revertedWithCustomError(id, "InvalidKeySet");
  });
});
