import { expect } from "chai";
import { network } from "hardhat";

import { DEMO_MODEL, deploySuite, randomHash, type Suite } from "./fixtures.js";

const connection = await network.create();
const { ethers, networkHelpers } = connection;

describe("ModelRegistry", function () {
  async function suiteFixture(): Promise<Suite> {
    return deploySuite(connection);
  }

  it("registers models by governance with sequential ids and stores the full spec", async function () {
    const suite = await networkHelpers.loadFixture(suiteFixture);
    const { governance } = suite.actors;
    const spec = { ...DEMO_MODEL, name: "heart-risk", version: "0.3.1", weightsUri: "", isPrivate: true, outputKind: 2 };
    await expect(suite.models.connect(governance).registerModel(spec))
      .to.emit(suite.models, "ModelRegistered")
      .withArgs(2, spec.weightsHash, spec.paramSetId, spec.name, spec.version, "", spec.encodingSpecHash, 2, true);
    expect(await suite.models.modelCount()).to.equal(2n);
    expect(await suite.models.modelIdOf("heart-risk", "0.3.1")).to.equal(2n);
    expect(await suite.models.modelIdOf("heart-risk", "0.3.2")).to.equal(0n);
    const model = await suite.models.modelOf(2);
    expect(model.spec.name).to.equal("heart-risk");
    expect(model.spec.encodingSpecHash).to.equal(spec.encodingSpecHash);
    expect(model.spec.outputKind).to.equal(2n);
    expect(model.spec.isPrivate).to.equal(true);
    expect(model.retiredAt).to.equal(0n);
    expect(await suite.models.modelStatus(2)).to.deep.equal([true, spec.paramSetId]);
  });

  it("refuses non-governance callers, duplicates and incomplete specs", async function () {
    const suite = await networkHelpers.loadFixture(suiteFixture);
    const { governance, stranger } = suite.actors;
    const m = suite.models.connect(governance);
    await expect(suite.models.connect(stranger).registerModel({ ...DEMO_MODEL, version: "9" }))
      .to.be.revertedWithCustomError(m, "NotGovernance")
      .withArgs(stranger.address);
    await expect(m.registerModel(DEMO_MODEL)).to.be.revertedWithCustomError(m, "DuplicateModel").withArgs(1);
    for (const broken of [
      { name: "" },
      { version: "" },
      { weightsHash: ethers.ZeroHash },
      { paramSetId: ethers.ZeroHash },
      { encodingSpecHash: ethers.ZeroHash },
    ]) {
      await expect(m.registerModel({ ...DEMO_MODEL, version: "x", ...broken })).to.be.revertedWithCustomError(m, "InvalidModelSpec");
    }
  });

  it("retires a model once, by governance; unknown ids are reported", async function () {
    const suite = await networkHelpers.loadFixture(suiteFixture);
    const { governance, stranger } = suite.actors;
    await expect(suite.models.connect(stranger).retireModel(1)).to.be.revertedWithCustomError(suite.models, "NotGovernance");
    await expect(suite.models.connect(governance).retireModel(1)).to.emit(suite.models, "ModelRetired").withArgs(1, governance.address);
    expect((await suite.models.modelStatus(1))[0]).to.equal(false);
    expect((await suite.models.modelOf(1)).retiredAt).to.not.equal(0n);
    await expect(suite.models.connect(governance).retireModel(1)).to.be.revertedWithCustomError(suite.models, "ModelAlreadyRetired").withArgs(1);
    await expect(suite.models.connect(governance).retireModel(9)).to.be.revertedWithCustomError(suite.models, "UnknownModel").withArgs(9);
    await expect(suite.models.modelOf(9)).to.be.revertedWithCustomError(suite.models, "UnknownModel").withArgs(9);
    expect(await suite.models.modelStatus(9)).to.deep.equal([false, ethers.ZeroHash]);
  });

  it("refuses a zero IdentityRegistry at construction", async function () {
    const factory = await ethers.getContractFactory("ModelRegistry");
    await expect(factory.deploy(ethers.ZeroAddress)).to.be.revertedWithCustomError(factory, "ZeroAddress");
    const records = await ethers.getContractFactory("RecordRegistry");
    await expect(records.deploy(randomAddress(), ethers.ZeroAddress)).to.be.revertedWithCustomError(records, "ZeroAddress");
  });
});

function randomAddress(): string {
  return ethers.getAddress(randomHash().slice(0, 42));
}

describe("AuditLogAnchor", function () {
  async function suiteFixture(): Promise<Suite> {
    return deploySuite(connection);
  }

  it("anchors a gateway's audit-log head with a growing entry count", async function () {
    const suite = await networkHelpers.loadFixture(suiteFixture);
    const { gateway } = suite.actors;
    const [h1, h2] = [randomHash(), randomHash()];
    await expect(suite.audit.connect(gateway).anchorHead(h1, 10))
      .to.emit(suite.audit, "AuditHeadAnchored")
      .withArgs(gateway.address, h1, 10, ethers.ZeroHash, 0);
    await expect(suite.audit.connect(gateway).anchorHead(h2, 25))
      .to.emit(suite.audit, "AuditHeadAnchored")
      .withArgs(gateway.address, h2, 25, h1, 10);
    const head = await suite.audit.latestHead(gateway.address);
    expect(head.headHash).to.equal(h2);
    expect(head.entryCount).to.equal(25n);
    expect(head.anchoredAt).to.equal(BigInt(await networkHelpers.time.latest()));
  });

  it("refuses non-gateways, zero heads and a count that does not grow", async function () {
    const suite = await networkHelpers.loadFixture(suiteFixture);
    const { gateway, stranger } = suite.actors;
    await expect(suite.audit.connect(stranger).anchorHead(randomHash(), 1))
      .to.be.revertedWithCustomError(suite.audit, "MissingRole")
      .withArgs(stranger.address, await suite.identity.GATEWAY_ROLE());
    await expect(suite.audit.connect(gateway).anchorHead(ethers.ZeroHash, 1)).to.be.revertedWithCustomError(suite.audit, "InvalidHead");
    await expect(suite.audit.connect(gateway).anchorHead(randomHash(), 0)).to.be.revertedWithCustomError(suite.audit, "EntryCountNotIncreasing").withArgs(0, 0);
    await (await suite.audit.connect(gateway).anchorHead(randomHash(), 5)).wait();
    await expect(suite.audit.connect(gateway).anchorHead(randomHash(), 5)).to.be.revertedWithCustomError(suite.audit, "EntryCountNotIncreasing").withArgs(5, 5);
    expect((await suite.audit.latestHead(stranger.address)).entryCount).to.equal(0n);
  });
});
