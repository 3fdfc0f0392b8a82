import { expect } from "chai";
import { network } from "hardhat";
import { keccak256 } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";

import { encodeFulfilment, jobsFromReceipt, type OracleJob } from "../../deploy/prediction.js";
import { RequestStatus } from "../../protocol/codes.js";
import { blobUri, deployQuorumSuite, randomHash, type QuorumSuite } from "./fixtures.js";

const connection = await network.create();
const { networkHelpers } = connection;

describe("OracleQuorum", function () {
  const threeOfTwo = () => deployQuorumSuite(connection, 3, 2);
  const oneOfOne = () => deployQuorumSuite(connection, 1, 1);

  async function request(suite: QuorumSuite): Promise<OracleJob> {
    const inputHash = randomHash();
    const receipt = (await (await suite.quorumRouter.connect(suite.actors.patient)
      .requestPrediction(suite.actors.patient.address, 1, inputHash, blobUri(inputHash))).wait())!;
    const [job] = jobsFromReceipt(receipt, await suite.quorum.getAddress(), await suite.quorumRouter.getAddress());
    if (!job) throw new Error("no OracleRequest in the receipt");
    return job;
  }

  function dataFor(job: OracleJob, resultHash: string): string {
    return encodeFulfilment({ requestId: job.requestId, resultHash, resultUri: blobUri(resultHash) });
  }

  function vote(suite: QuorumSuite, job: OracleJob, from: HardhatEthersSigner, data: string) {
    return suite.quorum.connect(from).fulfillOracleRequest2(
      job.requestId, job.payment, job.callbackAddress, job.callbackFunctionId, job.expiration, data, { gasLimit: 2_000_000 },
    );
  }

  it("finalises when k agree: the Byzantine vote is outvoted, recorded, and the late honest vote is a LateVote", async function () {
    const suite = await networkHelpers.loadFixture(threeOfTwo);
    const [a, b, c] = suite.operators as [HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner];
    const job = await request(suite);
    const honest = dataFor(job, randomHash());
    const wrong = dataFor(job, randomHash());
    await expect(vote(suite, job, c, wrong)).to.emit(suite.quorum, "VoteCast").withArgs(job.requestId, c.address, keccak256(wrong), 1);
    await expect(vote(suite, job, a, honest)).to.not.emit(suite.quorum, "QuorumReached");
    expect((await suite.quorumRouter.getRequest(job.requestId)).status).to.equal(RequestStatus.Pending);
    await expect(vote(suite, job, b, honest))
      .to.emit(suite.quorum, "QuorumReached").withArgs(job.requestId, keccak256(honest), 2)
      .and.to.emit(suite.quorum, "OperatorDisagreed").withArgs(job.requestId, c.address, "0x" + "00".repeat(32), keccak256(honest))
      .and.to.emit(suite.quorumRouter, "PredictionFulfilled");
    expect((await suite.quorumRouter.getRequest(job.requestId)).status).to.equal(RequestStatus.Fulfilled);
    expect(await suite.quorum.operatorRecord(c.address)).to.deep.equal([1n, 0n]);
    expect(await suite.quorum.requestVotes(job.requestId)).to.deep.equal([3n, 2n, true, keccak256(honest)]);
    expect(await suite.quorum.withdrawable()).to.equal(job.payment);
  });

  it("records a wrong late vote as a disagreement and counts a duplicate vote once (AlreadyVoted)", async function () {
    const suite = await networkHelpers.loadFixture(threeOfTwo);
    const [a, b, c] = suite.operators as [HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner];
    const job = await request(suite);
    const honest = dataFor(job, randomHash());
    await (await vote(suite, job, a, honest)).wait();
    await expect(vote(suite, job, a, honest)).to.be.revertedWithCustomError(suite.quorum, "AlreadyVoted").withArgs(job.requestId, a.address);
    expect(await suite.quorum.votesFor(job.requestId, keccak256(honest))).to.equal(1n);
    await (await vote(suite, job, b, honest)).wait();
    await expect(vote(suite, job, b, honest)).to.be.revertedWithCustomError(suite.quorum, "AlreadyVoted");
    const wrong = dataFor(job, randomHash());
    await expect(vote(suite, job, c, wrong))
      .to.emit(suite.quorum, "LateVote").withArgs(job.requestId, c.address, keccak256(wrong))
      .and.to.emit(suite.quorum, "OperatorDisagreed").withArgs(job.requestId, c.address, keccak256(wrong), keccak256(honest));
    expect(await suite.quorum.operatorRecord(c.address)).to.deep.equal([1n, 0n]);
  });

  it("never finalises on fewer than k: the split request expires, the cancel refunds and records the silent operator’s miss", async function () {
    const suite = await networkHelpers.loadFixture(threeOfTwo);
    const [a, b, c] = suite.operators as [HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner];
    const job = await request(suite);
    await (await vote(suite, job, a, dataFor(job, randomHash()))).wait();
    // 1 + c's possible vote can still reach 2: not unreachable yet.
    await expect(vote(suite, job, b, dataFor(job, randomHash()))).to.not.emit(suite.quorum, "QuorumUnreachable");
    await expect(suite.quorumRouter.cancelPrediction(job.requestId, job.payment)).to.be.revertedWithCustomError(suite.quorumRouter, "RequestNotExpired");
    await networkHelpers.time.increaseTo(job.expiration);
    await expect(suite.quorumRouter.cancelPrediction(job.requestId, job.payment))
      .to.emit(suite.quorum, "OperatorMissed").withArgs(job.requestId, c.address)
      .and.to.emit(suite.quorum, "CancelOracleRequest").withArgs(job.requestId);
    expect((await suite.quorumRouter.getRequest(job.requestId)).status).to.equal(RequestStatus.Cancelled);
    expect(await suite.quorum.operatorRecord(c.address)).to.deep.equal([0n, 1n]);
    expect(await suite.quorum.operatorRecord(a.address)).to.deep.equal([0n, 0n]);
    expect(await suite.quorum.withdrawable()).to.equal(0n);
    await expect(vote(suite, job, c, dataFor(job, randomHash()))).to.be.revertedWithCustomError(suite.quorum, "UnknownRequest");
  });

  it("emits QuorumUnreachable once no hash can reach k", async function () {
    const suite = await networkHelpers.loadFixture(threeOfTwo);
    const [a, b, c] = suite.operators as [HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner];
    const job = await request(suite);
    await (await vote(suite, job, a, dataFor(job, randomHash()))).wait();
    await (await vote(suite, job, b, dataFor(job, randomHash()))).wait();
    await expect(vote(suite, job, c, dataFor(job, randomHash())))
      .to.emit(suite.quorum, "QuorumUnreachable").withArgs(job.requestId, 1, 0, 2);
    expect((await suite.quorumRouter.getRequest(job.requestId)).status).to.equal(RequestStatus.Pending);
  });

  it("keeps pending requests alive across operator set changes; removal lowers k to n, k never exceeds n", async function () {
    const suite = await networkHelpers.loadFixture(threeOfTwo);
    const [a, b, c] = suite.operators as [HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner];
    const job = await request(suite);
    const honest = dataFor(job, randomHash());
    await (await vote(suite, job, a, honest)).wait();
    await (await suite.identity.revokeRole(await suite.identity.ORACLE_ROLE(), a.address)).wait();
    await (await suite.quorumRouter.removeOracle(a.address)).wait();
    expect(await suite.quorum.isAuthorizedSender(a.address)).to.equal(false);
    await expect(vote(suite, job, a, honest)).to.be.revertedWithCustomError(suite.quorum, "NotAuthorizedSender").withArgs(a.address);
    // a's vote, cast while authorised, still counts.
    await expect(vote(suite, job, b, honest)).to.emit(suite.quorum, "QuorumReached").withArgs(job.requestId, keccak256(honest), 2);
    await expect(suite.quorum.setQuorum(3)).to.be.revertedWithCustomError(suite.quorum, "InvalidQuorum").withArgs(3, 2);
    await expect(suite.quorum.connect(c).setQuorum(1)).to.be.revertedWithCustomError(suite.quorum, "NotGovernance");
    await (await suite.identity.revokeRole(await suite.identity.ORACLE_ROLE(), b.address)).wait();
    await expect(suite.quorumRouter.removeOracle(b.address)).to.emit(suite.quorum, "QuorumChanged").withArgs(1, 1);
    expect(await suite.quorum.quorum()).to.deep.equal([1n, 1n]);
    await expect(suite.quorum.connect(c).setAuthorizedSenders([c.address])).to.be.revertedWithCustomError(suite.quorum, "OwnableUnauthorizedAccount");
  });

  it("k = 1 behaves like the single Operator: the first vote finalises", async function () {
    const suite = await networkHelpers.loadFixture(oneOfOne);
    const job = await request(suite);
    await expect(vote(suite, job, suite.operators[0]!, dataFor(job, randomHash())))
      .to.emit(suite.quorum, "OracleResponse").and.to.emit(suite.quorumRouter, "PredictionFulfilled");
    await expect(suite.quorumRouter.cancelPrediction(job.requestId, job.payment)).to.be.revertedWithCustomError(suite.quorumRouter, "RequestNotPending");
  });

  it("rejects malformed votes and requests", async function () {
    const suite = await networkHelpers.loadFixture(threeOfTwo);
    const [a] = suite.operators as [HardhatEthersSigner];
    const job = await request(suite);
    await expect(vote(suite, job, suite.actors.stranger, dataFor(job, randomHash()))).to.be.revertedWithCustomError(suite.quorum, "NotAuthorizedSender");
    await expect(vote(suite, job, a, "0x1234")).to.be.revertedWithCustomError(suite.quorum, "ResponseTooShort").withArgs(2);
    await expect(vote(suite, job, a, "0x" + "00".repeat(32))).to.be.revertedWithCustomError(suite.quorum, "ResponseIdMismatch");
    await expect(vote(suite, { ...job, payment: 1n }, a, dataFor(job, randomHash()))).to.be.revertedWithCustomError(suite.quorum, "ParamsMismatch");
    const unknown = { ...job, requestId: randomHash() };
    await expect(vote(suite, unknown, a, dataFor(unknown, randomHash()))).to.be.revertedWithCustomError(suite.quorum, "UnknownRequest");
    await expect(suite.quorum.onTokenTransfer(a.address, 1n, "0x")).to.be.revertedWithCustomError(suite.quorum, "OnlyLink");
    await expect(suite.quorum.withdraw(a.address, 1n)).to.be.revertedWithCustomError(suite.quorum, "OwnableUnauthorizedAccount");
  });
});
