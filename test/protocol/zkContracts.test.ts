/**
 * protocol/zk and protocol/privateConsent against the contracts themselves on EDR: every formula
 * equals the contract's view, a group rebuilt from Semaphore's events has the on-chain root and
 * proves membership PrivacyGroups accepts, its siblings remove a member, and a grant signed here is
 * what ConsentManager.privateConsentAllows accepts (and, revoked with the derived secret, refuses).
 */
import { expect } from "chai";
import { network } from "hardhat";
import { getAddress, randomBytes } from "ethers";

import { Category, Purpose } from "../../protocol/codes.js";
import { deriveRevocationSecret, PRIVATE_CONSENT_TYPEHASH, signPrivateConsent } from "../../protocol/privateConsent.js";
import { decodeGroupAccess, proveGroupAccess } from "../../protocol/zk/access.js";
import type { SemaphoreArtifacts } from "../../protocol/zk/artifacts.js";
import { fetchGroup, memberSiblings } from "../../protocol/zk/groupHistory.js";
import { derivePatientIdentity, randomIdentity } from "../../protocol/zk/identity.js";
import { anonymousMessage, anonymousRequestIdFor, anonymousScope, currentEpoch, type AnonymousRequest } from "../../protocol/zk/predict.js";
import { proveMembership, releaseProver, toSolidityProof } from "../../protocol/zk/prove.js";
import { readSemaphoreArtifacts } from "../../sdk/node/semaphoreArtifacts.js";
import { deploySuite, randomHash, registerPatient, type Suite } from "../contracts/fixtures.js";

const connection = await network.create();
const { ethers } = connection;

describe("protocol/zk against the contracts on EDR", function () {
  this.timeout(300_000);
  let suite: Suite;
  let artifacts: SemaphoreArtifacts;
  before(async () => {
    suite = await deploySuite(connection, false);
    artifacts = await readSemaphoreArtifacts();
  });
  after(() => releaseProver());

  it("anonymousScope / anonymousMessage / anonymousRequestIdFor / currentEpoch equal PredictionRouter's views", async () => {
    const router = await suite.router.getAddress();
    const context = { chainId: suite.chainId, router };
    for (const [epoch, slot] of [[0, 0], [20_424, 3], [0xffffffff, 0xffff]] as const) {
      expect(await suite.router.anonymousScope(epoch, slot), `${epoch}/${slot}`).to.equal(anonymousScope(context, epoch, slot));
    }
    const request: AnonymousRequest = { modelId: 1, epoch: 20_424, slot: 1, accessKey: getAddress("0x70997970c51812dc3a010c7d01b50e0d17dc79c8"), inputHash: randomHash(), keysHash: randomHash(), inputUri: "medcipher://blob/ünïcode-and-a-uri-longer-than-one-abi-word-0123456789" };
    expect(await suite.router.anonymousMessage(request)).to.equal(anonymousMessage(context, request));
    for (const nullifier of [1n, 2n ** 253n + 12345n]) expect(await suite.router.anonymousRequestIdFor(nullifier)).to.equal(anonymousRequestIdFor(router, nullifier));
    const block = await ethers.provider.getBlock("latest");
    expect(Number(await suite.router.anonymousEpoch())).to.equal(currentEpoch(block!.timestamp));
  });

  it("a patient's derived identity joins, the rebuilt patients' group has the chain's root, and PrivacyGroups accepts its proof", async () => {
    const { patient } = suite.actors;
    await registerPatient(suite, patient);
    const identity = derivePatientIdentity(randomBytes(32), { chainId: suite.chainId, privacyGroups: await suite.groups.getAddress() });
    await (await suite.groups.connect(patient).joinPatientGroup(identity.commitment)).wait();
    const groupId = await suite.groups.patientGroupId();
    const group = await fetchGroup(ethers.provider, await suite.groups.semaphore(), groupId);
    expect(group.root).to.equal(await suite.semaphore.getMerkleTreeRoot(groupId));
    expect(await suite.groups.commitmentOf(patient.address)).to.equal(identity.commitment);

    const router = await suite.router.getAddress();
    const context = { chainId: suite.chainId, router };
    const block = await ethers.provider.getBlock("latest");
    const request: AnonymousRequest = { modelId: Number(suite.modelIds[0]), epoch: currentEpoch(block!.timestamp), slot: 0, accessKey: ethers.Wallet.createRandom().address, inputHash: randomHash(), keysHash: randomHash(), inputUri: "medcipher://blob/input" };
    const proof = toSolidityProof(await proveMembership({ identity, group, message: anonymousMessage(context, request), scope: anonymousScope(context, request.epoch, request.slot), artifacts }));
    expect(await suite.groups.verifyMembership(groupId, proof)).to.equal(true);
    expect(await suite.router.checkAnonymousRequest(request, proof)).to.equal(anonymousRequestIdFor(router, proof.nullifier));
  });

  it("group access: a proof from protocol/zk verifies in PrivacyGroups; siblings from the rebuilt group remove the member; the old root is then refused", async () => {
    const admin = suite.actors.researcher;
    const groupId = await suite.groups.connect(admin).createGroup.staticCall(randomHash());
    await (await suite.groups.connect(admin).createGroup(randomHash())).wait();
    const members = [randomIdentity(), randomIdentity(), randomIdentity()];
    await (await suite.groups.connect(admin).addMembers(groupId, [members[0]!.commitment, members[1]!.commitment])).wait();
    await (await suite.groups.connect(admin).addMembers(groupId, [members[2]!.commitment])).wait();
    const semaphore = await suite.groups.semaphore();
    const group = await fetchGroup(ethers.provider, semaphore, groupId);
    expect(group.root).to.equal(await suite.semaphore.getMerkleTreeRoot(groupId));

    const header = await proveGroupAccess({
      identity: members[1]!, group, artifacts, chainId: suite.chainId, privacyGroups: await suite.groups.getAddress(), consentCommitment: randomHash(),
      request: { gateway: suite.actors.gateway.address, method: "GET", path: "/blobs/0x01", bodySha256: randomHash(), timestamp: 1_764_633_600 },
    });
    const proof = toSolidityProof(decodeGroupAccess(header).proof);
    expect(await suite.groups.verifyMembership(groupId, proof)).to.equal(true);
    const tampered = { ...proof, points: proof.points.map((p, i) => (i === 0 ? p ^ 1n : p)) };
    expect(await suite.groups.verifyMembership(groupId, tampered).catch(() => false)).to.equal(false);

    await (await suite.groups.connect(admin).removeMember(groupId, members[1]!.commitment, memberSiblings(group, members[1]!.commitment))).wait();
    const after = await fetchGroup(ethers.provider, semaphore, groupId);
    expect(after.root).to.equal(await suite.semaphore.getMerkleTreeRoot(groupId));
    expect(after.members[1]).to.equal(0n);
    await expect(suite.groups.verifyMembership(groupId, proof)).to.be.revertedWithCustomError(suite.groups, "RootBeforeRemoval");
  });

  it("a private consent signed here is ConsentManager's: same hashes, allowed once published, refused once revoked with the derived secret", async () => {
    const { patient, provider, relayer } = suite.actors;
    const patientSecret = randomBytes(32);
    const now = (await ethers.provider.getBlock("latest"))!.timestamp;
    const { grant } = await signPrivateConsent({
      signer: patient, patientSecret, chainId: Number(suite.chainId), consentManager: await suite.consent.getAddress(),
      consent: { grantee: provider.address, groupId: 0n, purpose: Purpose.TREAT, categories: 1 << Category.LABORATORY, validFrom: now - 10, validUntil: now + 3600, epoch: Number(await suite.consent.epochOf(patient.address)) },
    });
    expect(await suite.consent.PRIVATE_CONSENT_TYPEHASH()).to.equal(PRIVATE_CONSENT_TYPEHASH);
    expect(await suite.consent.privateConsentHash(grant.opening)).to.equal(grant.consentHash);
    expect(await suite.consent.privateCommitment(grant.consentHash, grant.revocationHash)).to.equal(grant.commitment);
    const allows = () => suite.consent.privateConsentAllows(grant.opening, grant.revocationHash, grant.signature, Category.LABORATORY, Purpose.TREAT);
    expect(await allows()).to.equal(false);
    await (await suite.consent.connect(relayer).grantConsentPrivate(grant.commitment)).wait();
    expect(await allows()).to.equal(true);
    await (await suite.consent.connect(relayer).revokeConsentPrivate(grant.consentHash, deriveRevocationSecret(patientSecret, grant.opening.salt))).wait();
    expect(await allows()).to.equal(false);
  });
});
