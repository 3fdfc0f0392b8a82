import { expect } from "chai";
import { network } from "hardhat";
import { randomBytes, sha256 } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";

import { DEFAULT_FEE, DEFAULT_JOB_ID } from "../../deploy/local.js";
import { encodeFulfilment, jobsFromReceipt, type Fulfilment, type OracleJob } from "../../deploy/prediction.js";
import { PredictionCodes, RequestStatus } from "../../protocol/codes.js";
import {
  Category,
  DAY,
  DEMO_MODEL,
  OTHER_PARAM_SET,
  Purpose,
  blobUri,
  categoryBit,
  deploySuite,
  latest,
  randomHash,
  registerPatient,
  type Suite,
} from "./fixtures.js";

const connection = await network.create();
const { ethers, networkHelpers } = connection;
const PREDICTION = categoryBit(Category.PREDICTION);

describe("PredictionRouter", function () {
  async function suiteFixture(): Promise<Suite> {
    const suite = await deploySuite(connection, true);
    await registerPatient(suite, suite.actors.patient);
    return suite;
  }
  async function offChainOnlyFixture(): Promise<Suite> {
    const suite = await deploySuite(connection, false);
    await registerPatient(suite, suite.actors.patient);
    return suite;
  }

  async function request(suite: Suite, from: HardhatEthersSigner, patient = suite.actors.patient.address, modelId = 1) {
    const inputHash = randomHash();
    const tx = await suite.router.connect(from).requestPrediction(patient, modelId, inputHash, blobUri(inputHash));
    const receipt = (await tx.wait())!;
    const [job] = jobsFromReceipt(receipt, suite.addresses.Operator, suite.addresses.PredictionRouter);
    if (!job) throw new Error("no job in the request receipt");
    return { job, inputHash, receipt, tx };
  }

  function fulfil(suite: Suite, job: OracleJob, f: Omit<Fulfilment, "requestId"> = {}, from = suite.actors.oracle) {
    const resultHash = f.resultHash ?? randomHash();
    const data = encodeFulfilment({ requestId: job.requestId, resultUri: blobUri(resultHash), ...f, resultHash });
    return suite.operator
      .connect(from)
      .fulfillOracleRequest2(job.requestId, job.payment, job.callbackAddress, job.callbackFunctionId, job.expiration, data, { gasLimit: 2_000_000 });
  }

  async function grantPrediction(suite: Suite, grantee: string, categories = PREDICTION) {
    const now = await latest(connection);
    await (await suite.consent.connect(suite.actors.patient).grantConsent(grantee, Purpose.TREATDS, categories, 0, now + DAY)).wait();
  }

  describe("requestPrediction", function () {
    it("sends a Chainlink request paid from the router's LINK; the logs hold everything the oracle needs", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient } = suite.actors;
      const linkBefore = await suite.link.balanceOf(suite.addresses.PredictionRouter);
      const { job, inputHash, receipt, tx } = await request(suite, patient);
      const block = await ethers.provider.getBlock(receipt.blockNumber);
      const expiresAt = BigInt(block!.timestamp) + 300n;
      const [keysHash] = await suite.identity.keySetOf(patient.address);

      expect(job).to.deep.equal({
        requestId: job.requestId,
        specId: DEFAULT_JOB_ID,
        payment: DEFAULT_FEE,
        callbackAddress: suite.addresses.PredictionRouter,
        callbackFunctionId: suite.router.interface.getFunction("fulfilPrediction").selector,
        expiration: expiresAt,
        patient: patient.address,
        requester: patient.address,
        modelId: 1n,
        inputHash,
        inputUri: blobUri(inputHash),
        keysHash,
      });
      await expect(tx)
        .to.emit(suite.router, "PredictionRequested")
        .withArgs(job.requestId, patient.address, 1, patient.address, inputHash, blobUri(inputHash), keysHash, DEFAULT_FEE, expiresAt);
      expect(await suite.link.balanceOf(suite.addresses.PredictionRouter)).to.equal(linkBefore - DEFAULT_FEE);

      const state = await suite.router.getRequest(job.requestId);
      expect(state.patient).to.equal(patient.address);
      expect(state.requester).to.equal(patient.address);
      expect(state.modelId).to.equal(1n);
      expect(state.status).to.equal(BigInt(RequestStatus.Pending));
      expect(state.expiresAt).to.equal(expiresAt);
      expect(state.inputHash).to.equal(inputHash);
      expect(state.resultHash).to.equal(ethers.ZeroHash);
    });

    it("lets a grantee with live TREATDS consent for the PREDICTION category request, and nobody else", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, provider, stranger } = suite.actors;
      const inputHash = randomHash();
      const ask = (from: HardhatEthersSigner) => suite.router.connect(from).requestPrediction(patient.address, 1, inputHash, "u");
      await expect(ask(stranger)).to.be.revertedWithCustomError(suite.router, "NotAuthorisedToRequest").withArgs(stranger.address, patient.address);
      // Wrong purpose or wrong category: still no.
      const now = await latest(connection);
      await (await suite.consent.connect(patient).grantConsent(provider.address, Purpose.TREAT, PREDICTION, 0, now + DAY)).wait();
      await expect(ask(provider)).to.be.revertedWithCustomError(suite.router, "NotAuthorisedToRequest");
      await grantPrediction(suite, provider.address, categoryBit(Category.LABORATORY));
      await expect(ask(provider)).to.be.revertedWithCustomError(suite.router, "NotAuthorisedToRequest");
      await grantPrediction(suite, provider.address);
      const { job } = await request(suite, provider);
      expect(job.requester).to.equal(provider.address);
      expect((await suite.router.getRequest(job.requestId)).requester).to.equal(provider.address);
    });

    it("checks the input, the patient's registration, the model and the parameter set", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, otherPatient, governance } = suite.actors;
      const r = suite.router.connect(patient);
      await expect(r.requestPrediction(patient.address, 1, ethers.ZeroHash, "u")).to.be.revertedWithCustomError(r, "InvalidInput");
      await expect(r.requestPrediction(patient.address, 1, randomHash(), "")).to.be.revertedWithCustomError(r, "InvalidInput");
      await expect(suite.router.connect(otherPatient).requestPrediction(otherPatient.address, 1, randomHash(), "u"))
        .to.be.revertedWithCustomError(r, "PatientNotRegistered")
        .withArgs(otherPatient.address);
      await expect(r.requestPrediction(patient.address, 7, randomHash(), "u")).to.be.revertedWithCustomError(r, "ModelNotActive").withArgs(7);
      await (await suite.identity.connect(patient).rotateKeySet(randomHash(), OTHER_PARAM_SET, "u")).wait();
      await expect(r.requestPrediction(patient.address, 1, randomHash(), "u"))
        .to.be.revertedWithCustomError(r, "ParameterSetMismatch")
        .withArgs(OTHER_PARAM_SET, DEMO_MODEL.paramSetId);
      await (await suite.identity.connect(patient).rotateKeySet(randomHash(), DEMO_MODEL.paramSetId, "u")).wait();
      await (await suite.models.connect(governance).retireModel(1)).wait();
      await expect(r.requestPrediction(patient.address, 1, randomHash(), "u")).to.be.revertedWithCustomError(r, "ModelNotActive").withArgs(1);
    });

    it("refuses a sponsored request when the router's pool holds too little LINK", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, governance } = suite.actors;
      const balance = await suite.link.balanceOf(suite.addresses.PredictionRouter);
      await (await suite.router.connect(governance).withdrawLink(governance.address, balance - 1n)).wait();
      await expect(suite.router.connect(patient).requestPrediction(patient.address, 1, randomHash(), "u"))
        .to.be.revertedWithCustomError(suite.router, "InsufficientLink")
        .withArgs(1n, DEFAULT_FEE);
    });
  });

  describe("fulfilment", function () {
    it("records the result hash when the authorised oracle fulfils through the Operator, and pays it", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient } = suite.actors;
      const { job } = await request(suite, patient);
      const resultHash = randomHash();
      const withdrawableBefore = await suite.operator.withdrawable();
      await expect(fulfil(suite, job, { resultHash }))
        .to.emit(suite.router, "PredictionFulfilled")
        .withArgs(job.requestId, patient.address, resultHash, blobUri(resultHash), false);
      const state = await suite.router.getRequest(job.requestId);
      expect(state.status).to.equal(BigInt(RequestStatus.Fulfilled));
      expect(state.resultHash).to.equal(resultHash);
      expect(await suite.operator.withdrawable()).to.equal(withdrawableBefore + DEFAULT_FEE);
    });

    it("refuses fulfilment by a non-oracle, twice, or for an unknown id", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, stranger } = suite.actors;
      const { job } = await request(suite, patient);
      // Not an authorised sender of the Operator.
      await expect(fulfil(suite, job, {}, stranger)).to.be.revertedWith("Not authorized sender");
      // Straight to the router, bypassing the Operator.
      await expect(suite.router.connect(stranger).fulfilPrediction(job.requestId, 0, randomHash(), "u", "0x"))
        .to.be.revertedWithCustomError(suite.router, "OnlyOperator")
        .withArgs(stranger.address);
      // Wrong payment or expiration: the Operator's commitment does not match.
      await expect(fulfil(suite, { ...job, payment: job.payment + 1n })).to.be.revertedWith("Params do not match request ID");
      await (await fulfil(suite, job)).wait();
      // Twice: the Operator no longer knows the id, and the router no longer expects it.
      await expect(fulfil(suite, job)).to.be.revertedWith("Must have a valid requestId");
      await networkHelpers.impersonateAccount(suite.addresses.Operator);
      await networkHelpers.setBalance(suite.addresses.Operator, 10n ** 18n);
      const asOperator = await ethers.getSigner(suite.addresses.Operator);
      await expect(suite.router.connect(asOperator).fulfilPrediction(job.requestId, 0, randomHash(), "u", "0x"))
        .to.be.revertedWithCustomError(suite.router, "RequestNotPending")
        .withArgs(job.requestId, RequestStatus.Fulfilled);
      // Unknown id, through the Operator and directly.
      const unknown = { ...job, requestId: randomHash() };
      await expect(fulfil(suite, unknown)).to.be.revertedWith("Must have a valid requestId");
      await expect(suite.router.connect(asOperator).fulfilPrediction(unknown.requestId, 0, randomHash(), "u", "0x"))
        .to.be.revertedWithCustomError(suite.router, "RequestNotPending")
        .withArgs(unknown.requestId, RequestStatus.None);
      expect((await suite.router.getRequest(unknown.requestId)).status).to.equal(BigInt(RequestStatus.None));
    });

    it("records an oracle-reported failure with its reason code", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient } = suite.actors;
      const { job } = await request(suite, patient);
      await expect(fulfil(suite, job, { failureCode: PredictionCodes.INPUT_HASH_MISMATCH, resultHash: ethers.ZeroHash }))
        .to.emit(suite.router, "PredictionFailed")
        .withArgs(job.requestId, patient.address, PredictionCodes.INPUT_HASH_MISMATCH);
      const state = await suite.router.getRequest(job.requestId);
      expect(state.status).to.equal(BigInt(RequestStatus.Failed));
      expect(state.failureCode).to.equal(BigInt(PredictionCodes.INPUT_HASH_MISMATCH));
      expect(state.resultHash).to.equal(ethers.ZeroHash);
    });

    it("fails a success without a result hash", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { job } = await request(suite, suite.actors.patient);
      await expect(fulfil(suite, job, { resultHash: ethers.ZeroHash }))
        .to.emit(suite.router, "PredictionFailed")
        .withArgs(job.requestId, suite.actors.patient.address, PredictionCodes.EMPTY_RESULT);
    });

    it("stores the hash of a result ciphertext posted in calldata, after checking it", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient } = suite.actors;
      const ciphertext = randomBytes(32 * 1024);
      const first = await request(suite, patient);
      await expect(fulfil(suite, first.job, { resultHash: sha256(ciphertext), resultUri: "", resultCiphertext: ciphertext }))
        .to.emit(suite.router, "PredictionFulfilled")
        .withArgs(first.job.requestId, patient.address, sha256(ciphertext), "", true);
      expect((await suite.router.getRequest(first.job.requestId)).resultHash).to.equal(sha256(ciphertext));

      const second = await request(suite, patient);
      await expect(fulfil(suite, second.job, { resultHash: randomHash(), resultCiphertext: ciphertext }))
        .to.emit(suite.router, "PredictionFailed")
        .withArgs(second.job.requestId, patient.address, PredictionCodes.RESULT_HASH_MISMATCH);
    });

    it("rejects a posted ciphertext where the deployment keeps results off-chain", async function () {
      const suite = await networkHelpers.loadFixture(offChainOnlyFixture);
      expect(await suite.router.onChainResults()).to.equal(false);
      const ciphertext = randomBytes(64);
      const { job } = await request(suite, suite.actors.patient);
      await expect(fulfil(suite, job, { resultHash: sha256(ciphertext), resultCiphertext: ciphertext }))
        .to.emit(suite.router, "PredictionFailed")
        .withArgs(job.requestId, suite.actors.patient.address, PredictionCodes.ON_CHAIN_RESULTS_DISABLED);
      expect((await suite.router.getRequest(job.requestId)).status).to.equal(BigInt(RequestStatus.Failed));
    });
  });

  describe("consent revoked before fulfilment", function () {
    it("refuses the result when the requester's consent was revoked after the request", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, provider } = suite.actors;
      await grantPrediction(suite, provider.address);
      const { job } = await request(suite, provider);
      await (await suite.consent.connect(patient).revokeConsent(provider.address, Purpose.TREATDS)).wait();
      await expect(fulfil(suite, job))
        .to.emit(suite.router, "PredictionRefused")
        .withArgs(job.requestId, patient.address, provider.address, PredictionCodes.CONSENT_REVOKED);
      const state = await suite.router.getRequest(job.requestId);
      expect(state.status).to.equal(BigInt(RequestStatus.Refused));
      expect(state.resultHash).to.equal(ethers.ZeroHash);
    });

    it("refuses the result when consent is revoked in the same block as the request", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, provider } = suite.actors;
      await grantPrediction(suite, provider.address);
      const inputHash = randomHash();
      await connection.provider.request({ method: "evm_setAutomine", params: [false] });
      try {
        const requestTx = await suite.router.connect(provider).requestPrediction(patient.address, 1, inputHash, "u", { gasLimit: 1_000_000 });
        const revokeTx = await suite.consent.connect(patient).revokeAllConsents({ gasLimit: 100_000 });
        await networkHelpers.mine(1);
        const [requestReceipt, revokeReceipt] = [await requestTx.wait(), await revokeTx.wait()];
        expect(requestReceipt!.blockNumber).to.equal(revokeReceipt!.blockNumber);
        expect(requestReceipt!.status).to.equal(1);
        const [job] = jobsFromReceipt(requestReceipt!, suite.addresses.Operator, suite.addresses.PredictionRouter);
        await connection.provider.request({ method: "evm_setAutomine", params: [true] });
        await expect(fulfil(suite, job!)).to.emit(suite.router, "PredictionRefused");
        expect((await suite.router.getRequest(job!.requestId)).status).to.equal(BigInt(RequestStatus.Refused));
      } finally {
        await connection.provider.request({ method: "evm_setAutomine", params: [true] });
      }
    });

    it("rejects the request itself when the revocation comes first in the same block", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, provider } = suite.actors;
      await grantPrediction(suite, provider.address);
      await connection.provider.request({ method: "evm_setAutomine", params: [false] });
      try {
        const revokeTx = await suite.consent.connect(patient).revokeConsent(provider.address, Purpose.TREATDS, { gasLimit: 100_000 });
        const requestTx = await suite.router.connect(provider).requestPrediction(patient.address, 1, randomHash(), "u", { gasLimit: 1_000_000 });
        await networkHelpers.mine(1);
        expect((await revokeTx.wait())!.status).to.equal(1);
        const receipt = await ethers.provider.getTransactionReceipt(requestTx.hash);
        expect(receipt!.status).to.equal(0);
        expect(receipt!.blockNumber).to.equal((await revokeTx.wait())!.blockNumber);
      } finally {
        await connection.provider.request({ method: "evm_setAutomine", params: [true] });
      }
    });

    it("does not check consent for the patient's own request", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient } = suite.actors;
      const { job } = await request(suite, patient);
      await (await suite.consent.connect(patient).revokeAllConsents()).wait();
      await expect(fulfil(suite, job)).to.emit(suite.router, "PredictionFulfilled");
    });
  });

  describe("cancellation", function () {
    it("cancels an expired, unfulfilled request and returns the LINK to the router", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { patient, stranger } = suite.actors;
      const { job } = await request(suite, patient);
      await expect(suite.router.connect(stranger).cancelPrediction(job.requestId, job.payment))
        .to.be.revertedWithCustomError(suite.router, "RequestNotExpired")
        .withArgs(job.requestId, job.expiration);
      await networkHelpers.time.increaseTo(job.expiration);
      await expect(suite.router.connect(stranger).cancelPrediction(job.requestId, job.payment + 1n)).to.be.revertedWith("Params do not match request ID");
      const before = await suite.link.balanceOf(suite.addresses.PredictionRouter);
      await expect(suite.router.connect(stranger).cancelPrediction(job.requestId, job.payment))
        .to.emit(suite.router, "PredictionCancelled")
        .withArgs(job.requestId, patient.address, stranger.address);
      expect(await suite.link.balanceOf(suite.addresses.PredictionRouter)).to.equal(before + job.payment);
      expect((await suite.router.getRequest(job.requestId)).status).to.equal(BigInt(RequestStatus.Cancelled));
      // A late fulfilment finds nothing to fulfil.
      await expect(fulfil(suite, job)).to.be.revertedWith("Must have a valid requestId");
      await expect(suite.router.cancelPrediction(job.requestId, job.payment))
        .to.be.revertedWithCustomError(suite.router, "RequestNotPending")
        .withArgs(job.requestId, RequestStatus.Cancelled);
    });

    it("cannot cancel a fulfilled or unknown request", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { job } = await request(suite, suite.actors.patient);
      await (await fulfil(suite, job)).wait();
      await networkHelpers.time.increase(600);
      await expect(suite.router.cancelPrediction(job.requestId, job.payment))
        .to.be.revertedWithCustomError(suite.router, "RequestNotPending")
        .withArgs(job.requestId, RequestStatus.Fulfilled);
      await expect(suite.router.cancelPrediction(randomHash(), job.payment)).to.be.revertedWithCustomError(suite.router, "RequestNotPending");
    });
  });

  describe("governance", function () {
    it("sets fee and job id and withdraws LINK; governance only", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const { governance, stranger, patient } = suite.actors;
      const jobId = randomHash();
      await expect(suite.router.connect(stranger).setFee(1n)).to.be.revertedWithCustomError(suite.router, "NotGovernance").withArgs(stranger.address);
      await expect(suite.router.connect(stranger).setJobId(jobId)).to.be.revertedWithCustomError(suite.router, "NotGovernance");
      await expect(suite.router.connect(stranger).withdrawLink(stranger.address, 1n)).to.be.revertedWithCustomError(suite.router, "NotGovernance");
      await expect(suite.router.connect(governance).setFee(5n)).to.emit(suite.router, "FeeChanged").withArgs(DEFAULT_FEE, 5n);
      await expect(suite.router.connect(governance).setJobId(jobId)).to.emit(suite.router, "JobIdChanged").withArgs(DEFAULT_JOB_ID, jobId);
      expect(await suite.router.fee()).to.equal(5n);
      expect(await suite.router.jobId()).to.equal(jobId);
      const { job } = await request(suite, patient);
      expect(job.payment).to.equal(5n);
      expect(job.specId).to.equal(jobId);
      await expect(suite.router.connect(governance).withdrawLink(ethers.ZeroAddress, 1n)).to.be.revertedWithCustomError(suite.router, "ZeroAddress");
      await expect(suite.router.connect(governance).withdrawLink(stranger.address, 7n))
        .to.emit(suite.router, "LinkWithdrawn")
        .withArgs(stranger.address, 7n);
      expect(await suite.link.balanceOf(stranger.address)).to.equal(7n);
    });

    it("reports its wiring", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      expect(await suite.router.operator()).to.equal(suite.addresses.Operator);
      expect(await suite.router.linkToken()).to.equal(suite.addresses.LinkToken);
      expect(await suite.router.consentManager()).to.equal(suite.addresses.ConsentManager);
      expect(await suite.router.modelRegistry()).to.equal(suite.addresses.ModelRegistry);
      expect(await suite.router.identityRegistry()).to.equal(suite.addresses.IdentityRegistry);
      expect(await suite.operator.isAuthorizedSender(suite.actors.oracle.address)).to.equal(true);
    });

    it("refuses zero addresses at construction", async function () {
      const suite = await networkHelpers.loadFixture(suiteFixture);
      const a = suite.addresses;
      const args = [a.IdentityRegistry, a.ConsentManager, a.ModelRegistry, a.PrivacyGroups, a.LinkToken, a.Operator, DEFAULT_JOB_ID, DEFAULT_FEE, false];
      const factory = await ethers.getContractFactory("PredictionRouter");
      for (const i of [0, 1, 2, 3, 4, 5]) {
        const broken = [...args];
        broken[i] = ethers.ZeroAddress;
        await expect(factory.deploy(...(broken as Parameters<typeof factory.deploy>))).to.be.revertedWithCustomError(factory, "ZeroAddress");
      }
    });
  });
});
