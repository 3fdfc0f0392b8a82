/**
 * The ingestion firewall over real HTTP on loopback, against the real EDR chain with the suite
 * deployed (the oracle test world: chain access policy, patients registered with their keys
 * stored), with real SEAL; and once end to end through the oracle daemon.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";

import { expect } from "chai";
import { getBytes, hexlify, randomBytes, Wallet, ZeroHash } from "ethers";

import { BaseError } from "../../core/errors.js";
import { sha256Hex, type Sha256Hex } from "../../core/hash.js";
import { readBlobHeader } from "../../fhe/blob.js";
import { inputExpectation, openCiphertextBlob, writeCiphertextBlob } from "../../fhe/ciphertext-blob.js";
import { scoreReading } from "../../fhe/model.js";
import { loadModel } from "../../fhe/modelFile.js";
import { FheClient } from "../../fhe/client.js";
import { parameterContext, sealMemoryBytes } from "../../fhe/seal.js";
import { createIngestFirewall } from "../../gateway/firewall.js";
import { startOracle, type OracleHandle } from "../../oracle/daemon.js";
import { readAuditLogFile } from "../../gateway/audit/auditLog.js";
import { Category } from "../../protocol/codes.js";
import { releaseProver } from "../../protocol/zk/prove.js";
import { encodeAuthHeader, FIREWALL_PATH_PREFIX, gatewayDomain, HEADER_AUTH, REQUEST_TYPES, type GatewayRequestFields } from "../../protocol/gateway.js";
import { createGatewayClient } from "../../sdk/gateway/client.js";
import { agreement, bitsOf, inputHashBit, recoverBits, subvertedEncryptions } from "../fhe/helpers/subverted.js";
import { joinPatientGroup, prepareAnonymousRequest, uploadBeforeSubmission } from "../oracle/helpers/anonymous.js";
import { createWorld, logSink, READINGS, waitFor, type World } from "../oracle/helpers/world.js";

const maternal = loadModel("maternal-risk-v1");
const Status = { Pending: 1n, Fulfilled: 2n };

async function refusal(promise: Promise<unknown>): Promise<BaseError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(BaseError);
    return error as BaseError;
  }
  expect.fail("expected the gateway to refuse");
}

const auditEntries = (world: World) => readAuditLogFile(join(world.dir, "gateway", "audit.jsonl"));

/** Every file under the gateway's blob directory (the store writes one per blob). */
async function storedBlobFiles(world: World): Promise<string[]> {
  const entries = await readdir(join(world.dir, "gateway", "blobs"), { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => entry.name).sort();
}

describe("gateway: the ingestion firewall (POST /v1/firewall/he-input/:rawId)", function () {
  this.timeout(180_000);
  let world: World;
  const upload = (world: World, p = 0) => ({ owner: world.patients[p]!.address, category: Category.PREDICTION });

  before(async function () {
    world = await createWorld({ patients: 2, firewall: "required" });
  });
  after(async function () {
    await world?.close();
    // The anonymous test proves with snarkjs, whose curve workers keep mocha alive until ended.
    await releaseProver();
  });

  it("stores the re-randomised input, not the raw one, and returns its id; the patient reads it back", async function () {
    const alice = world.patients[0]!;
    const raw = alice.fhe.encrypt(maternal, READINGS["maternal-risk-v1"]);
    const reply = await alice.gateway.putFirewalled(raw, { ...upload(world), keysHash: alice.keysHash });
    expect(reply.rawBlobId).to.equal(sha256Hex(raw));
    expect(reply.blobId).to.not.equal(reply.rawBlobId);
    expect(reply.keysHash).to.equal(alice.keysHash.toLowerCase());
    const stored = await alice.gateway.get(reply.blobId, { purpose: 0 });
    expect(sha256Hex(stored)).to.equal(reply.blobId);
    expect(reply.size).to.equal(stored.length);
    expect(readBlobHeader(stored)).to.deep.include({ kind: "input", seeded: false, binding: maternal.encodingSpecHash, paramSetId: "ckks-2048-v1" });
    expect((await refusal(alice.gateway.get(reply.rawBlobId, { purpose: 0 }))).code, "the raw bytes are not stored").to.equal("GATEWAY_BLOB_NOT_FOUND");
    const write = (await auditEntries(world)).find((e) => e.blobId === reply.blobId && e.action === "write");
    expect(write, "the stored blob's write is audited").to.include({ outcome: "granted", reason: "owner" });
  });

  it("refuses a direct he-input upload when required: 403 GATEWAY_FIREWALL_REQUIRED, nothing stored, refusal audited", async function () {
    const alice = world.patients[0]!;
    const raw = alice.fhe.encrypt(maternal, READINGS["maternal-risk-v1"]);
    const before = await storedBlobFiles(world);
    const error = await refusal(alice.gateway.put(raw, { ...upload(world), kind: "he-input" }));
    expect(error.code).to.equal("GATEWAY_FIREWALL_REQUIRED");
    expect((error as { status?: number }).status).to.equal(403);
    expect(await storedBlobFiles(world)).to.deep.equal(before);
    const refused = (await auditEntries(world)).find((e) => e.blobId === sha256Hex(raw) && e.outcome === "refused");
    expect(refused).to.include({ action: "write", reason: "GATEWAY_FIREWALL_REQUIRED" });
    // Other kinds are not the firewall's: a record still goes straight in.
    expect(await alice.gateway.put(randomBytes(64), { owner: alice.address, kind: "record", category: Category.PREDICTION })).to.match(/^0x/);
  });

  it("refuses an input under another patient's key, for another patient without consent, of another parameter set, or malformed: clear codes, nothing stored", async function () {
    const [alice, bob] = world.patients as [World["patients"][0], World["patients"][0]];
    const underBob = bob.fhe.encrypt(maternal, READINGS["maternal-risk-v1"]);
    const before = await storedBlobFiles(world);

    const mismatch = await refusal(alice.gateway.putFirewalled(underBob, { ...upload(world), keysHash: bob.keysHash }));
    expect(mismatch.code).to.equal("GATEWAY_FIREWALL_KEY_MISMATCH");
    expect(mismatch.details).to.deep.include({ expected: alice.keysHash.toLowerCase(), asserted: bob.keysHash.toLowerCase() });

    const foreign = await refusal(alice.gateway.putFirewalled(underBob, upload(world, 1)));
    expect(foreign.code).to.equal("GATEWAY_FORBIDDEN");

    const raw = alice.fhe.encrypt(maternal, READINGS["maternal-risk-v1"]);
    const otherSet = Uint8Array.from(raw);
    otherSet.set(new TextEncoder().encode("ckks-8192-v1"), 8);
    const wrongSet = await refusal(alice.gateway.putFirewalled(otherSet, upload(world)));
    expect(wrongSet.code).to.equal("GATEWAY_FIREWALL_WRONG_PARAMETER_SET");
    expect(wrongSet.details).to.deep.include({ expected: "ckks-2048-v1", actual: "ckks-8192-v1" });

    const ctx = await parameterContext(maternal.paramSetId);
    const [sealBytes] = openCiphertextBlob(ctx, alice.fhe.encrypt(maternal, READINGS["maternal-risk-v1"], { form: "full", codec: "raw" }), inputExpectation(ctx)).ciphertexts;
    const unreduced = Uint8Array.from(sealBytes!);
    new DataView(unreduced.buffer).setBigUint64(113 + 8 * 3, 2n ** 54n - 1n, true);
    const crafted = writeCiphertextBlob(ctx, "input", [unreduced], { chainIndex: 0, size: 2, scaleLog2: 27, seeded: false }, { codec: "raw", readings: 0, binding: maternal.encodingSpecHash });
    const malformed = await refusal(alice.gateway.putFirewalled(crafted, upload(world)));
    expect(malformed.code).to.equal("GATEWAY_FIREWALL_MALFORMED_INPUT");
    expect(malformed.details).to.deep.include({ engineCode: "FHE_COEFFICIENT_NOT_REDUCED" });
    expect((await refusal(alice.gateway.putFirewalled(raw.subarray(0, 2000), upload(world)))).details).to.deep.include({ engineCode: "FHE_MALFORMED_BLOB" });

    const stranger = createGatewayClient({ url: world.gatewayUrl, signer: Wallet.createRandom(), chainId: world.chainId, gatewayAddress: world.gatewayKey.address });
    const strangerAddress = await stranger.putFirewalled(raw, { owner: Wallet.createRandom().address, category: Category.PREDICTION }).catch((error: BaseError) => error.code);
    expect(strangerAddress).to.equal("GATEWAY_FORBIDDEN");

    expect(await storedBlobFiles(world)).to.deep.equal(before);
    const refused = (await auditEntries(world)).filter((e) => e.outcome === "refused" && e.actor.toLowerCase() === alice.address.toLowerCase()).map((e) => e.reason);
    expect(refused).to.include.members(["GATEWAY_FIREWALL_KEY_MISMATCH", "GATEWAY_FIREWALL_WRONG_PARAMETER_SET", "GATEWAY_FIREWALL_MALFORMED_INPUT"]);
  });

  it("binds the signature to the raw bytes and answers a re-sent request with its original reply", async function () {
    const alice = world.patients[0]!;
    const sign = (f: GatewayRequestFields) => alice.signer.signTypedData(gatewayDomain(world.chainId), REQUEST_TYPES, f);
    const raw = alice.fhe.encrypt(maternal, READINGS["maternal-risk-v1"]);
    const rawId = sha256Hex(raw);
    const fields: GatewayRequestFields = {
      method: "FIREWALL", blobId: rawId, purpose: 0, owner: alice.address, kind: "he-input", category: Category.PREDICTION, ref: ZeroHash,
      timestamp: Math.floor(Date.now() / 1000), nonce: hexlify(randomBytes(32)), gateway: world.gatewayKey.address,
    };
    const signature = await sign(fields);
    const { method: _m, blobId: _b, ...rest } = fields;
    const header = encodeAuthHeader({ ...rest, signer: alice.address, chainId: world.chainId, signature });
    const send = (body: Uint8Array) => fetch(`${world.gatewayUrl}${FIREWALL_PATH_PREFIX}${rawId}`, { method: "POST", body: Buffer.from(body), headers: { [HEADER_AUTH]: header } });

    const tampered = Uint8Array.from(raw);
    tampered[tampered.length - 1] = tampered[tampered.length - 1]! ^ 1;
    // Another body under the same signed id: refused, and the nonce is spent on nothing stored.
    const first = await send(tampered);
    expect(first.status).to.equal(422);
    expect(((await first.json()) as { error: { code: string } }).error.code).to.equal("GATEWAY_BLOB_INTEGRITY");
    // A new nonce for the real attempt, then the same signed request twice.
    fields.nonce = hexlify(randomBytes(32));
    const signature2 = await sign(fields);
    const header2 = encodeAuthHeader({ ...rest, nonce: fields.nonce, signer: alice.address, chainId: world.chainId, signature: signature2 });
    const post = () => fetch(`${world.gatewayUrl}${FIREWALL_PATH_PREFIX}${rawId}`, { method: "POST", body: Buffer.from(raw), headers: { [HEADER_AUTH]: header2 } });
    const once = await post();
    expect(once.status).to.equal(201);
    const again = await post();
    expect(again.status).to.equal(201);
    const [a, b] = [(await once.json()) as { blobId: string }, (await again.json()) as { blobId: string }];
    expect(b.blobId, "a retry gets the original blob, not a second re-randomisation").to.equal(a.blobId);
    // The same signature on the direct-upload route is another request (method PUT): refused.
    const replayAsPut = await fetch(`${world.gatewayUrl}/v1/blobs/${rawId}`, { method: "PUT", body: Buffer.from(raw), headers: { [HEADER_AUTH]: header2 } });
    expect(replayAsPut.status).to.equal(401);
  });

  it("a subverted client leaking 64 bits through its randomness: the bits are on the wire, not in what the gateway stores and the chain commits", async function () {
    const alice = world.patients[0]!;
    const secret = bitsOf(getBytes(Wallet.createRandom().privateKey), 64);
    const raw = subvertedEncryptions(() => alice.fhe.encrypt(maternal, READINGS["maternal-risk-v1"]), secret, inputHashBit);
    expect(recoverBits(raw, inputHashBit)).to.deep.equal(secret);
    const stored: Uint8Array[] = [];
    for (const bytes of raw) {
      const { blobId } = await alice.gateway.putFirewalled(bytes, upload(world));
      stored.push(await alice.gateway.get(blobId, { purpose: 0 }));
    }
    const recovered = recoverBits(stored, inputHashBit);
    expect(agreement(recovered, secret)).to.be.within(16, 48);
    expect(recovered).to.not.deep.equal(secret);
  });

  it("takes an anonymous request's input as proven (its inputHash is inside the proof), under required too", async function () {
    const member = await joinPatientGroup(world, world.patients[1]!);
    const prepared = await prepareAnonymousRequest(world, member, { slot: 3 });
    await uploadBeforeSubmission(prepared);
    expect(sha256Hex(await prepared.gateway.get(prepared.request.inputHash, { purpose: 0 }))).to.equal(prepared.request.inputHash);
  });

  it("end to end: the oracle evaluates the firewalled input the chain names, and the patient decrypts the plaintext model's answer", async function () {
    const logs = logSink();
    let oracle: OracleHandle | undefined;
    try {
      oracle = await startOracle({ settings: world.settings(), logDestination: logs.stream });
      const alice = world.patients[0]!;
      const { requestId, input } = await world.request(alice, "maternal-risk-v1");
      const request = await waitFor(async () => {
        const r = await world.status(requestId);
        return r.status === Status.Pending ? undefined : r;
      }, "fulfilment");
      expect(request.status).to.equal(Status.Fulfilled);
      expect(request.inputHash.toLowerCase()).to.equal(sha256Hex(input));
      expect(readBlobHeader(input).seeded, "the evaluated input is the firewall's (full), not the client's (seeded)").to.equal(false);
      const result = await alice.gateway.get(request.resultHash, { purpose: 0 });
      const [prediction] = alice.fhe.decrypt(maternal, result, { inputHash: sha256Hex(input) as Sha256Hex });
      const plain = scoreReading(maternal, READINGS["maternal-risk-v1"]);
      prediction!.scores.forEach((s, i) => expect(Math.abs(s - plain[i]!)).to.be.at.most(maternal.output.scoreNoise.single + 0.5 * 10 ** -maternal.output.scoreDecimals));
    } finally {
      await oracle?.stop();
    }
  });
});

describe("gateway: the firewall's key cache", function () {
  this.timeout(60_000);

  it("keeps at most maxCachedKeys loaded, reloads an evicted key, frees what it evicts", async function () {
    const clients = await Promise.all([0, 1, 2].map(() => FheClient.generate("ckks-2048-v1")));
    const keys = new Map(clients.map((client) => {
      const blob = client.evaluationKeys();
      return [sha256Hex(blob), blob] as const;
    }));
    const owners = [...keys.keys()].map((keysHash) => ({ owner: Wallet.createRandom().address, keysHash }));
    const loads: string[] = [];
    const firewall = createIngestFirewall({
      mode: "required",
      keySetOf: async (owner) => ({ keysHash: owners.find((o) => o.owner === owner)!.keysHash, paramSetId: "ckks-2048-v1" }),
      loadKeys: async (keysHash) => {
        loads.push(keysHash);
        return keys.get(keysHash);
      },
      maxCachedKeys: 2,
    });
    try {
      const inputOf = (i: number) => clients[i]!.encrypt(maternal, READINGS["maternal-risk-v1"]);
      for (const i of [0, 1, 0, 2, 1]) await firewall.firewall(owners[i]!.owner, inputOf(i));
      expect(firewall.cachedKeys()).to.equal(2);
      // 0 and 1 loaded; 0 a hit; 2 evicts 1 (least recently used); 1 loaded again.
      expect(loads).to.deep.equal([0, 1, 2, 1].map((i) => owners[i]!.keysHash));
      const heap = sealMemoryBytes();
      for (let round = 0; round < 20; round++) for (const i of [0, 1, 2]) await firewall.firewall(owners[i]!.owner, inputOf(i));
      expect(sealMemoryBytes(), "evicted keys are freed: the SEAL heap does not grow").to.equal(heap);
      expect(firewall.cachedKeys()).to.equal(2);
    } finally {
      firewall.dispose();
      for (const client of clients) client.dispose();
    }
  });

  it("a concurrent request holding a key keeps it usable while another evicts it", async function () {
    const clients = await Promise.all([0, 1].map(() => FheClient.generate("ckks-2048-v1")));
    const blobs = clients.map((client) => client.evaluationKeys());
    const owners = blobs.map((blob) => ({ owner: Wallet.createRandom().address, keysHash: sha256Hex(blob) }));
    const firewall = createIngestFirewall({
      mode: "required",
      keySetOf: async (owner) => ({ keysHash: owners.find((o) => o.owner === owner)!.keysHash, paramSetId: "ckks-2048-v1" }),
      loadKeys: async (keysHash) => blobs[owners.findIndex((o) => o.keysHash === keysHash)],
      maxCachedKeys: 1,
    });
    try {
      const results = await Promise.all([0, 1, 0, 1, 0, 1].map((i) => firewall.firewall(owners[i]!.owner, clients[i]!.encrypt(maternal, READINGS["maternal-risk-v1"]))));
      expect(results.every((r) => readBlobHeader(r.blob).seeded === false)).to.equal(true);
      expect(firewall.cachedKeys()).to.equal(1);
    } finally {
      firewall.dispose();
      for (const client of clients) client.dispose();
    }
  });
});

