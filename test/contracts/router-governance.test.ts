/**
 * Issue 9 items 16, 19 and the router's info items of 20: governance owns the Operator through
 * the router (removing an oracle stops it; nobody can post results through `ownerForward`), a
 * fulfilment whose callback reverts does not strand its request for good, and the decided
 * behaviour of late fulfilments and of key rotation while a result is pending.
 */
import { expect } from "chai";
import { network } from "hardhat";
import { AbiCoder } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";

import { DEFAULT_SPONSOR_BUDGET } from "../../deploy/local.js";
import { encodeFulfilment, jobsFromReceipt, type OracleJob } from "../../deploy/prediction.js";
import { RequestStatus } from "../../protocol/codes.js";
import { DEMO_MODEL, blobUri, deploySuite, randomHash, registerPatient, type Suite } from "./fixtures.js";

const connection = await network.create();
const { networkHelpers } = connection;

describe("PredictionRouter governance of the Operator", function () {
  async function suiteFixture(): Promise<Suite> {
    const suite = await deploySuite(connection);
    await registerPatient(suite, suite.actors.patient);
    return suite;
  }

  async function request(suite: Suite): Promise<{ job: OracleJob; inputHash: string }> {
    const { patient } = suite.actors;
    const inputHash = randomHash();
    const receipt = (await (await suite.router.connect(patient).requestPrediction(patient.address, 1, inputHash, blobUri(inputHash))).wait())!;
    const [job] = jobsFromReceipt(receipt, suite.addresses.Operator, suite.addresses.PredictionRouter);
    return { job: job!, inputHash };
  }

  function fulfil(suite: Suite, job: OracleJob, from: HardhatEthersSigner = suite.actors.oracle, data?: string) {
    const resultHash = randomHash();
    return suite.operator
      .connect(from)
      .fulfillOracleRequest2(
        job.requestId, job.payment, job.callbackAddress, job.callbackFunctionId, job.expiration,
        data ?? encodeFulfilment({ requestId: job.requestId, resultHash, resultUri: blobUri(resultHash) }),
        { gasLimit: 2_000_000 },
      );
  }

  describe("oracles (item 16)", function () {
    it("the router owns the Operator: its deployer can no longer post a result through ownerForward or set senders", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { governance } = suite.actors;
      const { job } = await request(suite);
      expect(await suite.operator.owner()).to.equal(suite.addresses.PredictionRouter);
      const forged = suite.router.interface.encodeFunctionData("fulfilPrediction", [job.requestId, 0, randomHash(), "forged", "0x"]);
      await expect(suite.operator.connect(governance).ownerForward(suite.addresses.PredictionRouter, forged)).to.be.revertedWith("Only callable by owner");
      await expect(suite.operator.connect(governance).setAuthorizedSenders([governance.address])).to.be.revertedWith("Cannot set authorized senders");
      expect((await suite.router.getRequest(job.requestId)).status).to.equal(BigInt(RequestStatus.Pending));
    });

    it("removing an oracle (revoke ORACLE_ROLE, then anyone calls removeOracle) stops its fulfilments; the request waits for another oracle", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { governance, oracle, stranger, relayer } = suite.actors;
      const { job } = await request(suite);
      const oracleRole = await suite.identity.ORACLE_ROLE();
      await expect(suite.router.connect(stranger).removeOracle(oracle.address)).to.be.revertedWithCustomError(suite.router, "NotGovernance");

      await (await suite.identity.connect(governance).revokeRole(oracleRole, oracle.address)).wait();
      await expect(suite.router.connect(stranger).removeOracle(oracle.address))
        .to.emit(suite.router, "OracleRemoved")
        .withArgs(oracle.address, stranger.address);
      expect(await suite.operator.isAuthorizedSender(oracle.address)).to.equal(false);
      // Refused by the Operator, so the whole transaction reverts and the commitment stays.
      await expect(fulfil(suite, job)).to.be.revertedWith("Not authorized sender");
      expect((await suite.router.getRequest(job.requestId)).status).to.equal(BigInt(RequestStatus.Pending));

      await expect(suite.router.connect(governance).authoriseOracle(relayer.address))
        .to.be.revertedWithCustomError(suite.router, "MissingRole")
        .withArgs(relayer.address, oracleRole);
      await (await suite.identity.connect(governance).grantRole(oracleRole, relayer.address)).wait();
      await expect(suite.router.connect(stranger).authoriseOracle(relayer.address)).to.be.revertedWithCustomError(suite.router, "NotGovernance");
      await expect(suite.router.connect(governance).authoriseOracle(relayer.address)).to.emit(suite.router, "OracleAuthorised").withArgs(relayer.address);
      expect(await suite.operator.getAuthorizedSenders()).to.deep.equal([relayer.address]);
      await expect(fulfil(suite, job, relayer)).to.emit(suite.router, "PredictionFulfilled");
    });

    it("governance removes an oracle that still holds the role, and drops any sender it added without the role", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { governance, oracle, stranger } = suite.actors;
      const { job } = await request(suite);
      // An authorised sender may set the Operator's senders itself: it adds an accomplice.
      await (await suite.operator.connect(oracle).setAuthorizedSenders([oracle.address, stranger.address])).wait();
      await (await suite.router.connect(governance).removeOracle(oracle.address)).wait();
      expect(await suite.operator.isAuthorizedSender(oracle.address)).to.equal(false);
      expect(await suite.operator.isAuthorizedSender(stranger.address)).to.equal(false);
      // The Operator needs one sender; the router names itself, which authorises nobody.
      expect(await suite.operator.getAuthorizedSenders()).to.deep.equal([suite.addresses.PredictionRouter]);
      await expect(fulfil(suite, job)).to.be.revertedWith("Not authorized sender");
      await expect(fulfil(suite, job, stranger)).to.be.revertedWith("Not authorized sender");
    });

    it("governance withdraws what the Operator earned", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { governance, stranger } = suite.actors;
      const { job } = await request(suite);
      await (await fulfil(suite, job)).wait();
      await expect(suite.router.connect(stranger).withdrawOperatorLink(stranger.address, 1n)).to.be.revertedWithCustomError(suite.router, "NotGovernance");
      await expect(suite.router.connect(governance).withdrawOperatorLink(stranger.address, job.payment))
        .to.emit(suite.router, "OperatorLinkWithdrawn")
        .withArgs(stranger.address, job.payment);
      expect(await suite.link.balanceOf(stranger.address)).to.equal(job.payment);
    });
  });

  describe("stranded requests (item 19)", function () {
    it("governance closes a request whose fulfilment callback reverted, and refunds its sponsor from the Operator's earnings", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { governance, patient, stranger } = suite.actors;
      const { job } = await request(suite);
      const budgetAfterRequest = (await suite.router.accountOf(patient.address)).sponsorBudget;
      // A failure code that does not fit uint16: the callback's ABI decoding reverts, the
      // Operator swallows it, pays itself and forgets the request.
      const undecodable = AbiCoder.defaultAbiCoder().encode(["bytes32", "uint256", "bytes32", "string", "bytes"], [job.requestId, 70_000, randomHash(), "u", "0x"]);
      await expect(fulfil(suite, job, suite.actors.oracle, undecodable)).to.emit(suite.operator, "OracleResponse").withArgs(job.requestId);
      expect((await suite.router.getRequest(job.requestId)).status).to.equal(BigInt(RequestStatus.Pending));
      await networkHelpers.time.increaseTo(job.expiration);
      await expect(suite.router.cancelPrediction(job.requestId, job.payment)).to.be.revertedWith("Params do not match request ID");

      await expect(suite.router.connect(stranger).closeStrandedRequest(job.requestId, job.payment)).to.be.revertedWithCustomError(suite.router, "NotGovernance");
      const pool = await suite.router.poolBalance();
      await expect(suite.router.connect(governance).closeStrandedRequest(job.requestId, job.payment))
        .to.emit(suite.router, "StrandedRequestClosed")
        .withArgs(job.requestId, job.payment)
        .and.to.emit(suite.router, "PredictionCancelled")
        .withArgs(job.requestId, patient.address, governance.address);
      expect((await suite.router.getRequest(job.requestId)).status).to.equal(BigInt(RequestStatus.Cancelled));
      expect((await suite.router.accountOf(patient.address)).sponsorBudget).to.equal(budgetAfterRequest + job.payment);
      expect((await suite.router.accountOf(patient.address)).pendingAsPatient).to.equal(0n);
      expect(await suite.router.poolBalance()).to.equal(pool + job.payment);
      expect(await suite.operator.withdrawable()).to.equal(0n);
    });

    it("closing a request the Operator still holds is an ordinary cancel", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { governance, patient } = suite.actors;
      const { job } = await request(suite);
      await expect(suite.router.connect(governance).closeStrandedRequest(job.requestId, job.payment))
        .to.be.revertedWithCustomError(suite.router, "RequestNotExpired");
      await networkHelpers.time.increaseTo(job.expiration);
      await (await suite.router.connect(governance).closeStrandedRequest(job.requestId, job.payment)).wait();
      expect((await suite.router.accountOf(patient.address)).sponsorBudget).to.equal(DEFAULT_SPONSOR_BUDGET);
      await expect(fulfil(suite, job)).to.be.revertedWith("Must have a valid requestId");
    });
  });

  describe("decided behaviour (item 20)", function () {
    it("accepts a late fulfilment after expiresAt while nobody has cancelled the request", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { job } = await request(suite);
      await networkHelpers.time.increaseTo(job.expiration + 3600n);
      await expect(fulfil(suite, job)).to.emit(suite.router, "PredictionFulfilled");
      expect((await suite.router.getRequest(job.requestId)).status).to.equal(BigInt(RequestStatus.Fulfilled));
    });

    it("a pending result still counts after the patient rotates keys: its request id commits to the key set it was computed under", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient } = suite.actors;
      const [keysHash] = await suite.identity.keySetOf(patient.address);
      const { job, inputHash } = await request(suite);
      expect(job.keysHash).to.equal(keysHash);
      expect(await suite.router.requestIdFor(patient.address, 0, patient.address, 1, inputHash, keysHash)).to.equal(job.requestId);
      await (await suite.identity.connect(patient).rotateKeySet(randomHash(), DEMO_MODEL.paramSetId, "u")).wait();
      await expect(fulfil(suite, job)).to.emit(suite.router, "PredictionFulfilled");
    });
  });

  it("rejects amounts beyond its 96-bit accounting", async function () {
    const suite = await networkHelpers.loadFixture(suiteFixture);
    await expect(suite.router.connect(suite.actors.governance).setFee(1n << 96n))
      .to.be.revertedWithCustomError(suite.router, "ValueTooLarge")
      .withArgs(1n << 96n, (1n << 96n) - 1n);
  });
});
