import { expect } from "chai";
import { network } from "hardhat";

import { sendTransaction } from "../../sdk/chain/send.js";
import { ChainError, InvalidInputError } from "../../sdk/errors.js";

describe("sdk: sendTransaction tells a bad argument from an on-chain revert", function () {
  it("reports an argument ethers cannot encode as InvalidInputError, nothing sent", async function () {
    const { ethers } = await network.create();
    const [holder, other] = await ethers.getSigners();
    const link = await ethers.deployContract("LinkToken");
    const nonceBefore = await ethers.provider.getTransactionCount(holder!.address);

    const badArgument = await failureOf(sendTransaction("transfer", () => link.transfer(other!.address, "lots" as unknown as bigint)));
    expect(badArgument).to.be.instanceOf(InvalidInputError);
    expect((badArgument as InvalidInputError).shortMessage).to.match(/nothing was sent/);
    expect(await ethers.provider.getTransactionCount(holder!.address)).to.equal(nonceBefore);

    // A real revert stays a ChainError naming the contract's reason.
    const empty = link.connect(other!);
    const revert = await failureOf(sendTransaction("transfer", () => empty.transfer(holder!.address, 1n)));
    expect(revert).to.be.instanceOf(ChainError);
    expect((revert as ChainError).shortMessage).to.match(/^transfer failed on-chain/);
  });
});

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return expect.fail("expected a rejection");
}
