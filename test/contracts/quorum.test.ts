import { expect } from "chai";
import { network } from "hardhat";
import { keccak256, ZeroAddress, Wallet } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";

import type { OracleQuorum } from "../../types/ethers-contracts/index.js";

import { encodeFulfilment, jobsFromReceipt, type OracleJob } from "../../deploy/prediction.js";
import { RequestStatus } from "../../protocol/codes.js";
import { blobUri, deployQuorumSuite, randomHash, type QuorumSuite } from "./fixtures.js";

const connection = await network.create();
const { networkHelpers, ethers } = connection;

const PAYMENT = 10n ** 17n;
const SPEC_ID = "0x" + "5e".repeat(32);
const CALLBACK = "0x12345678";

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
  it("a re-added operator keeps its slot (its earlier vote still counts once), a newcomer's vote counts, and k returns with the set", async function () {
    const suite = await networkHelpers.loadFixture(threeOfTwo);
    const [a, b, c] = suite.operators as [HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner];
    const newcomer = suite.actors.stranger;
    const oracleRole = await suite.identity.ORACLE_ROLE();
    const job = await request(suite);
    const honest = dataFor(job, randomHash());
    await (await vote(suite, job, a, honest)).wait();
    // Shrink to one operator while the request is pending: the threshold follows n down ...
    for (const op of [a, b]) {
      await (await suite.identity.revokeRole(oracleRole, op.address)).wait();
      await (await suite.quorumRouter.removeOracle(op.address)).wait();
    }
    expect(await suite.quorum.quorum()).to.deep.equal([1n, 1n]);
    // ... and back up to governance's k as operators return.
    await (await suite.identity.grantRole(oracleRole, a.address)).wait();
    await expect(suite.quorumRouter.authoriseOracle(a.address)).to.emit(suite.quorum, "QuorumChanged").withArgs(2, 2);
    await (await suite.identity.grantRole(oracleRole, newcomer.address)).wait();
    await expect(suite.quorumRouter.authoriseOracle(newcomer.address)).to.not.emit(suite.quorum, "QuorumChanged");
    expect(await suite.quorum.quorum()).to.deep.equal([2n, 3n]);
    expect(await suite.quorum.getAuthorizedSenders()).to.deep.equal([c.address, a.address, newcomer.address]);
    await expect(vote(suite, job, a, honest)).to.be.revertedWithCustomError(suite.quorum, "AlreadyVoted").withArgs(job.requestId, a.address);
    await expect(vote(suite, job, newcomer, honest)).to.emit(suite.quorum, "QuorumReached").withArgs(job.requestId, keccak256(honest), 2)
      .and.to.emit(suite.quorumRouter, "PredictionFulfilled");
    // The router's operator LINK comes back through the quorum's withdraw.
    expect(await suite.quorum.withdrawable()).to.equal(job.payment);
    await expect(suite.quorumRouter.withdrawOperatorLink(suite.actors.governance.address, job.payment + 1n))
      .to.be.revertedWithCustomError(suite.quorum, "InsufficientWithdrawable").withArgs(job.payment + 1n, job.payment);
    await expect(suite.quorumRouter.withdrawOperatorLink(suite.actors.governance.address, job.payment))
      .to.changeTokenBalances(ethers, suite.link, [suite.quorum, suite.actors.governance], [-job.payment, job.payment]);
    expect(await suite.quorum.withdrawable()).to.equal(0n);
  });

  it("refuses a finalising vote that could not give the consumer its minimum gas (nothing is counted)", async function () {
    const suite = await networkHelpers.loadFixture(threeOfTwo);
    const [a, b] = suite.operators as [HardhatEthersSigner, HardhatEthersSigner];
    const job = await request(suite);
    const honest = dataFor(job, randomHash());
    await (await vote(suite, job, a, honest)).wait();
    await expect(suite.quorum.connect(b).fulfillOracleRequest2(
      job.requestId, job.payment, job.callbackAddress, job.callbackFunctionId, job.expiration, honest, { gasLimit: 300_000 },
    )).to.be.revertedWithCustomError(suite.quorum, "InsufficientConsumerGas");
    expect(await suite.quorum.requestVotes(job.requestId)).to.deep.equal([1n, 1n, false, "0x" + "00".repeat(32)]);
    await expect(vote(suite, job, b, honest)).to.emit(suite.quorum, "QuorumReached");
  });

  describe("used directly (an EOA requester, governance as owner)", function () {
    type Direct = { suite: QuorumSuite; q: OracleQuorum; ops: HardhatEthersSigner[]; requester: HardhatEthersSigner };
    let nonce = 0n;

    async function direct(): Promise<Direct> {
      const suite = await deployQuorumSuite(connection, 1, 1);
      const gov = suite.actors.governance;
      const q = await ethers.deployContract("OracleQuorum", [suite.addresses.LinkToken, gov.address, suite.addresses.IdentityRegistry, 3], gov);
      const ops = (await ethers.getSigners()).slice(12, 16);
      await (await q.setAuthorizedSenders(ops.map((o) => o.address))).wait();
      const requester = suite.actors.researcher;
      await (await suite.link.mint(requester.address, 10n * PAYMENT)).wait();
      return { suite, q, ops, requester };
    }

    type Opened = { requestId: string; payment: bigint; callbackAddress: string; callbackFunctionId: string; expiration: bigint; emittedCallback: string };

    function operatorRequestData(q: OracleQuorum, n: bigint, dataVersion = 2n): string {
      return q.interface.encodeFunctionData("operatorRequest", [ZeroAddress, 0n, SPEC_ID, CALLBACK, n, dataVersion, "0x"]);
    }

    async function open(d: Direct, payload: string): Promise<Opened> {
      const receipt = (await (await d.suite.link.connect(d.requester).transferAndCall(await d.q.getAddress(), PAYMENT, payload)).wait())!;
      for (const log of receipt.logs) {
        const parsed = d.q.interface.parseLog(log);
        if (parsed?.name !== "OracleRequest") continue;
        const call = d.q.interface.parseTransaction({ data: payload })!;
        const callbackAddress = call.name === "oracleRequest" ? call.args[3] as string : d.requester.address;
        return {
          requestId: parsed.args.requestId as string, payment: parsed.args.payment as bigint, callbackAddress,
          callbackFunctionId: parsed.args.callbackFunctionId as string, expiration: parsed.args.cancelExpiration as bigint,
          emittedCallback: parsed.args.callbackAddr as string,
        };
      }
      throw new Error("no OracleRequest");
    }

    function cast(d: Direct, r: Opened, from: HardhatEthersSigner, data: string) {
      return d.q.connect(from).fulfillOracleRequest2(r.requestId, r.payment, r.callbackAddress, r.callbackFunctionId, r.expiration, data, { gasLimit: 2_000_000 });
    }

    const answer = (r: Opened) => encodeFulfilment({ requestId: r.requestId, resultHash: randomHash(), resultUri: "medcipher://blob/x" });

    it("validates its constructor, the operator set and k", async function () {
      const d = await networkHelpers.loadFixture(direct);
      const { LinkToken, IdentityRegistry } = d.suite.addresses;
      const gov = d.suite.actors.governance.address;
      await expect(ethers.deployContract("OracleQuorum", [ZeroAddress, gov, IdentityRegistry, 1])).to.be.revertedWithCustomError(d.q, "ZeroAddress");
      await expect(ethers.deployContract("OracleQuorum", [LinkToken, gov, ZeroAddress, 1])).to.be.revertedWithCustomError(d.q, "ZeroAddress");
      await expect(ethers.deployContract("OracleQuorum", [LinkToken, gov, IdentityRegistry, 0])).to.be.revertedWithCustomError(d.q, "InvalidQuorum").withArgs(0, 32);
      await expect(ethers.deployContract("OracleQuorum", [LinkToken, gov, IdentityRegistry, 33])).to.be.revertedWithCustomError(d.q, "InvalidQuorum").withArgs(33, 32);
      expect(await d.q.getChainlinkToken()).to.equal(LinkToken);
      expect(await d.q.EXPIRYTIME()).to.equal(300n);
      expect(await d.q.quorum()).to.deep.equal([3n, 4n]);
      await expect(d.q.setAuthorizedSenders([])).to.be.revertedWithCustomError(d.q, "InvalidOperatorSet").withArgs(0, 32);
      const many = Array.from({ length: 33 }, () => Wallet.createRandom().address);
      await expect(d.q.setAuthorizedSenders(many)).to.be.revertedWithCustomError(d.q, "InvalidOperatorSet").withArgs(33, 32);
      const [a, b] = d.ops as [HardhatEthersSigner, HardhatEthersSigner];
      await expect(d.q.setAuthorizedSenders([a.address, b.address, a.address])).to.be.revertedWithCustomError(d.q, "DuplicateOperator").withArgs(a.address);
      await expect(d.q.setQuorum(0)).to.be.revertedWithCustomError(d.q, "InvalidQuorum").withArgs(0, 4);
      await expect(d.q.setQuorum(5)).to.be.revertedWithCustomError(d.q, "InvalidQuorum").withArgs(5, 4);
      await expect(d.q.setQuorum(4)).to.emit(d.q, "QuorumChanged").withArgs(4, 4);
      // Every address keeps its slot for good: 128 distinct addresses, then no more.
      for (let i = 0; i < 3; ++i) {
        await (await d.q.setAuthorizedSenders(Array.from({ length: 32 }, () => Wallet.createRandom().address))).wait();
      }
      await (await d.q.setAuthorizedSenders(Array.from({ length: 28 }, () => Wallet.createRandom().address))).wait();
      await expect(d.q.setAuthorizedSenders([a.address, Wallet.createRandom().address]))
        .to.be.revertedWithCustomError(d.q, "OperatorSlotsExhausted").withArgs(128);
      await expect(d.q.setAuthorizedSenders([a.address, b.address])).to.emit(d.q, "QuorumChanged").withArgs(2, 2);
      expect(await d.q.isAuthorizedSender(a.address)).to.equal(true);
      expect(await d.q.isAuthorizedSender(d.ops[2]!.address)).to.equal(false);
    });

    it("rejects malformed requests: short, foreign selector, LINK as callback, data version, duplicate id", async function () {
      const d = await networkHelpers.loadFixture(direct);
      const qAddress = await d.q.getAddress();
      const link = d.suite.link.connect(d.requester);
      await expect(link.transferAndCall(qAddress, PAYMENT, "0x12345678")).to.be.revertedWithCustomError(d.q, "RequestTooShort").withArgs(4);
      const foreign = "0xdeadbeef" + "00".repeat(64);
      await expect(link.transferAndCall(qAddress, PAYMENT, foreign)).to.be.revertedWithCustomError(d.q, "UnsupportedRequestFunction").withArgs("0xdeadbeef");
      const toLink = d.q.interface.encodeFunctionData("oracleRequest", [ZeroAddress, 0n, SPEC_ID, d.suite.addresses.LinkToken, CALLBACK, ++nonce, 2n, "0x"]);
      await expect(link.transferAndCall(qAddress, PAYMENT, toLink)).to.be.revertedWithCustomError(d.q, "CallbackIsLink");
      await expect(link.transferAndCall(qAddress, PAYMENT, operatorRequestData(d.q, ++nonce, 256n)))
        .to.be.revertedWithCustomError(d.q, "DataVersionTooLarge").withArgs(256);
      const again = operatorRequestData(d.q, ++nonce);
      const r = await open(d, again);
      await expect(link.transferAndCall(qAddress, PAYMENT, again)).to.be.revertedWithCustomError(d.q, "DuplicateRequest").withArgs(r.requestId);
      await expect(d.q.operatorRequest(ZeroAddress, 0n, SPEC_ID, CALLBACK, 1n, 2n, "0x")).to.be.revertedWithCustomError(d.q, "OnlyLink");
    });

    it("serves a version-1 oracleRequest: emits the requester as callbackAddr (as the Operator does), commits to and calls the given callback", async function () {
      const d = await networkHelpers.loadFixture(direct);
      const [a, b, c] = d.ops as [HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner];
      // The router has no function behind this selector, so the consumer's callback reverts.
      const consumer = await d.suite.router.getAddress();
      const r = await open(d, d.q.interface.encodeFunctionData("oracleRequest", [ZeroAddress, 0n, SPEC_ID, consumer, "0xdeadbeef", ++nonce, 1n, "0x"]));
      expect(r.emittedCallback).to.equal(d.requester.address);
      const data = answer(r);
      // The commitment is to the callback given, not to the one the event names.
      await expect(cast(d, { ...r, callbackAddress: r.emittedCallback }, a, data)).to.be.revertedWithCustomError(d.q, "ParamsMismatch");
      await (await cast(d, r, a, data)).wait();
      await (await cast(d, r, b, data)).wait();
      await expect(cast(d, r, c, data)).to.emit(d.q, "QuorumReached").withArgs(r.requestId, keccak256(data), 3);
      // A late vote is counted and answers true, whatever the consumer did.
      expect(await d.q.connect(d.ops[3]!).fulfillOracleRequest2.staticCall(r.requestId, r.payment, r.callbackAddress, r.callbackFunctionId, r.expiration, data))
        .to.equal(true);
      expect(await d.q.withdrawable()).to.equal(PAYMENT);
    });

    it("returns the consumer's failure from the finalising vote; the request stays final and cannot be cancelled", async function () {
      const d = await networkHelpers.loadFixture(direct);
      await (await d.q.setQuorum(2)).wait();
      const [a, b] = d.ops as [HardhatEthersSigner, HardhatEthersSigner];
      const consumer = await d.suite.router.getAddress();
      const r = await open(d, d.q.interface.encodeFunctionData("oracleRequest", [ZeroAddress, 0n, SPEC_ID, consumer, "0xdeadbeef", ++nonce, 2n, "0x"]));
      const data = answer(r);
      await (await cast(d, r, a, data)).wait();
      expect(await d.q.connect(b).fulfillOracleRequest2.staticCall(r.requestId, r.payment, r.callbackAddress, r.callbackFunctionId, r.expiration, data)).to.equal(false);
      await expect(cast(d, r, b, data)).to.emit(d.q, "OracleResponse").withArgs(r.requestId);
      expect((await d.q.requestVotes(r.requestId))[2]).to.equal(true);
      expect(await d.q.withdrawable()).to.equal(PAYMENT);
    });

    it("checks the data version a fulfilment may serve", async function () {
      const d = await networkHelpers.loadFixture(direct);
      const r = await open(d, operatorRequestData(d.q, ++nonce, 3n));
      await expect(cast(d, r, d.ops[0]!, answer(r))).to.be.revertedWithCustomError(d.q, "DataVersionMismatch").withArgs(r.requestId, 3, 2);
    });

    it("cancels only an expired, unfinalised request with its own parameters, and records every silent operator", async function () {
      const d = await networkHelpers.loadFixture(direct);
      const [a, b, c, e] = d.ops as [HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner];
      const r = await open(d, operatorRequestData(d.q, ++nonce));
      const cancel = (who: HardhatEthersSigner, payment = r.payment) => d.q.connect(who).cancelOracleRequest(r.requestId, payment, r.callbackFunctionId, r.expiration);
      await (await cast(d, r, a, answer(r))).wait();
      await expect(cancel(d.requester)).to.be.revertedWithCustomError(d.q, "RequestNotExpired").withArgs(r.requestId, r.expiration);
      await networkHelpers.time.increaseTo(r.expiration);
      await expect(cancel(d.requester, 1n)).to.be.revertedWithCustomError(d.q, "ParamsMismatch").withArgs(r.requestId);
      await expect(cancel(d.suite.actors.stranger)).to.be.revertedWithCustomError(d.q, "ParamsMismatch");
      const before = await d.suite.link.balanceOf(d.requester.address);
      const refund = await cancel(d.requester);
      await expect(refund)
        .to.emit(d.q, "OperatorMissed").withArgs(r.requestId, b.address)
        .and.to.emit(d.q, "OperatorMissed").withArgs(r.requestId, c.address)
        .and.to.emit(d.q, "OperatorMissed").withArgs(r.requestId, e.address)
        .and.to.emit(d.q, "CancelOracleRequest").withArgs(r.requestId);
      expect(await d.suite.link.balanceOf(d.requester.address)).to.equal(before + PAYMENT);
      expect(await d.suite.link.balanceOf(await d.q.getAddress())).to.equal(0n);
      for (const op of [b, c, e]) expect(await d.q.operatorRecord(op.address)).to.deep.equal([0n, 1n]);
      expect(await d.q.operatorRecord(a.address)).to.deep.equal([0n, 0n]);
      await expect(cancel(d.requester)).to.be.revertedWithCustomError(d.q, "UnknownRequest").withArgs(r.requestId);
    });

    it("refuses to cancel a finalised request", async function () {
      const d = await networkHelpers.loadFixture(direct);
      await (await d.q.setQuorum(1)).wait();
      const r = await open(d, operatorRequestData(d.q, ++nonce));
      await (await cast(d, r, d.ops[0]!, answer(r))).wait();
      await networkHelpers.time.increaseTo(r.expiration);
      await expect(d.q.connect(d.requester).cancelOracleRequest(r.requestId, r.payment, r.callbackFunctionId, r.expiration))
        .to.be.revertedWithCustomError(d.q, "RequestFinalised").withArgs(r.requestId);
    });

    it("emits QuorumUnreachable once, and a dissenting first hash can still lose to a later majority", async function () {
      const d = await networkHelpers.loadFixture(direct);
      const [a, b, c, e] = d.ops as [HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner];
      const split = await open(d, operatorRequestData(d.q, ++nonce));
      await (await cast(d, split, a, answer(split))).wait();
      await expect(cast(d, split, b, answer(split))).to.not.emit(d.q, "QuorumUnreachable"); // 1 + 2 silent = 3
      await expect(cast(d, split, c, answer(split))).to.emit(d.q, "QuorumUnreachable").withArgs(split.requestId, 1, 1, 3);
      await expect(cast(d, split, e, answer(split))).to.not.emit(d.q, "QuorumUnreachable");
      expect(await d.q.requestVotes(split.requestId)).to.deep.equal([4n, 1n, false, "0x" + "00".repeat(32)]);

      const r = await open(d, operatorRequestData(d.q, ++nonce));
      const wrong = answer(r);
      const right = answer(r);
      await (await cast(d, r, a, wrong)).wait();
      await (await cast(d, r, b, right)).wait();
      await (await cast(d, r, c, right)).wait();
      expect(await d.q.votesFor(r.requestId, keccak256(right))).to.equal(2n);
      await expect(cast(d, r, e, right))
        .to.emit(d.q, "QuorumReached").withArgs(r.requestId, keccak256(right), 3)
        .and.to.emit(d.q, "OperatorDisagreed").withArgs(r.requestId, a.address, "0x" + "00".repeat(32), keccak256(right));
      expect(await d.q.operatorRecord(a.address)).to.deep.equal([1n, 0n]);
      expect(await d.q.requestVotes(r.requestId)).to.deep.equal([4n, 3n, true, keccak256(right)]);
    });
  });
});
