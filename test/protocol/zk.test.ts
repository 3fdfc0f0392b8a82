/**
 * protocol/zk: the pinned circuit files, derived identities, the scope and message formulas, and
 * real Semaphore v4 proofs made and verified with the pinned files (no mocks: snarkjs proves).
 */
import { hkdfSync } from "node:crypto";
import { readFile } from "node:fs/promises";

import { expect } from "chai";
import { getAddress, Wallet } from "ethers";

import { bytesToBase64Url, utf8ToBytes } from "../../core/bytes.js";
import { deriveSecret } from "../../core/crypto/derive.js";
import { sha256Hex } from "../../core/hash.js";
import { hexToBytes } from "../../core/hex.js";
import {
  checkGroupAccessBinding, decodeGroupAccess, encodeGroupAccess, groupAccessMessage, groupAccessScope, proveGroupAccess,
  type GroupAccessExpectation,
} from "../../protocol/zk/access.js";
import { loadSemaphoreArtifacts, SEMAPHORE_ARTIFACT_FILES, SEMAPHORE_ARTIFACT_SHA256, type SemaphoreArtifacts } from "../../protocol/zk/artifacts.js";
import { ZkArtifactError, ZkBindingError, ZkGroupHistoryError, ZkMalformedProofError, ZkNotMemberError } from "../../protocol/zk/errors.js";
import { memberSiblings, parseGroupEvents, rebuildGroup, SEMAPHORE_GROUP_EVENTS, type GroupEvent } from "../../protocol/zk/groupHistory.js";
import { derivePatientIdentity, Identity, PATIENT_IDENTITY_LABEL, randomIdentity } from "../../protocol/zk/identity.js";
import { anonymousMessage, anonymousRequestIdFor, anonymousScope, currentEpoch, type AnonymousRequest } from "../../protocol/zk/predict.js";
import { Group, proveMembership, releaseProver, toSolidityProof, verifyOffChain, type SemaphoreProof } from "../../protocol/zk/prove.js";
import { DEFAULT_SEMAPHORE_ARTIFACT_DIRECTORY, readSemaphoreArtifacts } from "../../sdk/node/semaphoreArtifacts.js";
import { abiEncode, keccakBig, keccakHex, packedAddressUint } from "./abiWords.js";

const CHAIN_ID = 31337n;
const ROUTER = getAddress("0x5fbdb2315678afecb367f032d93f642f64180aa3");
const PRIVACY_GROUPS = getAddress("0xe7f1725e7734ce288f8367e1bb143e90bb3f0512");
const GATEWAY = getAddress("0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0");

const request: AnonymousRequest = {
  modelId: 3, epoch: 20_424, slot: 2, accessKey: getAddress("0x70997970c51812dc3a010c7d01b50e0d17dc79c8"),
  inputHash: sha256Hex(utf8ToBytes("input")), keysHash: sha256Hex(utf8ToBytes("keys")), inputUri: "medcipher://blobs/0xabc",
};

async function expectRejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
}

describe("protocol/zk: Semaphore artifacts, identities, formulas and proofs", function () {
  this.timeout(180_000);
  let artifacts: SemaphoreArtifacts;
  before(async () => { artifacts = await readSemaphoreArtifacts(); });
  after(() => releaseProver());

  describe("artifacts", () => {
    it("the pinned digests are circuits/semaphore/SHA256SUMS, and the files on disk match them", async () => {
      const sums = await readFile(new URL("SHA256SUMS", DEFAULT_SEMAPHORE_ARTIFACT_DIRECTORY), "utf8");
      const listed = Object.fromEntries(sums.trim().split("\n").map((line) => { const [digest, file] = line.split(/\s+/); return [file, `0x${digest}`]; }));
      for (const kind of ["wasm", "zkey", "verificationKey"] as const) {
        expect(listed[SEMAPHORE_ARTIFACT_FILES[kind]], kind).to.equal(SEMAPHORE_ARTIFACT_SHA256[kind]);
        expect(sha256Hex(await readFile(new URL(SEMAPHORE_ARTIFACT_FILES[kind], DEFAULT_SEMAPHORE_ARTIFACT_DIRECTORY))), kind).to.equal(SEMAPHORE_ARTIFACT_SHA256[kind]);
      }
      expect(sha256Hex(artifacts.wasm)).to.equal(SEMAPHORE_ARTIFACT_SHA256.wasm);
    });

    it("refuses a file whose digest differs (one flipped byte), naming the file and both digests", async () => {
      const error = await expectRejection(loadSemaphoreArtifacts(async (kind) => {
        if (kind === "wasm") return artifacts.wasm;
        const copy = artifacts.zkey.slice();
        copy[1000] = copy[1000]! ^ 1;
        return copy;
      }));
      expect(error).to.be.instanceOf(ZkArtifactError);
      expect((error as ZkArtifactError).code).to.equal("ZK_ARTIFACT_DIGEST");
      expect((error as ZkArtifactError).details).to.include({ kind: "zkey", file: "semaphore-20.zkey", expected: SEMAPHORE_ARTIFACT_SHA256.zkey });
    });

    it("a file that cannot be read is ZK_ARTIFACT_UNAVAILABLE", async () => {
      const error = await expectRejection(readSemaphoreArtifacts(new URL("file:///nonexistent/semaphore/")));
      expect((error as ZkArtifactError).code).to.equal("ZK_ARTIFACT_UNAVAILABLE");
    });
  });

  describe("identities", () => {
    const secret = hexToBytes(Wallet.createRandom().privateKey);
    const context = { chainId: CHAIN_ID, privacyGroups: PRIVACY_GROUPS };

    it("a patient's identity is the same every time from the same key and deployment (recoverable)", () => {
      const first = derivePatientIdentity(secret, context);
      const again = derivePatientIdentity(secret.slice(), { ...context, privacyGroups: PRIVACY_GROUPS.toLowerCase() });
      expect(again.commitment).to.equal(first.commitment);
      expect(Identity.import(first.export()).commitment).to.equal(first.commitment);
    });

    it("another key, chain, contract or generation gives another identity", () => {
      const base = derivePatientIdentity(secret, context).commitment;
      const other = new Set([
        derivePatientIdentity(hexToBytes(Wallet.createRandom().privateKey), context).commitment,
        derivePatientIdentity(secret, { ...context, chainId: 1n }).commitment,
        derivePatientIdentity(secret, { ...context, privacyGroups: GATEWAY }).commitment,
        derivePatientIdentity(secret, { ...context, generation: 1 }).commitment,
      ]);
      expect(other.size).to.equal(4);
      expect(other.has(base)).to.equal(false);
    });

    it("the derivation is RFC 5869 HKDF-SHA256 (label as salt), checked against node:crypto", () => {
      const info = utf8ToBytes("context");
      const expected = new Uint8Array(hkdfSync("sha256", secret, utf8ToBytes(PATIENT_IDENTITY_LABEL), info, 32));
      expect(deriveSecret(secret, PATIENT_IDENTITY_LABEL, info)).to.deep.equal(expected);
      expect(() => deriveSecret(new Uint8Array(8), PATIENT_IDENTITY_LABEL)).to.throw(RangeError);
    });

    it("researchers' identities are fresh", () => {
      expect(randomIdentity().commitment).not.to.equal(randomIdentity().commitment);
    });
  });

  describe("formulas (against an independent ABI encoding)", () => {
    it("anonymousScope = keccak(abi.encode(\"medcipher.predict.v1\", chainid, router, uint32 epoch, uint16 slot)) >> 8", () => {
      const expected = keccakBig(abiEncode([["string", "medcipher.predict.v1"], ["uint", CHAIN_ID], ["address", ROUTER], ["uint", request.epoch], ["uint", request.slot]])) >> 8n;
      expect(anonymousScope({ chainId: CHAIN_ID, router: ROUTER }, request.epoch, request.slot)).to.equal(expected);
      expect(anonymousScope({ chainId: CHAIN_ID, router: ROUTER }, request.epoch, 3)).not.to.equal(expected);
      expect(expected < 2n ** 248n).to.equal(true);
    });

    it("anonymousMessage commits to every field of the request", () => {
      const expected = keccakBig(abiEncode([
        ["string", "medcipher.predict.v1"], ["uint", CHAIN_ID], ["address", ROUTER], ["uint", request.modelId], ["uint", request.epoch], ["uint", request.slot],
        ["address", request.accessKey], ["bytes32", request.inputHash], ["bytes32", request.keysHash], ["string", request.inputUri],
      ])) >> 8n;
      const context = { chainId: CHAIN_ID, router: ROUTER };
      expect(anonymousMessage(context, request)).to.equal(expected);
      for (const change of [{ modelId: 4 }, { epoch: 1 }, { slot: 0 }, { accessKey: GATEWAY }, { inputHash: request.keysHash }, { keysHash: request.inputHash }, { inputUri: "x" }]) {
        expect(anonymousMessage(context, { ...request, ...change }), JSON.stringify(change)).not.to.equal(expected);
      }
    });

    it("anonymousRequestIdFor = keccak(abi.encodePacked(router, uint256(keccak(abi.encode(\"medcipher.anonymous\", nullifier)))))", () => {
      const nullifier = 123456789n;
      const nonce = keccakBig(abiEncode([["string", "medcipher.anonymous"], ["uint", nullifier]]));
      expect(anonymousRequestIdFor(ROUTER, nullifier)).to.equal(keccakHex(packedAddressUint(ROUTER, nonce)));
      expect(anonymousRequestIdFor(ROUTER, nullifier.toString())).to.equal(anonymousRequestIdFor(ROUTER, nullifier));
    });

    it("currentEpoch is whole days since 1970", () => {
      expect(currentEpoch(0)).to.equal(0);
      expect(currentEpoch(86_399)).to.equal(0);
      expect(currentEpoch(86_400)).to.equal(1);
      expect(currentEpoch(1_764_633_600n)).to.equal(20_424);
    });

    it("group access: scope names chain, PrivacyGroups, consent commitment and nonce; message names gateway, method, path, body hash, time", () => {
      const scopeFields = { chainId: CHAIN_ID, privacyGroups: PRIVACY_GROUPS, consentCommitment: keccakHex(utf8ToBytes("c")), nonce: keccakHex(utf8ToBytes("n")) };
      expect(groupAccessScope(scopeFields)).to.equal(keccakBig(abiEncode([["string", "medcipher.access.v1"], ["uint", CHAIN_ID], ["address", PRIVACY_GROUPS], ["bytes32", scopeFields.consentCommitment], ["bytes32", scopeFields.nonce]])) >> 8n);
      const http = { gateway: GATEWAY, method: "GET", path: "/blobs/0xab?purpose=3", bodySha256: sha256Hex(new Uint8Array()), timestamp: 1_764_633_600 };
      expect(groupAccessMessage(http)).to.equal(keccakBig(abiEncode([["string", "medcipher.access.v1"], ["address", GATEWAY], ["string", "GET"], ["string", http.path], ["bytes32", http.bodySha256], ["uint", http.timestamp]])) >> 8n);
      expect(() => groupAccessMessage({ ...http, method: "get" })).to.throw(TypeError);
    });

    // The contracts' own views, and proofs from here verified by PrivacyGroups: test/protocol/zkContracts.test.ts (EDR).
  });

  describe("group history", () => {
    const members = [randomIdentity(), randomIdentity(), randomIdentity(), randomIdentity()];
    const semaphore = getAddress("0xcf7ed3acca5a467e9e704c703e8d87f634fb0fc9");
    const groupId = 7n;

    /** Real Semaphore event logs, ABI-encoded as the contract emits them, from a replay of the same operations on a Group. */
    function historyLogs() {
      const mirror = new Group();
      const logs: { name: string; args: unknown[] }[] = [];
      mirror.addMember(members[0]!.commitment);
      logs.push({ name: "MemberAdded", args: [groupId, 0, members[0]!.commitment, mirror.root] });
      mirror.addMembers([members[1]!.commitment, members[2]!.commitment]);
      logs.push({ name: "MembersAdded", args: [groupId, 1, [members[1]!.commitment, members[2]!.commitment], mirror.root] });
      mirror.updateMember(1, members[3]!.commitment);
      logs.push({ name: "MemberUpdated", args: [groupId, 1, members[1]!.commitment, members[3]!.commitment, mirror.root] });
      mirror.removeMember(0);
      logs.push({ name: "MemberRemoved", args: [groupId, 0, members[0]!.commitment, mirror.root] });
      return {
        mirror,
        logs: logs.map((entry, i) => {
          const encoded = SEMAPHORE_GROUP_EVENTS.encodeEventLog(entry.name, entry.args);
          return { address: semaphore, topics: encoded.topics, data: encoded.data, blockNumber: 10 + Math.floor(i / 2), index: i % 2, removed: false } as never;
        }),
      };
    }

    it("replays MemberAdded / MembersAdded / MemberUpdated / MemberRemoved into the chain's tree, in chain order", () => {
      const { mirror, logs } = historyLogs();
      const shuffled = [logs[3], logs[1], logs[0], logs[2]];
      const group = rebuildGroup(parseGroupEvents(shuffled as never, semaphore, groupId));
      expect(group.root).to.equal(mirror.root);
      expect(group.members).to.deep.equal([0n, members[3]!.commitment, members[2]!.commitment]);
      expect(parseGroupEvents(logs, semaphore, 8n)).to.deep.equal([]);
      expect(parseGroupEvents(logs, GATEWAY, groupId)).to.deep.equal([]);
      expect(memberSiblings(group, members[2]!.commitment)).to.deep.equal(mirror.generateMerkleProof(2).siblings);
      expect(() => memberSiblings(group, members[0]!.commitment)).to.throw(ZkGroupHistoryError);
    });

    it("refuses a history with a missing event or a wrong root", () => {
      const { logs } = historyLogs();
      const events = parseGroupEvents(logs, semaphore, groupId);
      expect(() => rebuildGroup([events[0]!, events[2]!])).to.throw(ZkGroupHistoryError);
      expect(() => rebuildGroup(events.slice(1))).to.throw(ZkGroupHistoryError, /index/);
      const wrongRoot: GroupEvent = { ...events[0]!, root: 1n } as GroupEvent;
      expect(() => rebuildGroup([wrongRoot])).to.throw(ZkGroupHistoryError, /root/);
    });
  });

  describe("proofs with the pinned files", () => {
    const patient = derivePatientIdentity(hexToBytes(Wallet.createRandom().privateKey), { chainId: CHAIN_ID, privacyGroups: PRIVACY_GROUPS });
    const others = [randomIdentity(), randomIdentity(), randomIdentity()];
    const group = new Group([others[0]!.commitment, patient.commitment, others[1]!.commitment]);
    const context = { chainId: CHAIN_ID, router: ROUTER };
    let proof: SemaphoreProof;

    before(async () => {
      proof = await proveMembership({ identity: patient, group, message: anonymousMessage(context, request), scope: anonymousScope(context, request.epoch, request.slot), artifacts });
    });

    it("an anonymous-request proof verifies off-chain and carries the router's scope and message at depth 20", async () => {
      expect(await verifyOffChain(proof)).to.equal(true);
      expect(proof.merkleTreeDepth).to.equal(20);
      expect(BigInt(proof.merkleTreeRoot)).to.equal(group.root);
      expect(BigInt(proof.scope)).to.equal(anonymousScope(context, request.epoch, request.slot));
      expect(BigInt(proof.message)).to.equal(anonymousMessage(context, request));
      const tuple = toSolidityProof(proof);
      expect(tuple.points).to.have.length(8);
      expect(tuple.nullifier).to.equal(BigInt(proof.nullifier));
    });

    it("a tampered proof, or one with another scope, message, root or nullifier, does not verify", async () => {
      const flipped = [...proof.points] as SemaphoreProof["points"];
      flipped[3] = (BigInt(flipped[3]) ^ 1n).toString();
      for (const tampered of [
        { ...proof, points: flipped },
        { ...proof, scope: anonymousScope(context, request.epoch, 3).toString() },
        { ...proof, message: anonymousMessage(context, { ...request, inputUri: "medcipher://other" }).toString() },
        { ...proof, merkleTreeRoot: new Group([patient.commitment]).root.toString() },
        { ...proof, nullifier: (BigInt(proof.nullifier) + 1n).toString() },
      ]) {
        expect(await verifyOffChain(tampered)).to.equal(false);
      }
    });

    it("the same identity and scope give the same nullifier (the per-slot rate limit); another slot another", async () => {
      const again = await proveMembership({ identity: patient, group: group.members, message: 1n, scope: anonymousScope(context, request.epoch, request.slot), artifacts });
      expect(again.nullifier).to.equal(proof.nullifier);
      const otherSlot = await proveMembership({ identity: patient, group, message: 1n, scope: anonymousScope(context, request.epoch, 0), artifacts });
      expect(otherSlot.nullifier).not.to.equal(proof.nullifier);
    });

    it("a non-member, or a removed member, cannot prove (ZK_NOT_MEMBER)", async () => {
      const outsider = await expectRejection(proveMembership({ identity: randomIdentity(), group, message: 1n, scope: 1n, artifacts }));
      expect((outsider as ZkNotMemberError).code).to.equal("ZK_NOT_MEMBER");
      const afterRemoval = new Group(group.members);
      afterRemoval.removeMember(afterRemoval.indexOf(patient.commitment));
      const removed = await expectRejection(proveMembership({ identity: patient, group: afterRemoval, message: 1n, scope: 1n, artifacts }));
      expect(removed).to.be.instanceOf(ZkNotMemberError);
    });

    describe("group access header", () => {
      const researcher = randomIdentity();
      const study = new Group([randomIdentity().commitment, researcher.commitment, randomIdentity().commitment]);
      const consentCommitment = keccakHex(utf8ToBytes("private consent"));
      const body = utf8ToBytes('{"query":"x"}');
      const now = 1_764_633_600;
      const http = { gateway: GATEWAY, method: "POST", path: "/blobs/0xab?purpose=3", bodySha256: sha256Hex(body), timestamp: now };
      const expectation: GroupAccessExpectation = { chainId: CHAIN_ID, privacyGroups: PRIVACY_GROUPS, consentCommitment, gateway: GATEWAY, method: "POST", path: http.path, bodySha256: http.bodySha256, now };
      let header: string;
      before(async () => {
        header = await proveGroupAccess({ identity: researcher, group: study, artifacts, chainId: CHAIN_ID, privacyGroups: PRIVACY_GROUPS, consentCommitment, request: http });
      });

      it("round-trips through the header, binds this request, and verifies", async () => {
        expect(header.length).to.be.lessThan(1600);
        const access = decodeGroupAccess(header);
        expect(encodeGroupAccess(access)).to.equal(header);
        checkGroupAccessBinding(access, expectation);
        expect(await verifyOffChain(access.proof)).to.equal(true);
        expect(BigInt(access.proof.merkleTreeRoot)).to.equal(study.root);
      });

      it("detects another consent, nonce, deployment, method, path, body, gateway or a stale time", () => {
        const access = decodeGroupAccess(header);
        const code = (changes: Partial<GroupAccessExpectation>, a = access) => (thrown(() => checkGroupAccessBinding(a, { ...expectation, ...changes })) as ZkBindingError).code;
        expect(code({ consentCommitment: keccakHex(utf8ToBytes("other")) })).to.equal("ZK_SCOPE_MISMATCH");
        expect(code({}, { ...access, nonce: keccakHex(utf8ToBytes("other nonce")) })).to.equal("ZK_SCOPE_MISMATCH");
        expect(code({ chainId: 1n })).to.equal("ZK_SCOPE_MISMATCH");
        expect(code({ privacyGroups: ROUTER })).to.equal("ZK_SCOPE_MISMATCH");
        expect(code({ method: "GET" })).to.equal("ZK_MESSAGE_MISMATCH");
        expect(code({ path: "/blobs/0xab?purpose=1" })).to.equal("ZK_MESSAGE_MISMATCH");
        expect(code({ bodySha256: sha256Hex(utf8ToBytes("{}")) })).to.equal("ZK_MESSAGE_MISMATCH");
        expect(code({ gateway: ROUTER })).to.equal("ZK_MESSAGE_MISMATCH");
        expect(code({}, { ...access, timestamp: now + 1 })).to.equal("ZK_MESSAGE_MISMATCH");
        expect(code({ now: now + 301 })).to.equal("ZK_STALE");
      });

      it("refuses malformed headers with ZK_PROOF_MALFORMED", () => {
        const json = JSON.parse(new TextDecoder().decode(Buffer.from(header, "base64url"))) as { nonce: string; proof: { root: string; points: string[] } & Record<string, unknown> };
        const encode = (value: unknown) => bytesToBase64Url(utf8ToBytes(JSON.stringify(value)));
        const cases: [string, string][] = [
          ["not base64url", "!!!"],
          ["not JSON", bytesToBase64Url(utf8ToBytes("{"))],
          ["extra key", encode({ ...json, extra: 1 })],
          ["missing key", encode({ v: 1, nonce: json.nonce, proof: json.proof })],
          ["version", encode({ ...json, v: 2 })],
          ["upper-case hex", encode({ ...json, nonce: json.nonce.toUpperCase().replace("0X", "0x") })],
          ["decimal root", encode({ ...json, proof: { ...json.proof, root: BigInt(json.proof.root).toString() } })],
          ["7 points", encode({ ...json, proof: { ...json.proof, points: json.proof.points.slice(1) } })],
          ["point over the field", encode({ ...json, proof: { ...json.proof, points: [`0x${"f".repeat(64)}`, ...json.proof.points.slice(1)] } })],
          ["depth 33", encode({ ...json, proof: { ...json.proof, depth: 33 } })],
          ["fractional time", encode({ ...json, timestamp: 1.5 })],
          ["too long", "A".repeat(5000)],
        ];
        for (const [name, value] of cases) expect(() => decodeGroupAccess(value), name).to.throw(ZkMalformedProofError);
      });
    });
  });
});
