import { expect } from "chai";
import { network } from "hardhat";
import { AbiCoder, keccak256, randomBytes, type ContractTransactionReceipt } from "ethers";

import { encodeFulfilment, jobsFromReceipt } from "../../deploy/prediction.js";
import ConsentBridgeModule from "../../deploy/modules/ConsentBridge.js";
import { DEFAULT_RECEIVE_GAS_LIMIT, CCIP_NETWORKS } from "../../deploy/modules/ccipNetworks.js";
import { RequestStatus } from "../../protocol/codes.js";
import { signPrivateConsent } from "../../protocol/privateConsent.js";
import { buildMerkleBatch } from "../../sdk/crypto/commitment.js";
import {
  DEST_SELECTOR,
  HOME_SELECTOR,
  Kind,
  any2Evm,
  consentBody,
  deployCrossChain,
  encodeMessage,
  privateConsentBody,
  type CrossChain,
} from "./crosschainFixture.js";
import { Category, DAY, Purpose, blobUri, categoryBit, latest, randomHash } from "./fixtures.js";

const connection = await network.create();
const { ethers, networkHelpers } = connection;
const PREDICTION = categoryBit(Category.PREDICTION);
const LABS = categoryBit(Category.LABORATORY);
const coder = AbiCoder.defaultAbiCoder();
/** An address with no code: the simulator's router "delivers" to it without calling anything. */
const NOWHERE = "0x000000000000000000000000000000000000dEaD";

describe("Consent across chains (ConsentBridge → CCIP → ConsentMirror)", function () {
  async function crossChainFixture(): Promise<CrossChain> {
    return deployCrossChain(connection);
  }

  /** Hands `message` to the mirror as the CCIP router would (anyone may call routeMessage on the simulator). */
  async function deliver(cc: CrossChain, message: ReturnType<typeof any2Evm>) {
    const tx = await cc.ccipRouter.connect(cc.home.actors.stranger).routeMessage(message, 5_000, DEFAULT_RECEIVE_GAS_LIMIT, await cc.mirror.getAddress());
    const receipt = (await tx.wait())!;
    return { receipt, ...executed(cc, receipt) };
  }

  /** The simulator router's MsgExecuted: whether ccipReceive succeeded, what it returned, its gas. */
  function executed(cc: CrossChain, receipt: ContractTransactionReceipt) {
    for (const log of receipt.logs) {
      const parsed = cc.ccipRouter.interface.parseLog(log);
      if (parsed?.name === "MsgExecuted") {
        return { success: parsed.args.success as boolean, retData: parsed.args.retData as string, gasUsed: parsed.args.gasUsed as bigint };
      }
    }
    throw new Error("no MsgExecuted in the receipt");
  }

  /** Runs `send` while the destination points at an address without code: the message is "in flight" (never delivered). */
  async function inFlight<T>(cc: CrossChain, send: () => Promise<T>): Promise<T> {
    const mirror = await cc.mirror.getAddress();
    await (await cc.bridge.connect(cc.home.actors.governance).setDestination(DEST_SELECTOR, NOWHERE, DEFAULT_RECEIVE_GAS_LIMIT)).wait();
    const result = await send();
    await (await cc.bridge.connect(cc.home.actors.governance).setDestination(DEST_SELECTOR, mirror, DEFAULT_RECEIVE_GAS_LIMIT)).wait();
    return result;
  }

  async function grant(cc: CrossChain, grantee: string, purpose: number, categories: number, validUntil?: bigint, validFrom = 0n) {
    const until = validUntil ?? (await latest(connection)) + DAY;
    await (await cc.home.consent.connect(cc.home.actors.patient).grantConsent(grantee, purpose, categories, validFrom, until)).wait();
    return until;
  }

  function sync(cc: CrossChain, grantee: string, purpose: number, from = cc.home.actors.stranger) {
    return cc.bridge.connect(from).syncConsent(DEST_SELECTOR, cc.home.actors.patient.address, grantee, purpose, false);
  }

  async function snapshotOf(cc: CrossChain, grantee: string, purpose: number, terms: { categories: number; validFrom: bigint; validUntil: bigint }) {
    return {
      patient: cc.home.actors.patient.address,
      grantee,
      purpose,
      ...terms,
      epoch: await cc.home.consent.epochOf(cc.home.actors.patient.address),
      keysHash: cc.keysHash,
    };
  }

  describe("grants and revocations", function () {
    it("makes a home grant usable on the destination once synced, by anyone, with the home chain's answers", async function () {
      const cc = await networkHelpers.loadFixture(crossChainFixture);
      const { patient, provider, stranger } = cc.home.actors;
      const until = await grant(cc, provider.address, Purpose.TREATDS, PREDICTION | LABS);
      expect(await cc.mirror.hasAccess(provider.address, patient.address, Category.PREDICTION, Purpose.TREATDS)).to.equal(false);

      await expect(sync(cc, provider.address, Purpose.TREATDS, stranger))
        .to.emit(cc.mirror, "ConsentMirrored")
        .withArgs(patient.address, provider.address, Purpose.TREATDS, 1n, PREDICTION | LABS, 0n, until)
        .and.to.emit(cc.bridge, "SnapshotSent");
      expect(await cc.bridge.sequenceOf(DEST_SELECTOR)).to.equal(1n);

      // Same answers as the home ConsentManager over every purpose and a spread of categories.
      for (const purpose of [0, Purpose.TREAT, Purpose.TREATDS, Purpose.HRESCH, 6]) {
        for (const category of [Category.VITAL_SIGNS, Category.LABORATORY, Category.PREDICTION, 31, 32]) {
          for (const [grantee, who] of [[provider.address, patient.address], [patient.address, patient.address], [stranger.address, patient.address], [provider.address, ethers.ZeroAddress]] as const) {
            const home = await cc.home.consent.hasAccess(grantee, who, category, purpose);
            expect(await cc.mirror.hasAccess(grantee, who, category, purpose), `${grantee} ${who} c${category} p${purpose}`).to.equal(home);
          }
        }
      }
      expect(await cc.mirror.hasAccess(provider.address, patient.address, Category.PREDICTION, Purpose.TREATDS)).to.equal(true);
      const held = await cc.mirror.consentOf(patient.address, provider.address, Purpose.TREATDS);
      expect([held.sequence, held.categories, held.validUntil, held.epoch, held.keysHash]).to.deep.equal([1n, BigInt(PREDICTION | LABS), until, 0n, cc.keysHash]);
    });

    it("keeps a synced grant until the revocation lands, and refuses from then on", async function () {
      const cc = await networkHelpers.loadFixture(crossChainFixture);
      const { patient, provider } = cc.home.actors;
      await grant(cc, provider.address, Purpose.TREATDS, PREDICTION);
      await (await sync(cc, provider.address, Purpose.TREATDS)).wait();
      await (await cc.home.consent.connect(patient).revokeConsent(provider.address, Purpose.TREATDS)).wait();
      // The latency window: revoked at home, not yet on the destination.
      expect(await cc.home.consent.hasAccess(provider.address, patient.address, Category.PREDICTION, Purpose.TREATDS)).to.equal(false);
      expect(await cc.mirror.hasAccess(provider.address, patient.address, Category.PREDICTION, Purpose.TREATDS)).to.equal(true);
      await expect(sync(cc, provider.address, Purpose.TREATDS))
        .to.emit(cc.mirror, "ConsentMirrored")
        .withArgs(patient.address, provider.address, Purpose.TREATDS, 2n, 0n, 0n, 0n);
      expect(await cc.mirror.hasAccess(provider.address, patient.address, Category.PREDICTION, Purpose.TREATDS)).to.equal(false);
    });

    it("sends a grant as it is at home: a future one waits for its start; expired or other-epoch ones travel as revocations", async function () {
      const cc = await networkHelpers.loadFixture(crossChainFixture);
      const { patient, provider, researcher } = cc.home.actors;
      const now = await latest(connection);
      await grant(cc, provider.address, Purpose.TREAT, LABS, now + 2n * DAY, now + DAY);
      await (await sync(cc, provider.address, Purpose.TREAT)).wait();
      expect(await cc.mirror.hasAccess(provider.address, patient.address, Category.LABORATORY, Purpose.TREAT)).to.equal(false);
      await networkHelpers.time.increaseTo(now + DAY);
      expect(await cc.mirror.hasAccess(provider.address, patient.address, Category.LABORATORY, Purpose.TREAT)).to.equal(true);
      // Ends on the destination at validUntil with no message, like at home.
      await networkHelpers.time.increaseTo(now + 2n * DAY);
      expect(await cc.mirror.hasAccess(provider.address, patient.address, Category.LABORATORY, Purpose.TREAT)).to.equal(false);
      // Synced after its end: a revocation snapshot, whatever terms the home slot still holds.
      await expect(sync(cc, provider.address, Purpose.TREAT)).to.emit(cc.mirror, "ConsentMirrored").withArgs(patient.address, provider.address, Purpose.TREAT, 2n, 0n, 0n, 0n);
      // A grant never made: a revocation snapshot too.
      await expect(sync(cc, researcher.address, Purpose.HRESCH)).to.emit(cc.mirror, "ConsentMirrored").withArgs(patient.address, researcher.address, Purpose.HRESCH, 3n, 0n, 0n, 0n);
      await expect(cc.bridge.syncConsent(DEST_SELECTOR, patient.address, provider.address, 0, false)).to.be.revertedWithCustomError(cc.bridge, "InvalidPurpose").withArgs(0);
      await expect(cc.bridge.syncConsent(DEST_SELECTOR, patient.address, provider.address, 6, false)).to.be.revertedWithCustomError(cc.bridge, "InvalidPurpose").withArgs(6);
    });

    it("ends every mirrored grant of a patient with one epoch message after revokeAllConsents", async function () {
      const cc = await networkHelpers.loadFixture(crossChainFixture);
      const { patient, provider, researcher } = cc.home.actors;
      await grant(cc, provider.address, Purpose.TREATDS, PREDICTION);
      await grant(cc, researcher.address, Purpose.HRESCH, LABS);
      await (await sync(cc, provider.address, Purpose.TREATDS)).wait();
      await (await sync(cc, researcher.address, Purpose.HRESCH)).wait();
      await (await cc.home.consent.connect(patient).revokeAllConsents()).wait();
      await expect(cc.bridge.syncEpoch(DEST_SELECTOR, patient.address, false)).to.emit(cc.mirror, "EpochMirrored").withArgs(patient.address, 1n, 3n);
      expect(await cc.mirror.epochOf(patient.address)).to.equal(1n);
      expect(await cc.mirror.hasAccess(provider.address, patient.address, Category.PREDICTION, Purpose.TREATDS)).to.equal(false);
      expect(await cc.mirror.hasAccess(researcher.address, patient.address, Category.LABORATORY, Purpose.HRESCH)).to.equal(false);
      // The same epoch again: nothing to change.
      await expect(cc.bridge.syncEpoch(DEST_SELECTOR, patient.address, false)).to.emit(cc.mirror, "StaleMessageIgnored");
      // A grant made in the new epoch counts again (its snapshot carries epoch 1).
      await grant(cc, provider.address, Purpose.TREATDS, PREDICTION);
      await (await sync(cc, provider.address, Purpose.TREATDS)).wait();
      expect(await cc.mirror.hasAccess(provider.address, patient.address, Category.PREDICTION, Purpose.TREATDS)).to.equal(true);
      expect(await cc.mirror.hasAccess(researcher.address, patient.address, Category.LABORATORY, Purpose.HRESCH)).to.equal(false);
    });

    it("raises the epoch from a grant snapshot when the epoch message is still in flight", async function () {
      const cc = await networkHelpers.loadFixture(crossChainFixture);
      const { patient, provider, researcher } = cc.home.actors;
      await grant(cc, researcher.address, Purpose.HRESCH, LABS);
      await (await sync(cc, researcher.address, Purpose.HRESCH)).wait();
      await (await cc.home.consent.connect(patient).revokeAllConsents()).wait();
      await inFlight(cc, async () => (await cc.bridge.syncEpoch(DEST_SELECTOR, patient.address, false)).wait());
      await grant(cc, provider.address, Purpose.TREATDS, PREDICTION);
      await expect(sync(cc, provider.address, Purpose.TREATDS)).to.emit(cc.mirror, "EpochMirrored").withArgs(patient.address, 1n, 3n);
      expect(await cc.mirror.hasAccess(researcher.address, patient.address, Category.LABORATORY, Purpose.HRESCH)).to.equal(false);
      expect(await cc.mirror.hasAccess(provider.address, patient.address, Category.PREDICTION, Purpose.TREATDS)).to.equal(true);
    });

    it("honours a mirrored grant only while the destination holds the key set the patient had at home", async function () {
      const cc = await networkHelpers.loadFixture(crossChainFixture);
      const { patient, provider } = cc.home.actors;
      await grant(cc, provider.address, Purpose.TREATDS, PREDICTION);
      await (await sync(cc, provider.address, Purpose.TREATDS)).wait();
      expect(await cc.mirror.hasAccess(provider.address, patient.address, Category.PREDICTION, Purpose.TREATDS)).to.equal(true);
      const other = randomHash();
      await (await cc.dest.identity.connect(patient).rotateKeySet(other, "0x" + "11".repeat(32), blobUri(other))).wait();
      expect(await cc.mirror.hasAccess(provider.address, patient.address, Category.PREDICTION, Purpose.TREATDS)).to.equal(false);
      // The same rotation at home, re-synced: the grant counts for the new keys.
      await (await cc.home.identity.connect(patient).rotateKeySet(other, "0x" + "11".repeat(32), blobUri(other))).wait();
      await (await sync(cc, provider.address, Purpose.TREATDS)).wait();
      expect(await cc.mirror.hasAccess(provider.address, patient.address, Category.PREDICTION, Purpose.TREATDS)).to.equal(true);
    });
  });

  describe("ordering, replay and origin", function () {
    it("ignores a replayed grant after its revocation: the byte-identical message changes nothing", async function () {
      const cc = await networkHelpers.loadFixture(crossChainFixture);
      const { patient, provider } = cc.home.actors;
      const until = await grant(cc, provider.address, Purpose.TREATDS, PREDICTION);
      const sent = (await (await sync(cc, provider.address, Purpose.TREATDS)).wait())!;
      const original = any2Evm(encodeMessage(Kind.Consent, 1, consentBody(await snapshotOf(cc, provider.address, Purpose.TREATDS, { categories: PREDICTION, validFrom: 0n, validUntil: until }))), {
        sender: await cc.bridge.getAddress(),
      });
      // The crafted copy is byte for byte what the router delivered (its MessageExecuted hashes the call).
      const delivered = sent.logs.map((l) => cc.ccipRouter.interface.parseLog(l)).find((p) => p?.name === "MessageExecuted")!;
      original.messageId = delivered.args.messageId as string;
      expect(keccak256(cc.mirror.interface.encodeFunctionData("ccipReceive", [original]))).to.equal(delivered.args.calldataHash);

      await (await cc.home.consent.connect(patient).revokeConsent(provider.address, Purpose.TREATDS)).wait();
      await (await sync(cc, provider.address, Purpose.TREATDS)).wait();
      const replay = await deliver(cc, original);
      expect(replay.success).to.equal(true);
      await expect(replay.receipt).to.emit(cc.mirror, "StaleMessageIgnored").withArgs(original.messageId, Kind.Consent, 1n);
      expect(await cc.mirror.hasAccess(provider.address, patient.address, Category.PREDICTION, Purpose.TREATDS)).to.equal(false);
      // A duplicate of the newest message is dropped too.
      const revocation = any2Evm(encodeMessage(Kind.Consent, 2, consentBody(await snapshotOf(cc, provider.address, Purpose.TREATDS, { categories: 0, validFrom: 0n, validUntil: 0n }))), { sender: await cc.bridge.getAddress() });
      await expect((await deliver(cc, revocation)).receipt).to.emit(cc.mirror, "StaleMessageIgnored").withArgs(revocation.messageId, Kind.Consent, 2n);
      expect((await cc.mirror.consentOf(patient.address, provider.address, Purpose.TREATDS)).sequence).to.equal(2n);
    });

    it("lets a revocation that lands before its grant win", async function () {
      const cc = await networkHelpers.loadFixture(crossChainFixture);
      const { patient, provider } = cc.home.actors;
      const until = await grant(cc, provider.address, Purpose.TREATDS, PREDICTION);
      // The grant's message (sequence 1) is held up in flight ...
      await inFlight(cc, async () => (await sync(cc, provider.address, Purpose.TREATDS)).wait());
      await (await cc.home.consent.connect(patient).revokeConsent(provider.address, Purpose.TREATDS)).wait();
      // ... the revocation (sequence 2) lands first ...
      await expect(sync(cc, provider.address, Purpose.TREATDS)).to.emit(cc.mirror, "ConsentMirrored").withArgs(patient.address, provider.address, Purpose.TREATDS, 2n, 0n, 0n, 0n);
      // ... and the grant arriving afterwards changes nothing.
      const late = any2Evm(encodeMessage(Kind.Consent, 1, consentBody(await snapshotOf(cc, provider.address, Purpose.TREATDS, { categories: PREDICTION, validFrom: 0n, validUntil: until }))), { sender: await cc.bridge.getAddress() });
      const result = await deliver(cc, late);
      expect(result.success).to.equal(true);
      await expect(result.receipt).to.emit(cc.mirror, "StaleMessageIgnored").withArgs(late.messageId, Kind.Consent, 1n);
      expect(await cc.mirror.hasAccess(provider.address, patient.address, Category.PREDICTION, Purpose.TREATDS)).to.equal(false);
    });

    it("ends holding the newest snapshot whatever the delivery order and duplicates", async function () {
      const cc = await networkHelpers.loadFixture(crossChainFixture);
      const { patient, provider } = cc.home.actors;
      const now = await latest(connection);
      const bridge = await cc.bridge.getAddress();
      // Six snapshots of one key: grants of different categories and ends, and revocations.
      const history = [PREDICTION, 0, LABS, PREDICTION | LABS, 0, PREDICTION].map((categories, i) => ({
        sequence: i + 1,
        categories,
        validUntil: categories === 0 ? 0n : now + BigInt(i + 1) * DAY,
      }));
      const messages = history.map((h) =>
        any2Evm(encodeMessage(Kind.Consent, h.sequence, consentBody({ patient: patient.address, grantee: provider.address, purpose: Purpose.TREATDS, categories: h.categories, validFrom: 0n, validUntil: h.validUntil, epoch: 0, keysHash: cc.keysHash })), { sender: bridge }),
      );
      const newest = history.at(-1)!;
      for (const order of [[5, 4, 3, 2, 1, 0], [2, 5, 0, 5, 1, 3, 4, 2], [0, 1, 2, 3, 4, 5, 0, 3]]) {
        const id = await networkHelpers.takeSnapshot();
        for (const i of order) expect((await deliver(cc, messages[i]!)).success).to.equal(true);
        const held = await cc.mirror.consentOf(patient.address, provider.address, Purpose.TREATDS);
        expect([held.sequence, held.categories, held.validUntil], `order ${order.join(",")}`).to.deep.equal([6n, BigInt(newest.categories), newest.validUntil]);
        expect(await cc.mirror.hasAccess(provider.address, patient.address, Category.PREDICTION, Purpose.TREATDS)).to.equal(true);
        expect(await cc.mirror.hasAccess(provider.address, patient.address, Category.LABORATORY, Purpose.TREATDS)).to.equal(false);
        await id.restore();
      }
    });

    it("records a grant that arrives after its end as expired, not as a grant", async function () {
      const cc = await networkHelpers.loadFixture(crossChainFixture);
      const { patient, provider } = cc.home.actors;
      const until = (await latest(connection)) + 600n;
      await grant(cc, provider.address, Purpose.TREATDS, PREDICTION, until);
      await inFlight(cc, async () => (await sync(cc, provider.address, Purpose.TREATDS)).wait());
      await networkHelpers.time.increaseTo(until + 1n);
      const late = any2Evm(encodeMessage(Kind.Consent, 1, consentBody(await snapshotOf(cc, provider.address, Purpose.TREATDS, { categories: PREDICTION, validFrom: 0n, validUntil: until }))), { sender: await cc.bridge.getAddress() });
      const result = await deliver(cc, late);
      expect(result.success).to.equal(true);
      await expect(result.receipt)
        .to.emit(cc.mirror, "ExpiredOnArrival").withArgs(patient.address, provider.address, Purpose.TREATDS, 1n, until)
        .and.to.emit(cc.mirror, "ConsentMirrored").withArgs(patient.address, provider.address, Purpose.TREATDS, 1n, 0n, 0n, 0n);
      const held = await cc.mirror.consentOf(patient.address, provider.address, Purpose.TREATDS);
      expect([held.sequence, held.categories, held.validUntil]).to.deep.equal([1n, 0n, 0n]);
      expect(await cc.mirror.hasAccess(provider.address, patient.address, Category.PREDICTION, Purpose.TREATDS)).to.equal(false);
    });

    it("refuses messages from another source chain, another sender, or not through the router (nothing applied)", async function () {
      const cc = await networkHelpers.loadFixture(crossChainFixture);
      const { patient, provider, governance, stranger } = cc.home.actors;
      const now = await latest(connection);
      const forged = (sequence: number) => encodeMessage(Kind.Consent, sequence, consentBody({ patient: patient.address, grantee: provider.address, purpose: Purpose.TREATDS, categories: PREDICTION, validFrom: 0n, validUntil: now + DAY, epoch: 0, keysHash: cc.keysHash }));
      const bridge = await cc.bridge.getAddress();

      const otherChain = await deliver(cc, any2Evm(forged(1), { sender: bridge, sourceChainSelector: CCIP_NETWORKS.baseSepolia.chainSelector }));
      expect(otherChain.success).to.equal(false);
      expect(cc.mirror.interface.parseError(otherChain.retData)?.name).to.equal("WrongSourceChain");
      expect(cc.mirror.interface.parseError(otherChain.retData)?.args[0]).to.equal(CCIP_NETWORKS.baseSepolia.chainSelector);

      const otherSender = await deliver(cc, any2Evm(forged(1), { sender: stranger.address }));
      expect(otherSender.success).to.equal(false);
      const wrongSender = cc.mirror.interface.parseError(otherSender.retData);
      expect([wrongSender?.name, wrongSender?.args[0]]).to.deep.equal(["WrongSender", coder.encode(["address"], [stranger.address])]);

      // A second ConsentBridge (a genuine one, on the home chain, sending through CCIP) is still not the home bridge.
      const { bridge: rogue } = await connection.ignition.deploy(ConsentBridgeModule, {
        defaultSender: governance.address,
        deploymentId: "rogue-bridge",
        parameters: {
          ConsentBridge: {
            identity: cc.home.addresses.IdentityRegistry,
            consent: cc.home.addresses.ConsentManager,
            records: cc.home.addresses.RecordRegistry,
            ccipRouter: await cc.ccipRouter.getAddress(),
            linkToken: await cc.ccipLink.getAddress(),
          },
        },
      });
      const rogueBridge = await ethers.getContractAt("ConsentBridge", await rogue.getAddress(), governance);
      await (await rogueBridge.setDestination(DEST_SELECTOR, await cc.mirror.getAddress(), DEFAULT_RECEIVE_GAS_LIMIT)).wait();
      await grant(cc, provider.address, Purpose.TREATDS, PREDICTION);
      // The simulator reverts the send when the receiver fails; real CCIP marks the message failed.
      await expect(rogueBridge.syncConsent(DEST_SELECTOR, patient.address, provider.address, Purpose.TREATDS, false)).to.be.revertedWithCustomError(cc.ccipRouter, "ReceiverError");

      await expect(cc.mirror.connect(stranger).ccipReceive(any2Evm(forged(1), { sender: bridge }))).to.be.revertedWithCustomError(cc.mirror, "InvalidRouter").withArgs(stranger.address);
      const unknownKind = await deliver(cc, any2Evm(encodeMessage(9, 1, "0x"), { sender: bridge }));
      expect(cc.mirror.interface.parseError(unknownKind.retData)?.name).to.equal("UnknownMessageKind");

      expect(await cc.mirror.hasAccess(provider.address, patient.address, Category.PREDICTION, Purpose.TREATDS)).to.equal(false);
      expect((await cc.mirror.consentOf(patient.address, provider.address, Purpose.TREATDS)).sequence).to.equal(0n);
      // The real bridge's message is accepted.
      await (await sync(cc, provider.address, Purpose.TREATDS)).wait();
      expect(await cc.mirror.hasAccess(provider.address, patient.address, Category.PREDICTION, Purpose.TREATDS)).to.equal(true);
      expect(await cc.mirror.homeChainSelector()).to.equal(HOME_SELECTOR);
      expect(await cc.mirror.homeBridge()).to.equal(bridge);
      expect(await cc.mirror.supportsInterface("0x85572ffb")).to.equal(true);
    });
  });

  describe("record commitments and private consent", function () {
    it("verifies a home batch's readings on the destination; records copy once; unknown ids are refused at the source", async function () {
      const cc = await networkHelpers.loadFixture(crossChainFixture);
      const { patient } = cc.home.actors;
      const readings = Array.from({ length: 9 }, () => randomHash());
      const tree = buildMerkleBatch(readings);
      await (await cc.home.records.connect(patient).anchorBatch(patient.address, tree.root, readings.length, Category.VITAL_SIGNS, "u")).wait();
      expect(await cc.mirror.verifyInclusion(patient.address, tree.root, readings[0]!, tree.proofs[0]!)).to.equal(false);
      await expect(cc.bridge.syncRecord(DEST_SELECTOR, patient.address, tree.root, false)).to.emit(cc.mirror, "RecordMirrored").withArgs(patient.address, tree.root, 1n);
      const home = await cc.home.records.entryOf(patient.address, tree.root);
      const mirrored = await cc.mirror.entryOf(patient.address, tree.root);
      expect([...mirrored]).to.deep.equal([...home]);
      expect([mirrored.patient, mirrored.kind, mirrored.count]).to.deep.equal([patient.address, 2n, 9n]);
      for (const i of [0, 4, 8]) expect(await cc.mirror.verifyInclusion(patient.address, tree.root, readings[i]!, tree.proofs[i]!)).to.equal(true);
      expect(await cc.mirror.verifyInclusion(patient.address, tree.root, randomHash(), tree.proofs[1]!)).to.equal(false);
      expect(await cc.mirror.verifyInclusion(cc.home.actors.otherPatient.address, tree.root, readings[0]!, tree.proofs[0]!)).to.equal(false);

      const recordId = randomHash();
      await (await cc.home.records.connect(patient).anchorRecord(patient.address, recordId, Category.LABORATORY, "u", ethers.ZeroHash)).wait();
      await (await cc.bridge.syncRecord(DEST_SELECTOR, patient.address, recordId, false)).wait();
      expect((await cc.mirror.entryOf(patient.address, recordId)).kind).to.equal(1n);
      // A record is no batch.
      expect(await cc.mirror.verifyInclusion(patient.address, recordId, recordId, [])).to.equal(false);
      await expect(cc.bridge.syncRecord(DEST_SELECTOR, patient.address, recordId, false)).to.emit(cc.mirror, "StaleMessageIgnored");
      const unknown = randomHash();
      await expect(cc.bridge.syncRecord(DEST_SELECTOR, patient.address, unknown, false)).to.be.revertedWithCustomError(cc.bridge, "UnknownEntry").withArgs(patient.address, unknown);
    });

    it("mirrors a private consent commitment's state (no address travels) and never un-revokes it", async function () {
      const cc = await networkHelpers.loadFixture(crossChainFixture);
      const { relayer } = cc.home.actors;
      const consentHash = randomHash();
      const secret = randomHash();
      const revocationHash = keccak256(coder.encode(["bytes32"], [secret]));
      const commitment = await cc.home.consent.privateCommitment(consentHash, revocationHash);
      await expect(cc.bridge.syncPrivateConsent(DEST_SELECTOR, commitment, false)).to.be.revertedWithCustomError(cc.bridge, "UnknownPrivateConsent").withArgs(commitment);
      await (await cc.home.consent.connect(relayer).grantConsentPrivate(commitment)).wait();
      const published = await cc.home.consent.privateConsentState(commitment);
      const sent = (await (await cc.bridge.syncPrivateConsent(DEST_SELECTOR, commitment, false)).wait())!;
      await expect(sent).to.emit(cc.mirror, "PrivateConsentMirrored").withArgs(commitment, published.grantedAt, 0n, 1n);
      // The message names no account: its data is the commitment and two timestamps.
      const bridgeLog = sent.logs.map((l) => cc.bridge.interface.parseLog(l)).find((p) => p?.name === "SnapshotSent")!;
      expect(bridgeLog.args.subject).to.equal(commitment);

      await (await cc.home.consent.connect(relayer).revokeConsentPrivate(consentHash, secret)).wait();
      const revoked = await cc.home.consent.privateConsentState(commitment);
      await expect(cc.bridge.syncPrivateConsent(DEST_SELECTOR, commitment, false)).to.emit(cc.mirror, "PrivateConsentMirrored").withArgs(commitment, published.grantedAt, revoked.revokedAt, 2n);
      // The published-only state again (a replay of the first message): ignored.
      const replay = any2Evm(encodeMessage(Kind.PrivateConsent, 1, privateConsentBody(commitment, published.grantedAt, 0)), { sender: await cc.bridge.getAddress() });
      await expect((await deliver(cc, replay)).receipt).to.emit(cc.mirror, "StaleMessageIgnored");
      const state = await cc.mirror.privateConsentState(commitment);
      expect([state.grantedAt, state.revokedAt]).to.deep.equal([published.grantedAt, revoked.revokedAt]);
      // A revoked state arriving first publishes and revokes in one step.
      const other = randomHash();
      const both = any2Evm(encodeMessage(Kind.PrivateConsent, 3, privateConsentBody(other, 5, 6)), { sender: await cc.bridge.getAddress() });
      await expect((await deliver(cc, both)).receipt).to.emit(cc.mirror, "PrivateConsentMirrored").withArgs(other, 5n, 6n, 3n);
    });
  });

  describe("the reads a destination gateway makes (ConsentManager's signatures)", function () {
    it("answers hasRecordAccess from the mirrored category grant only: a home record-scoped grant gives nothing here", async function () {
      const cc = await networkHelpers.loadFixture(crossChainFixture);
      const { patient, provider, researcher } = cc.home.actors;
      const recordId = randomHash();
      const until = (await latest(connection)) + DAY;
      await (await cc.home.consent.connect(patient).grantRecordConsent(researcher.address, Purpose.HRESCH, [recordId], 0, until)).wait();
      await (await sync(cc, researcher.address, Purpose.HRESCH)).wait();
      expect(await cc.home.consent.hasRecordAccess(researcher.address, patient.address, recordId, Category.LABORATORY, Purpose.HRESCH)).to.equal(true);
      expect(await cc.mirror.hasRecordAccess(researcher.address, patient.address, recordId, Category.LABORATORY, Purpose.HRESCH)).to.equal(false);

      await grant(cc, provider.address, Purpose.TREAT, LABS);
      await (await sync(cc, provider.address, Purpose.TREAT)).wait();
      for (const category of [Category.LABORATORY, Category.PREDICTION]) {
        for (const [grantee, purpose] of [[provider.address, Purpose.TREAT], [provider.address, Purpose.HRESCH], [patient.address, Purpose.TREAT]] as const) {
          const home = await cc.home.consent.hasRecordAccess(grantee, patient.address, recordId, category, purpose);
          expect(await cc.mirror.hasRecordAccess(grantee, patient.address, recordId, category, purpose), `${grantee} c${category} p${purpose}`).to.equal(home);
        }
      }
    });

    it("never honours a private consent, even one live at home whose commitment state is mirrored", async function () {
      const cc = await networkHelpers.loadFixture(crossChainFixture);
      const { patient, provider, relayer } = cc.home.actors;
      const { grant: opened } = await signPrivateConsent({
        signer: patient, patientSecret: randomBytes(32), chainId: Number(cc.home.chainId), consentManager: cc.home.addresses.ConsentManager,
        consent: { grantee: provider.address, groupId: 0n, purpose: Purpose.TREAT, categories: LABS, validFrom: 0, validUntil: Number((await latest(connection)) + DAY), epoch: 0 },
      });
      await (await cc.home.consent.connect(relayer).grantConsentPrivate(opened.commitment)).wait();
      await (await cc.bridge.syncPrivateConsent(DEST_SELECTOR, opened.commitment, false)).wait();
      const args = [opened.opening, opened.revocationHash, opened.signature, Category.LABORATORY, Purpose.TREAT] as const;
      expect(await cc.home.consent.privateConsentAllows(...args)).to.equal(true);
      expect((await cc.mirror.privateConsentState(opened.commitment)).grantedAt).to.be.greaterThan(0n);
      expect(await cc.mirror.privateConsentAllows(...args)).to.equal(false);
    });
  });

  describe("prediction on the destination", function () {
    it("accepts a request on the destination's router under mirrored consent, fulfils it through the Operator, and refuses after the revocation lands", async function () {
      const cc = await networkHelpers.loadFixture(crossChainFixture);
      const { patient, provider, oracle } = cc.home.actors;
      const request = async () => {
        const inputHash = randomHash();
        return cc.destRouter.connect(provider).requestPrediction(patient.address, 1, inputHash, blobUri(inputHash));
      };
      await expect(request()).to.be.revertedWithCustomError(cc.destRouter, "NotAuthorisedToRequest").withArgs(provider.address, patient.address);
      await grant(cc, provider.address, Purpose.TREATDS, PREDICTION);
      await (await sync(cc, provider.address, Purpose.TREATDS)).wait();

      const receipt = (await (await request()).wait())!;
      const [job] = jobsFromReceipt(receipt, await cc.destOperator.getAddress(), await cc.destRouter.getAddress());
      expect(job?.requester).to.equal(provider.address);
      expect(job?.keysHash).to.equal(cc.keysHash);
      const resultHash = randomHash();
      const data = encodeFulfilment({ requestId: job!.requestId, resultHash, resultUri: blobUri(resultHash) });
      await (await cc.destOperator.connect(oracle).fulfillOracleRequest2(job!.requestId, job!.payment, job!.callbackAddress, job!.callbackFunctionId, job!.expiration, data, { gasLimit: 2_000_000 })).wait();
      const state = await cc.destRouter.getRequest(job!.requestId);
      expect(state.status).to.equal(BigInt(RequestStatus.Fulfilled));
      expect(state.resultHash).to.equal(resultHash);

      await (await cc.home.consent.connect(patient).revokeConsent(provider.address, Purpose.TREATDS)).wait();
      await (await sync(cc, provider.address, Purpose.TREATDS)).wait();
      await expect(request()).to.be.revertedWithCustomError(cc.destRouter, "NotAuthorisedToRequest").withArgs(provider.address, patient.address);
      expect(await cc.destRouter.identityRegistry()).to.equal(cc.dest.addresses.IdentityRegistry);
    });
  });

  describe("fees and governance", function () {
    it("charges the caller the CCIP fee in native (refunding the excess) or in LINK, as quoted", async function () {
      const cc = await networkHelpers.loadFixture(crossChainFixture);
      const { patient, provider, stranger } = cc.home.actors;
      const fee = 10n ** 15n;
      await (await cc.ccipRouter.setFee(fee)).wait();
      for (const kind of [Kind.Consent, Kind.Epoch, Kind.Record, Kind.PrivateConsent]) {
        expect(await cc.bridge.quoteFee(DEST_SELECTOR, kind, false)).to.equal(fee);
        expect(await cc.bridge.quoteFee(DEST_SELECTOR, kind, true)).to.equal(fee);
      }
      await expect(cc.bridge.quoteFee(DEST_SELECTOR, 9, false)).to.be.revertedWithCustomError(cc.bridge, "UnknownMessageKind").withArgs(9);
      await grant(cc, provider.address, Purpose.TREATDS, PREDICTION);

      const args = [DEST_SELECTOR, patient.address, provider.address, Purpose.TREATDS] as const;
      await expect(cc.bridge.connect(stranger).syncConsent(...args, false, { value: fee - 1n })).to.be.revertedWithCustomError(cc.bridge, "InsufficientFee").withArgs(fee - 1n, fee);
      const routerAddress = await cc.ccipRouter.getAddress();
      const native = cc.bridge.connect(stranger).syncConsent(...args, false, { value: 3n * fee });
      await expect(native).to.changeEtherBalances(ethers, [stranger, routerAddress, cc.bridge], [-fee, fee, 0n]);
      await expect(native).to.emit(cc.bridge, "SnapshotSent");

      await expect(cc.bridge.connect(stranger).syncConsent(...args, true)).to.be.revertedWith("ERC20: insufficient allowance");
      await (await cc.simulator.requestLinkFromFaucet(stranger.address, 10n * fee)).wait();
      await (await cc.ccipLink.connect(stranger).approve(await cc.bridge.getAddress(), fee)).wait();
      await expect(cc.bridge.connect(stranger).syncConsent(...args, true, { value: 1n })).to.be.revertedWithCustomError(cc.bridge, "UnexpectedValue").withArgs(1n);
      const tx = cc.bridge.connect(stranger).syncConsent(...args, true);
      await expect(tx).to.changeTokenBalances(ethers, cc.ccipLink, [stranger, routerAddress, cc.bridge], [-fee, fee, 0n]);
      const sent = (await (await tx).wait())!.logs.map((l) => cc.bridge.interface.parseLog(l)).find((p) => p?.name === "SnapshotSent")!;
      expect([sent.args.fee, sent.args.paidInLink, sent.args.sequence]).to.deep.equal([fee, true, 2n]);
      expect(await cc.mirror.hasAccess(provider.address, patient.address, Category.PREDICTION, Purpose.TREATDS)).to.equal(true);
      // A caller that cannot take the excess back (a contract without a receive function, here
      // the home ConsentManager impersonated) gets a revert, not a silent loss.
      const refuser = await ethers.getImpersonatedSigner(cc.home.addresses.ConsentManager);
      await networkHelpers.setBalance(refuser.address, 10n ** 18n);
      await expect(cc.bridge.connect(refuser).syncConsent(...args, false, { value: fee + 1n }))
        .to.be.revertedWithCustomError(cc.bridge, "RefundFailed").withArgs(refuser.address, 1n);
      await expect(cc.bridge.connect(refuser).syncConsent(...args, false, { value: fee })).to.emit(cc.bridge, "SnapshotSent");
      expect(await cc.bridge.linkToken()).to.equal(await cc.ccipLink.getAddress());
      expect(await cc.bridge.ccipRouter()).to.equal(routerAddress);
    });

    it("lets only governance allow, re-point and remove destinations, within CCIP's gas cap", async function () {
      const cc = await networkHelpers.loadFixture(crossChainFixture);
      const { governance, stranger, patient, provider } = cc.home.actors;
      const mirror = await cc.mirror.getAddress();
      const base = CCIP_NETWORKS.baseSepolia.chainSelector;
      await expect(cc.bridge.connect(stranger).setDestination(base, mirror, 200_000)).to.be.revertedWithCustomError(cc.bridge, "NotGovernance").withArgs(stranger.address);
      await expect(cc.bridge.connect(governance).setDestination(base, mirror, 0)).to.be.revertedWithCustomError(cc.bridge, "InvalidGasLimit").withArgs(0);
      const max = await cc.bridge.MAX_GAS_LIMIT();
      await expect(cc.bridge.connect(governance).setDestination(base, mirror, max + 1n)).to.be.revertedWithCustomError(cc.bridge, "InvalidGasLimit").withArgs(max + 1n);
      await expect(cc.bridge.connect(governance).setDestination(base, mirror, max)).to.emit(cc.bridge, "DestinationSet").withArgs(base, mirror, max);
      const configured = await cc.bridge.destinationOf(base);
      expect([configured.receiver, configured.gasLimit]).to.deep.equal([mirror, max]);
      await expect(cc.bridge.connect(governance).setDestination(base, ethers.ZeroAddress, 0)).to.emit(cc.bridge, "DestinationRemoved").withArgs(base);
      expect((await cc.bridge.destinationOf(base)).receiver).to.equal(ethers.ZeroAddress);
      for (const send of [
        () => cc.bridge.syncConsent(base, patient.address, provider.address, Purpose.TREAT, false),
        () => cc.bridge.syncEpoch(base, patient.address, false),
        () => cc.bridge.quoteFee(base, Kind.Consent, false),
      ]) await expect(send()).to.be.revertedWithCustomError(cc.bridge, "UnknownDestination").withArgs(base);
    });

    it("checks its wiring at deployment", async function () {
      const cc = await networkHelpers.loadFixture(crossChainFixture);
      const { home, dest } = cc;
      const router = await cc.ccipRouter.getAddress();
      const link = await cc.ccipLink.getAddress();
      const args = [home.addresses.IdentityRegistry, home.addresses.ConsentManager, home.addresses.RecordRegistry, router, link];
      const Bridge = await ethers.getContractFactory("ConsentBridge");
      for (let i = 0; i < args.length; i++) {
        const broken = args.map((a, j) => (j === i ? ethers.ZeroAddress : a));
        await expect(Bridge.deploy(...(broken as [string, string, string, string, string]))).to.be.revertedWithCustomError(Bridge, "ZeroAddress");
      }
      await expect(Bridge.deploy(home.addresses.IdentityRegistry, dest.addresses.ConsentManager, home.addresses.RecordRegistry, router, link))
        .to.be.revertedWithCustomError(Bridge, "IdentityRegistryMismatch").withArgs(dest.addresses.ConsentManager, dest.addresses.IdentityRegistry);
      await expect(Bridge.deploy(home.addresses.IdentityRegistry, home.addresses.ConsentManager, dest.addresses.RecordRegistry, router, link))
        .to.be.revertedWithCustomError(Bridge, "IdentityRegistryMismatch").withArgs(dest.addresses.RecordRegistry, dest.addresses.IdentityRegistry);
      const Mirror = await ethers.getContractFactory("ConsentMirror");
      const bridge = await cc.bridge.getAddress();
      await expect(Mirror.deploy(dest.addresses.IdentityRegistry, router, HOME_SELECTOR, ethers.ZeroAddress)).to.be.revertedWithCustomError(Mirror, "ZeroAddress");
      await expect(Mirror.deploy(dest.addresses.IdentityRegistry, ethers.ZeroAddress, HOME_SELECTOR, bridge)).to.be.revertedWithCustomError(Mirror, "InvalidRouter").withArgs(ethers.ZeroAddress);
      await expect(Mirror.deploy(ethers.ZeroAddress, router, HOME_SELECTOR, bridge)).to.be.revertedWithCustomError(Mirror, "ZeroAddress");
      expect(await cc.mirror.identityRegistry()).to.equal(dest.addresses.IdentityRegistry);
      expect(await cc.mirror.getRouter()).to.equal(router);
    });
  });
});
