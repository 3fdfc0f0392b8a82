import { rm, stat, writeFile, mkdir, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";
import { hexlify, randomBytes, Wallet, ZeroHash, type BaseWallet } from "ethers";

import { sha256Hex } from "../../core/hash.js";
import { readAuditLogFile } from "../../gateway/audit/auditLog.js";
import { encodeAuthHeader, HEADER_AUTH, requestDigest, type GatewayRequestFields } from "../../protocol/gateway.js";
import { createGatewayClient, type GatewayClient } from "../../sdk/gateway/client.js";
import { startTestGateway, type TestGateway } from "./helpers.js";

const VITAL_SIGNS = 1;
const LABORATORY = 2;
const TREAT = 1;
const randomRef = () => hexlify(randomBytes(32));

/** A share listing signed by hand, so the query can be made to differ from the signed fields. */
function signedListing(gw: TestGateway, signer: BaseWallet, signed: { owner: string; ref: string; category: number }, query: string) {
  const fields: GatewayRequestFields = {
    method: "LIST", blobId: ZeroHash, purpose: TREAT, owner: signed.owner, kind: "wrapped-key", category: signed.category, ref: signed.ref,
    timestamp: Math.floor(Date.now() / 1000), nonce: hexlify(randomBytes(32)), gateway: gw.key.address,
  };
  const signature = signer.signingKey.sign(requestDigest(31337, fields)).serialized;
  const { method: _m, blobId: _b, ...rest } = fields;
  const header = encodeAuthHeader({ ...rest, signer: signer.address, chainId: 31337, signature });
  return fetch(`${gw.url}/v1/shares?${query}`, { headers: { [HEADER_AUTH]: header } });
}

describe("gateway: share listing (GET /v1/shares) and its (owner, ref) index", function () {
  this.timeout(60_000);
  const patient = Wallet.createRandom();
  let gw: TestGateway;
  let client: GatewayClient;
  let dir: string;

  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), "medcipher-gw-shares-"));
    gw = await startTestGateway({ dir });
    client = createGatewayClient({ url: gw.url, signer: patient, chainId: 31337, gatewayAddress: gw.key.address });
  });
  afterEach(async function () {
    client.close();
    await gw.close();
    await rm(dir, { recursive: true, force: true });
  });

  const share = (ref: string, category = VITAL_SIGNS) => client.put(randomBytes(200), { owner: patient.address, kind: "wrapped-key", category, ref });
  const list = (ref: string, category = VITAL_SIGNS, as = client) => as.listShares({ owner: patient.address, ref, category, purpose: TREAT });

  it("lists the owner's wrapped-key blobs under the ref and of the signed category, and nothing else", async function () {
    const root = randomRef();
    const mine = [await share(root), await share(root)];
    await share(root, LABORATORY);
    await share(randomRef());
    await client.put(randomBytes(300), { owner: patient.address, kind: "record", category: VITAL_SIGNS, ref: root });
    expect(await list(root)).to.deep.equal([...mine].sort());
    expect(await list(randomRef()), "an unknown ref lists nothing").to.deep.equal([]);
    const entries = await readAuditLogFile(join(dir, "audit.jsonl"));
    expect(entries.filter((e) => e.action === "list").map((e) => [e.blobId, e.outcome, e.reason])).to.deep.include([root, "granted", "owner"]);
  });

  it("refuses a caller who may not read the shares, whether or not any exist, and audits the refusal", async function () {
    const root = randomRef();
    await share(root);
    const stranger = Wallet.createRandom();
    const theirs = createGatewayClient({ url: gw.url, signer: stranger, chainId: 31337, gatewayAddress: gw.key.address });
    try {
      for (const ref of [root, randomRef()]) {
        const error = await list(ref, VITAL_SIGNS, theirs).then(() => undefined, (e: unknown) => e as { code: string; status: number; message: string });
        expect(error, ref).to.include({ code: "GATEWAY_FORBIDDEN", status: 403 });
        expect(error!.message, "the refusal names no share").not.to.match(/0x[0-9a-f]{64}/);
      }
    } finally {
      theirs.close();
    }
    const refused = (await readAuditLogFile(join(dir, "audit.jsonl"))).filter((e) => e.actor === stranger.address);
    expect(refused.map((e) => [e.action, e.outcome, e.reason, e.owner])).to.deep.equal([
      ["list", "refused", "GATEWAY_FORBIDDEN", patient.address],
      ["list", "refused", "GATEWAY_FORBIDDEN", patient.address],
    ]);
    expect(refused[0]!.blobId).to.equal(root);
  });

  it("refuses a query that differs from the signed owner, ref or category (400)", async function () {
    const root = randomRef();
    await share(root);
    const signed = { owner: patient.address, ref: root, category: VITAL_SIGNS };
    const ok = await signedListing(gw, patient, signed, `owner=${patient.address}&ref=${root}&category=${VITAL_SIGNS}`);
    expect(ok.status).to.equal(200);
    for (const query of [`owner=${Wallet.createRandom().address}&ref=${root}&category=1`, `owner=${patient.address}&ref=${randomRef()}&category=1`, `owner=${patient.address}&ref=${root}&category=2`, `ref=${root}&category=1`]) {
      const response = await signedListing(gw, patient, signed, query);
      expect(response.status, query).to.equal(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).to.equal("GATEWAY_BAD_REQUEST");
    }
  });

  it("keeps the index across a restart", async function () {
    const root = randomRef();
    const ids = [await share(root), await share(root)].sort();
    client.close();
    const key = gw.key;
    await gw.close();
    gw = await startTestGateway({ dir, key });
    client = createGatewayClient({ url: gw.url, signer: patient, chainId: 31337, gatewayAddress: key.address });
    expect(await list(root)).to.deep.equal(ids);
  });

  it("lists a share whose index entry an interrupted write never wrote once the same bytes are uploaded again", async function () {
    const root = randomRef();
    // The write stops between the metadata and the index entry: a file where the owner's index
    // directory would go makes creating the entry fail after the metadata file was created.
    const ownerDir = join(dir, "meta", "by-ref", patient.address.slice(2).toLowerCase());
    await mkdir(join(dir, "meta", "by-ref"), { recursive: true });
    await writeFile(ownerDir, "");
    const bytes = randomBytes(200);
    const id = sha256Hex(bytes);
    const put = () => client.put(bytes, { owner: patient.address, kind: "wrapped-key", category: VITAL_SIGNS, ref: root });
    const failed = await put().then(() => undefined, (e: unknown) => e as { status: number });
    expect(failed?.status, "the interrupted upload is not acknowledged").to.equal(500);
    await stat(join(dir, "meta", id.slice(2, 4), `${id.slice(2)}.json`)); // the metadata was written
    await rm(ownerDir);

    client.close();
    const key = gw.key;
    await gw.close();
    gw = await startTestGateway({ dir, key });
    client = createGatewayClient({ url: gw.url, signer: patient, chainId: 31337, gatewayAddress: key.address });
    expect(await list(root), "stored, not indexed").to.deep.equal([]);
    expect(await put(), "the retry is the same blob").to.equal(id);
    expect(await list(root)).to.deep.equal([id]);
    expect(await put()).to.equal(id);
    expect(await list(root), "a further retry adds nothing").to.deep.equal([id]);
  });
});
