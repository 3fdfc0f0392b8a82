import { expect } from "chai";
import { network } from "hardhat";
import { AbiCoder, Wallet, keccak256, solidityPacked } from "ethers";
import { Group } from "@semaphore-protocol/group";
import { Identity } from "@semaphore-protocol/identity";
import { generateProof } from "@semaphore-protocol/proof";

type SemaphoreProof = Awaited<ReturnType<typeof generateProof>>;

import { encodeFulfilment, jobsFromReceipt } from "../../deploy/prediction.js";
import { releaseProver } from "../../protocol/zk/prove.js";
import { RequestStatus } from "../../protocol/codes.js";
import { blobUri, deploySuite, randomHash, registerPatient, type Suite } from "./fixtures.js";

// Anonymous prediction requests (PredictionRouter.requestPredictionAnonymous) and the patients'
// group they prove membership of (PrivacyGroups), with real Groth16 proofs from the pinned
// depth-20 circuit files. The scope and message are recomputed here from the documented formulas,
// independently of protocol/zk, so a drift on either side fails.

const connection = await network.create();
const { ethers, networkHelpers } = connection;
const coder = AbiCoder.defaultAbiCoder();
const ARTIFACTS = { wasm: "circuits/semaphore/semaphore-20.wasm", zkey: "circuits/semaphore/semaphore-20.zkey" };
const DOMAIN = "medcipher.predict.v1";
const EPOCH_SECONDS = 86_400n;

type AnonymousRequest = {
  modelId: number;
  epoch: number;
  slot: number;
  accessKey: string;
  inputHash: string;
  keysHash: string;
  inputUri: string;
};

function scopeOf(chainId: bigint, router: string, epoch: number, slot: number): bigint {
  return BigInt(keccak256(coder.encode(["string", "uint256", "address", "uint32", "uint16"], [DOMAIN, chainId, router, epoch, slot]))) >> 8n;
}

function messageOf(chainId: bigint, router: string, r: AnonymousRequest): bigint {
  const encoded = coder.encode(
    ["string", "uint256", "address", "uint32", "uint32", "uint16", "address", "bytes32", "bytes32", "string"],
    [DOMAIN, chainId, router, r.modelId, r.epoch, r.slot, r.accessKey, r.inputHash, r.keysHash, r.inputUri],
  );
  return BigInt(keccak256(encoded)) >> 8n;
}

function requestIdOf(router: string, nullifier: bigint): string {
  const nonce = keccak256(coder.encode(["string", "uint256"], ["medcipher.anonymous", nullifier]));
  return keccak256(solidityPacked(["address", "uint256"], [router, nonce]));
}

/** The group as a client rebuilds it from the chain: every commitment, in order. */
async function groupOnChain(suite: Suite): Promise<Group> {
  const groupId = await suite.groups.patientGroupId();
  const members: bigint[] = [];
  for (const log of await suite.semaphore.queryFilter(suite.semaphore.filters.MemberAdded(groupId))) members.push(log.args.identityCommitment);
  const group = new Group(members);
  for (const log of await suite.semaphore.queryFilter(suite.semaphore.filters.MemberRemoved(groupId))) {
    group.removeMember(group.indexOf(log.args.identityCommitment));
  }
  return group;
}

function toSolidity(proof: SemaphoreProof) {
  return {
    merkleTreeDepth: proof.merkleTreeDepth,
    merkleTreeRoot: proof.merkleTreeRoot,
    nullifier: proof.nullifier,
    message: proof.message,
    scope: proof.scope,
    points: proof.points,
  };
}

describe("anonymous prediction requests", function () {
  // snarkjs keeps its curve's worker threads alive after the last proof.
  after(releaseProver);
  const alice = new Identity("alice's semaphore secret");
  const bob = new Identity("bob's semaphore secret");

  async function fixture() {
    const suite = await deploySuite(connection, false);
    const { patient, otherPatient } = suite.actors;
    await registerPatient(suite, patient);
    await registerPatient(suite, otherPatient);
    await (await suite.groups.connect(patient).joinPatientGroup(alice.commitment)).wait();
    await (await suite.groups.connect(otherPatient).joinPatientGroup(bob.commitment)).wait();
    return suite;
  }

  async function anonymousRequest(suite: Suite, overrides: Partial<AnonymousRequest> = {}): Promise<AnonymousRequest> {
    const inputHash = randomHash();
    return {
      modelId: 1,
      epoch: Number(await suite.router.anonymousEpoch()),
      slot: 0,
      accessKey: Wallet.createRandom().address,
      inputHash,
      keysHash: randomHash(),
      inputUri: blobUri(inputHash),
      ...overrides,
    };
  }

  async function prove(suite: Suite, identity: Identity, request: AnonymousRequest, options: { group?: Group; scope?: bigint; message?: bigint } = {}) {
    const router = suite.addresses.PredictionRouter;
    const group = options.group ?? (await groupOnChain(suite));
    const proof = await generateProof(
      identity,
      group,
      options.message ?? messageOf(suite.chainId, router, request),
      options.scope ?? scopeOf(suite.chainId, router, request.epoch, request.slot),
      20,
      ARTIFACTS,
    );
    return toSolidity(proof);
  }

  it("computes scope, message and request id as documented", async function () {
    const suite = await networkHelpers.loadFixture(fixture);
    const router = suite.addresses.PredictionRouter;
    const request = await anonymousRequest(suite, { slot: 3 });
    expect(await suite.router.anonymousScope(request.epoch, request.slot)).to.equal(scopeOf(suite.chainId, router, request.epoch, 3));
    expect(await suite.router.anonymousMessage(request)).to.equal(messageOf(suite.chainId, router, request));
    expect(await suite.router.anonymousRequestIdFor(12345n)).to.equal(requestIdOf(router, 12345n));
    const now = BigInt((await ethers.provider.getBlock("latest"))!.timestamp);
    expect(await suite.router.anonymousEpoch()).to.equal(now / EPOCH_SECONDS);
  });

  it("takes a relayed request from a member without naming the patient, and fulfils it", async function () {
    const suite = await networkHelpers.loadFixture(fixture);
    const { relayer, oracle, patient } = suite.actors;
    const request = await anonymousRequest(suite);
    const proof = await prove(suite, alice, request);
    const expectedId = requestIdOf(suite.addresses.PredictionRouter, BigInt(proof.nullifier));
    expect(await suite.router.checkAnonymousRequest(request, proof)).to.equal(expectedId);

    const poolBefore = await suite.router.poolBalance();
    const tx = await suite.router.connect(relayer).requestPredictionAnonymous(request, proof);
    const receipt = (await tx.wait())!;
    await expect(tx)
      .to.emit(suite.router, "AnonymousPredictionRequested")
      .withArgs(expectedId, request.modelId, request.inputHash, request.inputUri, request.keysHash, request.accessKey, await suite.router.fee(), (v: bigint) => v > 0n);
    expect(await suite.router.poolBalance()).to.equal(poolBefore - (await suite.router.fee()));
    // Nothing in the receipt carries a patient's address.
    const patients = [patient.address, suite.actors.otherPatient.address].map((a) => a.slice(2).toLowerCase());
    for (const log of receipt.logs) {
      const text = (log.topics.join("") + log.data).toLowerCase();
      for (const p of patients) expect(text).not.to.include(p);
    }
    const stored = await suite.router.getRequest(expectedId);
    expect(stored.patient).to.equal(ethers.ZeroAddress);
    expect(stored.requester).to.equal(ethers.ZeroAddress);
    expect(stored.status).to.equal(RequestStatus.Pending);
    expect(await suite.router.accessKeyOf(expectedId)).to.equal(request.accessKey);
    expect(await suite.router.paymentSourceOf(expectedId)).to.equal(2n); // AnonymousPool

    const [job] = jobsFromReceipt(receipt, suite.addresses.Operator, suite.addresses.PredictionRouter);
    expect(job!.requestId).to.equal(expectedId);
    const resultHash = randomHash();
    const data = encodeFulfilment({ requestId: job!.requestId, resultHash, resultUri: blobUri(resultHash) });
    const fulfil = suite.operator
      .connect(oracle)
      .fulfillOracleRequest2(job!.requestId, job!.payment, job!.callbackAddress, job!.callbackFunctionId, job!.expiration, data, { gasLimit: 2_000_000 });
    await expect(fulfil).to.emit(suite.router, "PredictionFulfilled").withArgs(expectedId, ethers.ZeroAddress, resultHash, blobUri(resultHash), false);
    expect((await suite.router.getRequest(expectedId)).status).to.equal(RequestStatus.Fulfilled);
  });

  it("refuses a replayed nullifier, and a front-runner cannot change what was asked", async function () {
    const suite = await networkHelpers.loadFixture(fixture);
    const { relayer, stranger } = suite.actors;
    const request = await anonymousRequest(suite);
    const proof = await prove(suite, alice, request);
    // A front-runner who copies the proof but points the input elsewhere breaks the message.
    await expect(suite.router.connect(stranger).requestPredictionAnonymous({ ...request, inputUri: "medcipher://elsewhere" }, proof))
      .to.be.revertedWithCustomError(suite.router, "MessageMismatch");
    await (await suite.router.connect(relayer).requestPredictionAnonymous(request, proof)).wait();
    const requestId = requestIdOf(suite.addresses.PredictionRouter, BigInt(proof.nullifier));
    await expect(suite.router.connect(stranger).requestPredictionAnonymous(request, proof))
      .to.be.revertedWithCustomError(suite.router, "NullifierSpent")
      .withArgs(proof.nullifier, requestId);
    // Another request in the same slot needs the same nullifier: one per patient, epoch and slot.
    const again = await anonymousRequest(suite);
    await expect(suite.router.connect(relayer).requestPredictionAnonymous(again, await prove(suite, alice, again)))
      .to.be.revertedWithCustomError(suite.router, "NullifierSpent");
  });

  it("limits each patient to the epoch's slots", async function () {
    const suite = await networkHelpers.loadFixture(fixture);
    await (await suite.router.connect(suite.actors.governance).setAnonymousRequestsPerEpoch(1)).wait();
    const request = await anonymousRequest(suite, { slot: 1 });
    const proof = await prove(suite, alice, request);
    await expect(suite.router.requestPredictionAnonymous(request, proof)).to.be.revertedWithCustomError(suite.router, "SlotOutOfRange").withArgs(1, 1);
    await expect(suite.router.connect(suite.actors.stranger).setAnonymousRequestsPerEpoch(9)).to.be.revertedWithCustomError(suite.router, "NotGovernance");
  });

  it("refuses a wrong scope, a wrong message, an old epoch and a tampered proof", async function () {
    const suite = await networkHelpers.loadFixture(fixture);
    const router = suite.addresses.PredictionRouter;
    const request = await anonymousRequest(suite);
    const wrongScope = await prove(suite, alice, request, { scope: scopeOf(suite.chainId, router, request.epoch, 1) });
    await expect(suite.router.requestPredictionAnonymous(request, wrongScope)).to.be.revertedWithCustomError(suite.router, "ScopeMismatch");
    const wrongMessage = await prove(suite, alice, request, { message: 7n });
    await expect(suite.router.requestPredictionAnonymous(request, wrongMessage)).to.be.revertedWithCustomError(suite.router, "MessageMismatch");

    const old = { ...request, epoch: request.epoch - 2 };
    await expect(suite.router.requestPredictionAnonymous(old, await prove(suite, alice, old)))
      .to.be.revertedWithCustomError(suite.router, "EpochNotCurrent")
      .withArgs(old.epoch, request.epoch);

    const good = await prove(suite, alice, request);
    const tampered = { ...good, points: [...good.points] };
    tampered.points[0] = (BigInt(tampered.points[0]!) + 1n).toString();
    await expect(suite.router.requestPredictionAnonymous(request, tampered)).to.be.revert(ethers);
    // A proof whose nullifier was swapped (to dodge the limit) no longer verifies.
    const swapped = { ...good, nullifier: (BigInt(good.nullifier) + 1n).toString() };
    await expect(suite.router.requestPredictionAnonymous(request, swapped)).to.be.revertedWithCustomError(suite.router, "InvalidMembershipProof");
  });

  it("accepts the previous epoch, so a proof made before midnight still lands", async function () {
    const suite = await networkHelpers.loadFixture(fixture);
    const request = await anonymousRequest(suite);
    const proof = await prove(suite, alice, request);
    await networkHelpers.time.increase(EPOCH_SECONDS);
    expect(await suite.router.anonymousEpoch()).to.equal(BigInt(request.epoch + 1));
    // Still the group's current root, so the root window does not apply.
    expect(await suite.router.checkAnonymousRequest(request, proof)).to.equal(requestIdOf(suite.addresses.PredictionRouter, BigInt(proof.nullifier)));
    await networkHelpers.time.increase(EPOCH_SECONDS);
    await expect(suite.router.checkAnonymousRequest(request, proof)).to.be.revertedWithCustomError(suite.router, "EpochNotCurrent");
  });

  it("refuses non-members, removed members and roots older than the window", async function () {
    const suite = await networkHelpers.loadFixture(fixture);
    const { patient, governance } = suite.actors;
    const outsider = new Identity("never joined");
    const request = await anonymousRequest(suite);

    // An outsider can only prove against a group of its own making: a root the chain never had.
    const forged = new Group([alice.commitment, bob.commitment, outsider.commitment]);
    await expect(suite.router.requestPredictionAnonymous(request, await prove(suite, outsider, request, { group: forged })))
      .to.be.revertedWithCustomError(suite.semaphore, "Semaphore__MerkleTreeRootIsNotPartOfTheGroup");

    // Alice proves against today's group, then leaves: the removal ends that root at once.
    const before = await prove(suite, alice, request);
    const group = await groupOnChain(suite);
    const siblings = group.generateMerkleProof(group.indexOf(alice.commitment)).siblings;
    await expect(suite.groups.connect(suite.actors.stranger).removePatient(patient.address, siblings))
      .to.be.revertedWithCustomError(suite.groups, "StillRegistered");
    await expect(suite.groups.connect(governance).removePatient(patient.address, siblings)).to.emit(suite.groups, "PatientLeft").withArgs(alice.commitment);
    await expect(suite.router.requestPredictionAnonymous(request, before))
      .to.be.revertedWithCustomError(suite.groups, "RootBeforeRemoval");
    expect(await suite.groups.commitmentOf(patient.address)).to.equal(0n);

    // Bob's proof against the new root is good until a join replaces the root and the window passes.
    const bobRequest = await anonymousRequest(suite);
    const bobProof = await prove(suite, bob, bobRequest);
    await (await suite.groups.connect(patient).joinPatientGroup(new Identity("alice, again").commitment)).wait();
    expect(await suite.router.checkAnonymousRequest(bobRequest, bobProof)).to.equal(requestIdOf(suite.addresses.PredictionRouter, BigInt(bobProof.nullifier)));
    await networkHelpers.time.increase((await suite.groups.rootWindow()) + 1n);
    await expect(suite.router.checkAnonymousRequest(bobRequest, bobProof))
      .to.be.revertedWithCustomError(suite.semaphore, "Semaphore__MerkleTreeRootIsExpired");
  });

  it("cancels an expired anonymous request back into the pool", async function () {
    const suite = await networkHelpers.loadFixture(fixture);
    const request = await anonymousRequest(suite);
    const proof = await prove(suite, alice, request);
    const receipt = (await (await suite.router.requestPredictionAnonymous(request, proof)).wait())!;
    const [job] = jobsFromReceipt(receipt, suite.addresses.Operator, suite.addresses.PredictionRouter);
    const pool = await suite.router.poolBalance();
    await networkHelpers.time.increase(6 * 60);
    await expect(suite.router.connect(suite.actors.stranger).cancelPrediction(job!.requestId, job!.payment))
      .to.emit(suite.router, "PredictionCancelled")
      .withArgs(job!.requestId, ethers.ZeroAddress, suite.actors.stranger.address);
    expect(await suite.router.poolBalance()).to.equal(pool + job!.payment);
  });
});

describe("PrivacyGroups", function () {
  async function fixture() {
    const suite = await deploySuite(connection, false);
    await registerPatient(suite, suite.actors.patient);
    return suite;
  }

  it("admits registered patients once each, with a commitment in the field", async function () {
    const suite = await networkHelpers.loadFixture(fixture);
    const { patient, stranger } = suite.actors;
    const id = new Identity("p");
    await expect(suite.groups.connect(stranger).joinPatientGroup(id.commitment))
      .to.be.revertedWithCustomError(suite.groups, "NotRegisteredPatient")
      .withArgs(stranger.address);
    await expect(suite.groups.connect(patient).joinPatientGroup(0n)).to.be.revertedWithCustomError(suite.groups, "InvalidCommitment");
    await expect(suite.groups.connect(patient).joinPatientGroup(id.commitment)).to.emit(suite.groups, "PatientJoined").withArgs(id.commitment);
    await expect(suite.groups.connect(patient).joinPatientGroup(new Identity("q").commitment))
      .to.be.revertedWithCustomError(suite.groups, "AlreadyJoined")
      .withArgs(patient.address, id.commitment);
    expect(await suite.groups.commitmentOf(patient.address)).to.equal(id.commitment);

    const replacement = new Identity("p2");
    const group = new Group([id.commitment]);
    await expect(suite.groups.connect(patient).replacePatientCommitment(replacement.commitment, group.generateMerkleProof(0).siblings))
      .to.emit(suite.groups, "PatientJoined")
      .withArgs(replacement.commitment);
    expect(await suite.groups.commitmentOf(patient.address)).to.equal(replacement.commitment);
  });

  it("lets a consent group's admin, and nobody else, manage its members", async function () {
    const suite = await networkHelpers.loadFixture(fixture);
    const { researcher, stranger } = suite.actors;
    const tx = await suite.groups.connect(researcher).createGroup(randomHash());
    const receipt = (await tx.wait())!;
    const created = receipt.logs.map((l) => suite.groups.interface.parseLog(l)).find((p) => p?.name === "GroupCreated")!;
    const groupId = created.args.groupId as bigint;
    expect(await suite.groups.groupAdminOf(groupId)).to.equal(researcher.address);
    const members = [new Identity("m1"), new Identity("m2")];
    await expect(suite.groups.connect(stranger).addMembers(groupId, [members[0]!.commitment]))
      .to.be.revertedWithCustomError(suite.groups, "NotGroupAdmin")
      .withArgs(groupId, stranger.address);
    await expect(suite.groups.connect(researcher).addMembers(await suite.groups.patientGroupId(), [1n]))
      .to.be.revertedWithCustomError(suite.groups, "UnknownGroup");
    await (await suite.groups.connect(researcher).addMembers(groupId, members.map((m) => m.commitment))).wait();

    const group = new Group(members.map((m) => m.commitment));
    const scope = 99n;
    const proof = toSolidity(await generateProof(members[1]!, group, 1n, scope, 20, ARTIFACTS));
    expect(await suite.groups.verifyMembership(groupId, proof)).to.equal(true);
    await (await suite.groups.connect(researcher).removeMember(groupId, members[1]!.commitment, group.generateMerkleProof(1).siblings)).wait();
    await expect(suite.groups.verifyMembership(groupId, proof)).to.be.revertedWithCustomError(suite.groups, "RootBeforeRemoval");

    await expect(suite.groups.connect(stranger).setGroupAdmin(groupId, stranger.address)).to.be.revertedWithCustomError(suite.groups, "NotGroupAdmin");
    await expect(suite.groups.connect(researcher).setGroupAdmin(groupId, stranger.address))
      .to.emit(suite.groups, "GroupAdminChanged")
      .withArgs(groupId, researcher.address, stranger.address);
  });
});
