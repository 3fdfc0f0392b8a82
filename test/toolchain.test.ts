import { expect } from "chai";
import { network } from "hardhat";

// Guards the set-up itself: the pinned Node, the in-process EDR chain and the offline compilers.
describe("toolchain", function () {
  it("runs on Node >= 22.13", function () {
    const [major, minor] = process.versions.node.split(".").map(Number) as [number, number];
    expect(major > 22 || (major === 22 && minor >= 13)).to.equal(true);
  });

  it("deploys Chainlink's LinkToken on the embedded chain", async function () {
    const { ethers } = await network.create();
    const link = await ethers.deployContract("LinkToken");
    expect(await link.symbol()).to.equal("LINK");
  });
});
