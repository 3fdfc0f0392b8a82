import { join } from "node:path";

import { expect } from "chai";
import { hexlify, randomBytes, Wallet, type Signer } from "ethers";

import { sha256Hex } from "../../core/hash.js";
import { openSecretKey, writeEvaluationKeysBlob } from "../../fhe/keys.js";
import { readAuditLogFile } from "../../gateway/audit/auditLog.js";
import { createCorsPolicy } from "../../gateway/cors.js";
import { Category } from "../../protocol/codes.js";
import { decodeAnonymousUpload, encodeAnonymousUpload, HEADER_ANONYMOUS, HEADER_AUTH } from "../../protocol/gateway.js";
import { releaseProver } from "../../protocol/zk/prove.js";
import { signedPutHeader } from "./helpers.js";
import { gatewayClientFor, joinPatientGroup, prepareAnonymousRequest, submitAnonymous, uploadBeforeSubmission, type AnonymousMember, type PreparedAnonymousRequest } from "../oracle/helpers/anonymous.js";
import { createWorld, type World } from "../oracle/helpers/world.js";

/** The error code and refusal reason a gateway call ended with. */
async function refusal(promise: Promise<unknown>): Promise<{ code?: string; status?: number; reason: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { code?: string; message?: string; details?: { status?: number; reason?: string } };
    return { code: e.code, status: e.details?.status, reason: e.details?.reason ?? e.message ?? String(error) };
  }
  expect.fail("expected the gateway to refuse");
}

/**
 * The gateway's rules for anonymous prediction requests (gateway/anonymousPolicy.ts), all real: the
 * EDR chain with the suite deployed, the gateway on loopback with the chain policy, real CKKS key
 * sets, real Semaphore proofs checked by PredictionRouter.checkAnonymousRequest (eth_call).
 */
describe("gateway: anonymous prediction requests (blobs owned by the one-time accessKey)", function () {
  this.timeout(240_000);
  let world: World;
  let member: AnonymousMember;
  let relayer: Signer;
  let prepared: PreparedAnonymousRequest;
  const opened: PreparedAnonymousRequest[] = [];
  const prepare = async (options: Parameters<typeof prepareAnonymousRequest>[2] = {}) => {
    const p = await prepareAnonymousRequest(world, member, options);
    opened.push(p);
    return p;
  };
  const audit = () => readAuditLogFile(join(world.dir, "gateway", "audit.jsonl"));

  before(async function () {
    world = await createWorld({ patients: 1 });
    member = await joinPatientGroup(world, world.patients[0]!);
    relayer = (await world.ethers.getSigners())[9]!;
    prepared = await prepare({ slot: 0 });
  });
  after(async function () {
    for (const p of opened) p.fhe.dispose();
    await world?.close();
    await releaseProver();
  });

  it("the header codec round-trips and is strict", function () {
    const upload = { request: prepared.request, proof: prepared.proof };
    const header = encodeAnonymousUpload(upload);
    expect(decodeAnonymousUpload(header)).to.deep.equal({ request: { ...upload.request }, proof: upload.proof });
    const json = JSON.parse(Buffer.from(header, "base64url").toString("utf8")) as { request: Record<string, unknown>; proof: Record<string, unknown> };
    const variants: [string, unknown][] = [
      ["extra key", { ...json, extra: 1 }],
      ["missing proof", { request: json.request }],
      ["slot beyond uint16", { ...json, request: { ...json.request, slot: 65_536 } }],
      ["fractional epoch", { ...json, request: { ...json.request, epoch: 1.5 } }],
      ["upper-case hash", { ...json, request: { ...json.request, inputHash: (json.request.inputHash as string).toUpperCase().replace("0X", "0x") } }],
      ["bad address checksum", { ...json, request: { ...json.request, accessKey: flipFirstLetterCase(json.request.accessKey as string) } }],
      ["hex nullifier", { ...json, proof: { ...json.proof, nullifier: `0x${BigInt(json.proof.nullifier as string).toString(16)}` } }],
      ["leading zero", { ...json, proof: { ...json.proof, scope: `0${json.proof.scope as string}` } }],
      ["seven points", { ...json, proof: { ...json.proof, points: (json.proof.points as string[]).slice(0, 7) } }],
      ["depth 0", { ...json, proof: { ...json.proof, merkleTreeDepth: 0 } }],
      ["root beyond the field", { ...json, proof: { ...json.proof, merkleTreeRoot: (2n ** 254n).toString() } }],
    ];
    for (const [what, value] of variants) {
      expect(() => decodeAnonymousUpload(Buffer.from(JSON.stringify(value)).toString("base64url")), what).to.throw(TypeError);
    }
    expect(() => decodeAnonymousUpload("not base64url json!")).to.throw(/not base64url JSON/);
    expect(() => decodeAnonymousUpload("A".repeat(9000))).to.throw(/longer than/);
    // A browser page may send it cross-origin (the preflight allows it).
    const preflight = createCorsPolicy(["https://app.example"]).preflight({ origin: "https://app.example", "access-control-request-headers": `${HEADER_AUTH},${HEADER_ANONYMOUS}` });
    expect(preflight["access-control-allow-headers"]!.split(", ")).to.include(HEADER_ANONYMOUS);
  });

  it("stores the input and fresh public keys before submission, with the proof header; audited as the accessKey's, naming no patient", async function () {
    await uploadBeforeSubmission(prepared);
    const { request, gateway } = prepared;
    expect(hexlify(await gateway.get(request.inputHash, { purpose: 0 }))).to.equal(hexlify(prepared.input));
    expect(hexlify(await gateway.get(request.keysHash, { purpose: 0 }))).to.equal(hexlify(prepared.keys));
    const entries = (await audit()).filter((e) => e.blobId === request.inputHash || e.blobId === request.keysHash);
    expect(entries.filter((e) => e.action === "write").map((e) => e.reason)).to.deep.equal(["anonymous", "anonymous"]);
    for (const e of entries) {
      expect(e.actor).to.equal(request.accessKey);
      expect(e.owner).to.equal(request.accessKey);
    }
    const patient = world.patients[0]!.address.slice(2).toLowerCase();
    expect(JSON.stringify(entries).toLowerCase()).not.to.include(patient);
  });

  it("before submission, takes one request per epoch slot (request id): another one for the same slot is refused", async function () {
    const rival = await prepare({ slot: 0 });
    expect(rival.requestId).to.equal(prepared.requestId); // the id depends on the nullifier only
    const r = await refusal(rival.gateway.putAnonymous(rival.keys, { kind: "he-keys", request: rival.request, proof: rival.proof, requestId: rival.requestId }));
    expect(r.reason).to.match(/another request of this epoch slot/);
    // The first request's own uploads go on being accepted (retries).
    await prepared.gateway.putAnonymous(prepared.keys, { kind: "he-keys", request: prepared.request, proof: prepared.proof, requestId: prepared.requestId });
  });

  it("refuses a proof that does not verify, and a proof of another request (the router's reasons)", async function () {
    const other = await prepare({ slot: 1 });
    const { request, requestId } = other;
    const points = [...other.proof.points] as typeof other.proof.points;
    points[0] = (BigInt(points[0]) + 1n).toString();
    const tampered = await refusal(other.gateway.putAnonymous(other.input, { kind: "he-input", request, requestId, proof: { ...other.proof, points } }));
    expect(tampered.code).to.equal("GATEWAY_FORBIDDEN");
    expect(tampered.reason).to.match(/the router refuses the anonymous request: InvalidMembershipProof/);
    // The first request's proof for this request: its scope is another slot's, its message another request's.
    const foreign = await refusal(other.gateway.putAnonymous(other.input, { kind: "he-input", request, requestId, proof: prepared.proof }));
    expect(foreign.reason).to.match(/ScopeMismatch/);
    // The request edited after proving (another input URI): same refusal.
    const edited = { ...request, inputUri: `${request.inputUri}?x` };
    expect((await refusal(other.gateway.putAnonymous(other.input, { kind: "he-input", request: edited, requestId, proof: other.proof }))).reason).to.match(/MessageMismatch/);
    // A proof for the request, but ref names another request id.
    expect((await refusal(other.gateway.put(other.input, { owner: request.accessKey, kind: "he-input", category: Category.PREDICTION, ref: prepared.requestId, anonymous: { request, proof: other.proof } }))).reason)
      .to.match(/ref is not the anonymous request's id/);
    // Nothing was stored: the accessKey finds no blob.
    expect((await refusal(other.gateway.get(request.inputHash, { purpose: 0 }))).code).to.equal("GATEWAY_BLOB_NOT_FOUND");
  });

  it("refuses bytes other than the request's input or keys (wrong hash), other kinds, and a malformed header", async function () {
    const { request, proof, requestId, gateway } = prepared;
    const bytes = randomBytes(512);
    const upload = { request, proof };
    const wrongInput = await refusal(gateway.put(bytes, { owner: request.accessKey, kind: "he-input", category: Category.PREDICTION, ref: requestId, anonymous: upload }));
    expect(wrongInput.reason).to.match(/not the request's input: its SHA-256 differs from the request's inputHash/);
    const wrongKeys = await refusal(gateway.put(prepared.input, { owner: request.accessKey, kind: "he-keys", category: Category.PREDICTION, ref: requestId, anonymous: upload }));
    expect(wrongKeys.reason).to.match(/keysHash/);
    const record = await refusal(gateway.put(bytes, { owner: request.accessKey, kind: "record", category: Category.PREDICTION, ref: requestId, anonymous: upload }));
    expect(record.reason).to.match(/uploads only its input \(he-input\) and public keys \(he-keys\)/);
    const category = await refusal(gateway.put(prepared.input, { owner: request.accessKey, kind: "he-input", category: Category.PREDICTION - 1, ref: requestId, anonymous: upload }));
    expect(category.reason).to.match(/category PREDICTION/);
    // The client checks the hash itself before signing anything.
    expect((await refusal(gateway.putAnonymous(bytes, { kind: "he-input", request, proof, requestId }))).code).to.equal("SDK_INVALID_INPUT");

    const { blobId, header } = signedPutHeader(world.gatewayKey.address, prepared.accessKey, sha256Hex(prepared.input), { owner: request.accessKey, kind: "he-input", category: Category.PREDICTION, ref: requestId });
    const headers = { [HEADER_AUTH]: header, [HEADER_ANONYMOUS]: "eyJub3QiOiJpdCJ9" }; // {"not":"it"}
    // signedPutHeader signs for chain 31337, which the in-process EDR chain is.
    const response = await fetch(`${world.gatewayUrl}/v1/blobs/${blobId}`, { method: "PUT", body: Buffer.from(prepared.input), headers });
    expect(response.status).to.equal(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).to.match(/Malformed x-medcipher-anonymous header/);
  });

  it("refuses an upload not signed by the request's accessKey", async function () {
    const { request, proof, requestId } = prepared;
    const stranger = Wallet.createRandom();
    const client = gatewayClientFor(world, stranger);
    // Owned by the accessKey, signed by someone else.
    const foreign = await refusal(client.put(prepared.input, { owner: request.accessKey, kind: "he-input", category: Category.PREDICTION, ref: requestId, anonymous: { request, proof } }));
    expect(foreign.reason).to.match(/owned by its accessKey, which signs their upload/);
    // Owned and signed by the stranger, carrying someone else's request.
    const own = await refusal(client.put(prepared.input, { owner: stranger.address, kind: "he-input", category: Category.PREDICTION, ref: requestId, anonymous: { request, proof } }));
    expect(own.reason).to.match(/names another accessKey than the signer/);
    // The patient's own key is not the accessKey either (and must never be needed).
    const patient = world.patients[0]!;
    const named = await refusal(patient.gateway.put(prepared.input, { owner: request.accessKey, kind: "he-input", category: Category.PREDICTION, ref: requestId, anonymous: { request, proof } }));
    expect(named.reason).to.match(/owned by its accessKey/);
    // The client refuses to sign as anyone else.
    expect((await refusal(client.putAnonymous(prepared.input, { kind: "he-input", request, proof, requestId }))).code).to.equal("SDK_INVALID_INPUT");
  });

  it("refuses a secret key as the request's keys (422 GATEWAY_NOT_PUBLIC_KEYS, nothing stored), though the proof commits to it", async function () {
    const { secretKeyBytes } = await openSecretKey(await prepared.fhe.exportSecretKey("pass"), "pass");
    const mistaken = writeEvaluationKeysBlob("ckks-2048-v1", { publicKey: secretKeyBytes });
    const bad = await prepare({ slot: 3, keys: mistaken });
    const r = await refusal(bad.gateway.putAnonymous(mistaken, { kind: "he-keys", request: bad.request, proof: bad.proof, requestId: bad.requestId }));
    expect(r.status).to.equal(422);
    expect(r.code).to.equal("GATEWAY_NOT_PUBLIC_KEYS");
    expect((await refusal(bad.gateway.get(sha256Hex(mistaken), { purpose: 0 }))).code).to.equal("GATEWAY_BLOB_NOT_FOUND");
  });

  it("after submission: the accessKey uploads without a proof (accessKeyOf), only the on-chain hashes; the header no longer matters", async function () {
    const late = await prepare({ slot: 2 });
    const { request, requestId, gateway } = late;
    const withoutProof = await refusal(gateway.putAnonymous(late.input, { kind: "he-input", request, requestId }));
    expect(withoutProof.reason).to.match(/nor the accessKey of an anonymous request on-chain under ref/);
    await submitAnonymous(world, late, relayer);
    expect(await world.suite.router.accessKeyOf(requestId)).to.equal(request.accessKey);
    await gateway.putAnonymous(late.keys, { kind: "he-keys", request, requestId });
    await gateway.putAnonymous(late.input, { kind: "he-input", request, requestId });
    // The proof is spent now (checkAnonymousRequest would revert NullifierSpent): the chain decides, not the header.
    await gateway.putAnonymous(late.input, { kind: "he-input", request, requestId, proof: late.proof });
    const wrong = await refusal(gateway.put(randomBytes(300), { owner: request.accessKey, kind: "he-input", category: Category.PREDICTION, ref: requestId }));
    expect(wrong.reason).to.match(/differs from the request's inputHash/);
    const wrongKeys = await refusal(gateway.put(late.input, { owner: request.accessKey, kind: "he-keys", category: Category.PREDICTION, ref: requestId }));
    expect(wrongKeys.reason).to.match(/differs from the request's keysHash/);
    const stranger = gatewayClientFor(world, Wallet.createRandom());
    expect((await refusal(stranger.put(late.input, { owner: request.accessKey, kind: "he-input", category: Category.PREDICTION, ref: requestId }))).code).to.equal("GATEWAY_FORBIDDEN");
  });

  it("only the accessKey reads the request's blobs: not another key, not the patient's own", async function () {
    const { request } = prepared;
    for (const reader of [gatewayClientFor(world, Wallet.createRandom()), world.patients[0]!.gateway]) {
      for (const blobId of [request.inputHash, request.keysHash]) {
        const r = await refusal(reader.get(blobId, { purpose: 4 }));
        expect(r.code).to.equal("GATEWAY_FORBIDDEN");
      }
      // Naming the request as an oracle does gives nothing without ORACLE_ROLE.
      expect((await refusal(reader.get(request.inputHash, { purpose: 4, ref: prepared.requestId }))).code).to.equal("GATEWAY_FORBIDDEN");
    }
  });
});

/** The checksummed address with one letter's case swapped: the EIP-55 checksum fixes every letter's case, so this one is always wrong. */
function flipFirstLetterCase(address: string): string {
  return `0x${address.slice(2).replace(/[a-fA-F]/, (c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()))}`;
}
