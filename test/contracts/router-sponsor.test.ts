/**
 * Issue 9 item 14: every prediction request has a sponsor (the requester's LINK deposit, or a
 * budget governance granted to the patient) and pending requests are capped per patient and per
 * requester, so strangers cannot spend the router's LINK and junk cannot crowd out patients.
 */
import { expect } from "chai";
import { network } from "hardhat";
import { AbiCoder } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";

import { DEFAULT_FEE, DEFAULT_SPONSOR_BUDGET, sponsorPatients } from "../../deploy/local.js";
import { encodeFulfilment, jobsFromReceipt, type OracleJob } from "../../deploy/prediction.js";
import { PredictionCodes, RequestStatus } from "../../protocol/codes.js";
import { Category, DAY, Purpose, blobUri, categoryBit, deploySuite, latest, randomHash, registerPatient, type Suite } from "./fixtures.js";

const connection = await network.create();
const { networkHelpers } = connection;
const LINK = 10n ** 18n;
/** `IPredictionRouter.PaymentSource`. */
const PaymentSource = { RequesterDeposit: 0n, SponsorBudget: 1n } as const;

describe("PredictionRouter sponsors and pending caps", function () {
  async function suiteFixture(): Promise<Suite> {
    const suite = await deploySuite(connection);
    await registerPatient(suite, suite.actors.patient);
    await registerPatient(suite, suite.actors.otherPatient);
    return suite;
  }

  async function request(suite: Suite, from: HardhatEthersSigner, patient = from.address): Promise<OracleJob> {
    const inputHash = randomHash();
    const receipt = (await (await suite.router.connect(from).requestPrediction(patient, 1, inputHash, blobUri(inputHash))).wait())!;
    const [job] = jobsFromReceipt(receipt, suite.addresses.Operator, suite.addresses.PredictionRouter);
    return job!;
  }

  async function fulfil(suite: Suite, job: OracleJob, failureCode = 0) {
    const resultHash = randomHash();
    const data = encodeFulfilment({ requestId: job.requestId, failureCode, resultHash, resultUri: blobUri(resultHash) });
    await (await suite.operator
      .connect(suite.actors.oracle)
      .fulfillOracleRequest2(job.requestId, job.payment, job.callbackAddress, job.callbackFunctionId, job.expiration, data, { gasLimit: 2_000_000 })).wait();
  }

  /** A registered patient nobody sponsors. */
  async function unsponsored(suite: Suite, account: HardhatEthersSigner) {
    const keysHash = randomHash();
    await (await suite.identity.connect(account).registerPatient(keysHash, (await suite.identity.keySetOf(suite.actors.patient.address))[1], blobUri(keysHash), randomHash())).wait();
  }

  describe("sponsor", function () {
    it("refuses a request nobody sponsors, so a stranger cannot spend the router's LINK", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { stranger } = suite.actors;
      await unsponsored(suite, stranger);
      const pool = await suite.router.poolBalance();
      await expect(suite.router.connect(stranger).requestPrediction(stranger.address, 1, randomHash(), "u"))
        .to.be.revertedWithCustomError(suite.router, "NoSponsor")
        .withArgs(stranger.address, stranger.address, DEFAULT_FEE);
      expect(await suite.router.poolBalance()).to.equal(pool);
      expect(await suite.link.balanceOf(suite.addresses.PredictionRouter)).to.equal(pool);
    });

    it("pays from the requester's own LINK deposit (ERC-677 transferAndCall) first, never from the pool", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { stranger, governance, relayer } = suite.actors;
      await unsponsored(suite, stranger);
      await (await suite.link.connect(governance).mint(stranger.address, 2n * LINK)).wait();
      await expect(suite.link.connect(stranger).transferAndCall(suite.addresses.PredictionRouter, LINK, "0x"))
        .to.emit(suite.router, "LinkDeposited")
        .withArgs(stranger.address, stranger.address, LINK);
      // A deposit for someone else: one ABI-encoded address as data.
      const forRelayer = AbiCoder.defaultAbiCoder().encode(["address"], [relayer.address]);
      await expect(suite.link.connect(stranger).transferAndCall(suite.addresses.PredictionRouter, LINK, forRelayer))
        .to.emit(suite.router, "LinkDeposited")
        .withArgs(relayer.address, stranger.address, LINK);
      const pool = await suite.router.poolBalance();

      const job = await request(suite, stranger);
      expect(await suite.router.paymentSourceOf(job.requestId)).to.equal(PaymentSource.RequesterDeposit);
      expect((await suite.router.accountOf(stranger.address)).deposit).to.equal(LINK - DEFAULT_FEE);
      expect(await suite.router.poolBalance()).to.equal(pool);

      // Governance draws on the pool only; the depositor withdraws its own.
      await expect(suite.router.connect(governance).withdrawLink(governance.address, pool + 1n))
        .to.be.revertedWithCustomError(suite.router, "InsufficientLink")
        .withArgs(pool, pool + 1n);
      await expect(suite.router.connect(stranger).withdrawDeposit(stranger.address, LINK))
        .to.be.revertedWithCustomError(suite.router, "InsufficientDeposit")
        .withArgs(stranger.address, LINK - DEFAULT_FEE, LINK);
      await expect(suite.router.connect(stranger).withdrawDeposit(stranger.address, LINK - DEFAULT_FEE))
        .to.emit(suite.router, "DepositWithdrawn")
        .withArgs(stranger.address, stranger.address, LINK - DEFAULT_FEE);
      expect(await suite.link.balanceOf(stranger.address)).to.equal(LINK - DEFAULT_FEE);
      expect(await suite.router.poolBalance()).to.equal(pool);
    });

    it("accepts deposits only from the LINK token, with empty or one-address data", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { stranger, governance } = suite.actors;
      await expect(suite.router.connect(stranger).onTokenTransfer(stranger.address, LINK, "0x"))
        .to.be.revertedWithCustomError(suite.router, "OnlyLinkToken")
        .withArgs(stranger.address);
      await (await suite.link.connect(governance).mint(stranger.address, LINK)).wait();
      await expect(suite.link.connect(stranger).transferAndCall(suite.addresses.PredictionRouter, LINK, "0x0102"))
        .to.be.revertedWithCustomError(suite.router, "InvalidDepositData")
        .withArgs(2);
    });

    it("draws a sponsored patient's requests from its own budget: junk that fails costs that budget, not other patients'", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, otherPatient, governance } = suite.actors;
      await sponsorPatients(suite, [patient.address], 2n * DEFAULT_FEE);
      const pool = await suite.router.poolBalance();
      for (let i = 0; i < 2; i++) {
        const job = await request(suite, patient);
        expect(await suite.router.paymentSourceOf(job.requestId)).to.equal(PaymentSource.SponsorBudget);
        await fulfil(suite, job, PredictionCodes.INPUT_UNAVAILABLE);
      }
      await expect(suite.router.connect(patient).requestPrediction(patient.address, 1, randomHash(), "u"))
        .to.be.revertedWithCustomError(suite.router, "NoSponsor")
        .withArgs(patient.address, patient.address, DEFAULT_FEE);
      expect(await suite.router.poolBalance()).to.equal(pool - 2n * DEFAULT_FEE);
      expect((await suite.router.accountOf(otherPatient.address)).sponsorBudget).to.equal(DEFAULT_SPONSOR_BUDGET);
      await expect(suite.router.connect(patient).sponsorPatients([patient.address], 1n)).to.be.revertedWithCustomError(suite.router, "NotGovernance");
      await expect(suite.router.connect(governance).sponsorPatients([patient.address], DEFAULT_FEE))
        .to.emit(suite.router, "SponsorBudgetSet")
        .withArgs(patient.address, DEFAULT_FEE);
      await request(suite, patient);
    });

    it("credits a cancelled request's LINK back to whoever paid it", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, stranger, governance } = suite.actors;
      await unsponsored(suite, stranger);
      await (await suite.link.connect(governance).mint(stranger.address, LINK)).wait();
      await (await suite.link.connect(stranger).transferAndCall(suite.addresses.PredictionRouter, LINK, "0x")).wait();
      const sponsored = await request(suite, patient);
      const paidByDeposit = await request(suite, stranger);
      await networkHelpers.time.increaseTo(paidByDeposit.expiration);
      await (await suite.router.cancelPrediction(sponsored.requestId, sponsored.payment)).wait();
      await (await suite.router.cancelPrediction(paidByDeposit.requestId, paidByDeposit.payment)).wait();
      expect((await suite.router.accountOf(patient.address)).sponsorBudget).to.equal(DEFAULT_SPONSOR_BUDGET);
      expect((await suite.router.accountOf(stranger.address)).deposit).to.equal(LINK);
      expect((await suite.router.accountOf(patient.address)).pendingAsPatient).to.equal(0n);
    });
  });

  describe("pending caps", function () {
    it("caps pending requests per patient and per requester; a settled request frees its place", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, otherPatient, provider, governance, stranger } = suite.actors;
      await expect(suite.router.connect(stranger).setPendingCaps(1, 1)).to.be.revertedWithCustomError(suite.router, "NotGovernance");
      await expect(suite.router.connect(governance).setPendingCaps(2, 3)).to.emit(suite.router, "PendingCapsChanged").withArgs(2, 3);
      expect(await suite.router.pendingCaps()).to.deep.equal([2n, 3n]);
      const now = await latest(connection);
      for (const p of [patient, otherPatient]) {
        await (await suite.consent.connect(p).grantConsent(provider.address, Purpose.TREATDS, categoryBit(Category.PREDICTION), 0, now + DAY)).wait();
      }

      const first = await request(suite, provider, patient.address);
      await request(suite, patient);
      await expect(suite.router.connect(provider).requestPrediction(patient.address, 1, randomHash(), "u"))
        .to.be.revertedWithCustomError(suite.router, "TooManyPending")
        .withArgs(patient.address, 2, 2);
      await request(suite, provider, otherPatient.address);
      await request(suite, provider, otherPatient.address);
      // The provider now has three pending (one for the patient, two for the other patient).
      await (await suite.router.connect(governance).setPendingCaps(5, 3)).wait();
      await expect(suite.router.connect(provider).requestPrediction(patient.address, 1, randomHash(), "u"))
        .to.be.revertedWithCustomError(suite.router, "TooManyPending")
        .withArgs(provider.address, 3, 3);
      expect((await suite.router.accountOf(provider.address)).pendingAsRequester).to.equal(3n);

      await fulfil(suite, first);
      expect((await suite.router.accountOf(provider.address)).pendingAsRequester).to.equal(2n);
      expect((await suite.router.accountOf(patient.address)).pendingAsPatient).to.equal(1n);
      const again = await request(suite, provider, patient.address);
      expect((await suite.router.getRequest(again.requestId)).status).to.equal(BigInt(RequestStatus.Pending));
    });
  });
});
