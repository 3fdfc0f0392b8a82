import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

import { expect } from "chai";
import { BaseWallet, hexlify, randomBytes, Wallet, ZeroAddress } from "ethers";

import { ed25519Sign, generateEd25519 } from "../../gateway/auth/ed25519.js";
import {
  encodeAuthHeader,
  encodeJsonHeader,
  gatewayDomain,
  HEADER_AUTH,
  HEADER_RESPONSE_KEY,
  HEADER_SESSION,
  requestDigest,
  requestDigestReference,
  responseDigest,
  responseDigestReference,
  SESSION_TYPES,
  type GatewayRequestFields,
} from "../../protocol/gateway.js";
import { createGatewayClient } from "../../sdk/gateway/client.js";
import { startTestGateway, type TestGateway } from "./helpers.js";

async function code(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

describe("gateway: EIP-712 digests and session mode", function () {
  let gw: TestGateway;
  const patient = Wallet.createRandom();

  beforeEach(async function () {
    gw = await startTestGateway();
  });
  afterEach(async function () {
    await gw.close();
  });

  it("hashes requests and responses exactly as EIP-712 (ethers' encoder) does", function () {
    for (let i = 0; i < 20; i++) {
      const fields: GatewayRequestFields = {
        method: ["GET", "PUT", "AUDIT"][i % 3] as "GET", blobId: hexlify(randomBytes(32)), purpose: i % 6, owner: Wallet.createRandom().address,
        kind: i % 2 ? "record" : "", category: (i * 37) % 256, ref: hexlify(randomBytes(32)), timestamp: 1_700_000_000 + i * 7919, nonce: hexlify(randomBytes(32)), gateway: patient.address,
      };
      expect(requestDigest(31337 + i, fields)).to.equal(requestDigestReference(31337 + i, fields));
      const response = { requestDigest: hexlify(randomBytes(32)), status: 200 + i, bodyHash: hexlify(randomBytes(32)), timestamp: 1_700_000_000 + i };
      expect(responseDigest(1, response)).to.equal(responseDigestReference(1, response));
    }
  });

  it("serves a session client: one EIP-712 signature, Ed25519 per request and response", async function () {
    let typedSignatures = 0;
    const countingSigner = { getAddress: () => patient.getAddress(), signTypedData: (...args: Parameters<typeof patient.signTypedData>) => { typedSignatures++; return patient.signTypedData(...args); } };
    const client = createGatewayClient({ url: gw.url, signer: countingSigner, chainId: 31337, gatewayAddress: gw.key.address, session: true });
    const bytes = randomBytes(3000);
    // Concurrent first requests share one session signature.
    const ids = await Promise.all([bytes, randomBytes(10), randomBytes(20)].map((b) => client.put(b, { owner: patient.address, kind: "record", category: 0 })));
    const id = ids[0]!;
    for (let i = 0; i < 3; i++) expect(hexlify(await client.get(id, { purpose: 1 }))).to.equal(hexlify(bytes));
    expect(typedSignatures).to.equal(1);
    // Refusals are session-signed too, and audited under the Ethereum signer.
    const stranger = createGatewayClient({ url: gw.url, signer: Wallet.createRandom(), chainId: 31337, gatewayAddress: gw.key.address, session: true });
    expect(await code(stranger.get(id, { purpose: 1 }))).to.equal("GATEWAY_FORBIDDEN");
  });

  it("refuses a replayed session request, a session for another chain, an expired one and one borrowed from another signer", async function () {
    const id = await createGatewayClient({ url: gw.url, signer: patient, chainId: 31337, gatewayAddress: gw.key.address }).put(randomBytes(10), { owner: patient.address, kind: "record", category: 0 });
    const session = generateEd25519();
    const now = Math.floor(Date.now() / 1000);
    const sessionHeader = async (signer: BaseWallet, chainId: number, notAfter: number, claimed = signer.address) => {
      const fields = { signer: claimed, sessionKey: hexlify(session.publicKey), notAfter, gateway: gw.key.address };
      return encodeJsonHeader({ ...fields, signature: await signer.signTypedData(gatewayDomain(chainId), SESSION_TYPES, fields) });
    };
    const request = (header: string, claimed = patient.address) => {
      const fields: GatewayRequestFields = { method: "GET", blobId: id, purpose: 1, owner: ZeroAddress, kind: "", category: 0, ref: `0x${"00".repeat(32)}`, timestamp: now, nonce: hexlify(randomBytes(32)), gateway: gw.key.address };
      const signature = hexlify(ed25519Sign(session.privateKey, Buffer.from(requestDigest(31337, fields).slice(2), "hex")));
      const { method: _m, blobId: _b, ...rest } = fields;
      const auth = encodeAuthHeader({ ...rest, signer: claimed, chainId: 31337, signature });
      return () => fetch(`${gw.url}/v1/blobs/${id}`, { headers: { [HEADER_AUTH]: auth, [HEADER_SESSION]: header } });
    };
    const errorCode = async (response: Response) => ((await response.json()) as { error: { code: string } }).error.code;

    const good = request(await sessionHeader(patient, 31337, now + 600));
    const first = await good();
    expect(first.status).to.equal(200);
    expect(first.headers.get(HEADER_RESPONSE_KEY)).to.be.a("string");
    expect(await errorCode(await good())).to.equal("GATEWAY_AUTH_REPLAY");
    expect((await request(await sessionHeader(patient, 1, now + 600))()).status).to.equal(401);
    expect((await request(await sessionHeader(patient, 31337, now - 10))()).status).to.equal(401);
    expect((await request(await sessionHeader(patient, 31337, now + 7 * 86_400))()).status).to.equal(401);
    const other = Wallet.createRandom();
    expect((await request(await sessionHeader(other, 31337, now + 600), patient.address)()).status).to.equal(401);
  });

  it("the session client rejects a response whose body was altered in transit", async function () {
    const client = createGatewayClient({ url: gw.url, signer: patient, chainId: 31337, gatewayAddress: gw.key.address, session: true });
    const id = await client.put(randomBytes(100), { owner: patient.address, kind: "record", category: 0 });
    const proxy = createServer(async (req, res) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (k.startsWith("x-medcipher")) headers[k] = String(v);
      const upstream = await fetch(`${gw.url}${req.url}`, { headers });
      const body = Buffer.from(await upstream.arrayBuffer());
      body[5] = body[5]! ^ 1;
      const out: Record<string, string> = {};
      upstream.headers.forEach((value, key) => { if (key.startsWith("x-medcipher")) out[key] = value; });
      res.writeHead(upstream.status, out).end(body);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    try {
      const viaProxy = createGatewayClient({ url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, signer: patient, chainId: 31337, gatewayAddress: gw.key.address, session: true });
      expect(await code(viaProxy.get(id, { purpose: 1 }))).to.equal("SDK_GATEWAY_SIGNATURE");
    } finally {
      proxy.close();
    }
  });
});
