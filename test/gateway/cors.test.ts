import { request as httpRequest } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";
import { hexlify, randomBytes, recoverAddress, Wallet, ZeroAddress, ZeroHash, type BaseWallet } from "ethers";
import { pino } from "pino";

import { sha256Hex } from "../../core/hash.js";
import { GatewayConfigError, gatewayCorsOrigins, loadGatewaySettings } from "../../gateway/config/settings.js";
import { CORS_EXPOSED_HEADERS, parseCorsOrigins } from "../../gateway/cors.js";
import { DEFAULT_LIMITS } from "../../gateway/limits.js";
import { createGateway, type Gateway } from "../../gateway/server.js";
import { openGatewayData } from "../../gateway/store/dataDir.js";
import {
  encodeAuthHeader,
  HEADER_AUTH,
  HEADER_RESPONSE_SIGNATURE,
  HEADER_RESPONSE_TIMESTAMP,
  HEADER_SESSION,
  requestDigest,
  responseDigest,
  type ErrorBody,
  type GatewayRequestFields,
} from "../../protocol/gateway.js";
import { describeInBrowser, serveStatic, type StaticSite } from "../browser/harness.js";
import { ownerOnlyPolicy, signedPutHeader } from "./helpers.js";

const CHAIN_ID = 31337;
const APP_ORIGIN = "http://127.0.0.1:5173";

type CorsGateway = { gateway: Gateway; url: string; key: BaseWallet; close(): Promise<void> };

async function startCorsGateway(corsOrigins?: string[]): Promise<CorsGateway> {
  const dir = await mkdtemp(join(tmpdir(), "medcipher-cors-"));
  const key = Wallet.createRandom();
  const data = await openGatewayData(dir, { windowSeconds: DEFAULT_LIMITS.timestampWindowSeconds });
  const gateway = createGateway({
    store: data.store, metadata: data.metadata, audit: data.audit, nonces: data.nonces, policy: ownerOnlyPolicy,
    signingKey: key.signingKey, gatewayAddress: key.address, chainId: CHAIN_ID, logger: pino({ level: "silent" }),
    ...(corsOrigins ? { corsOrigins } : {}),
  });
  const url = await gateway.listen(0);
  return {
    gateway, url, key,
    async close() {
      await gateway.close();
      await data.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

type RawResponse = { status: number; headers: Record<string, string | string[] | undefined>; body: string };

/** node:http, because fetch() in Node may not set `Origin` itself: these tests play the browser. */
function raw(url: string, method: string, headers: Record<string, string>): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end();
  });
}

const preflight = (url: string, origin: string) => raw(`${url}/v1/blobs/${ZeroHash}`, "OPTIONS", {
  origin,
  "access-control-request-method": "PUT",
  "access-control-request-headers": `${HEADER_AUTH},${HEADER_SESSION},content-type`,
});

const corsHeadersOf = (response: RawResponse) => Object.keys(response.headers).filter((name) => name.startsWith("access-control-"));

/** A signed GET's header and the digest its response signature covers. */
function signedGetHeader(gateway: string, signer: BaseWallet, blobId: string) {
  const fields: GatewayRequestFields = {
    method: "GET", blobId, purpose: 1, owner: ZeroAddress, kind: "", category: 0, ref: ZeroHash,
    timestamp: Math.floor(Date.now() / 1000), nonce: hexlify(randomBytes(32)), gateway,
  };
  const signature = signer.signingKey.sign(requestDigest(CHAIN_ID, fields)).serialized;
  const { method: _method, blobId: _blobId, ...rest } = fields;
  return { header: encodeAuthHeader({ ...rest, signer: signer.address, chainId: CHAIN_ID, signature }), digest: requestDigest(CHAIN_ID, fields) };
}

describe("gateway CORS", function () {
  describe("with no origins configured (the default)", function () {
    let gw: CorsGateway;
    before(async () => { gw = await startCorsGateway(); });
    after(async () => gw.close());

    it("refuses a preflight with 403 and the protocol's error body naming the setting, and sends no CORS header", async function () {
      const response = await preflight(gw.url, APP_ORIGIN);
      expect(response.status).to.equal(403);
      expect(corsHeadersOf(response)).to.deep.equal([]);
      const body = JSON.parse(response.body) as ErrorBody;
      expect(body.error.code).to.equal("GATEWAY_CORS_ORIGIN_REFUSED");
      expect(body.error.message).to.include(APP_ORIGIN).and.to.include("GATEWAY_CORS_ORIGINS");
      // Still a signed gateway response, like every other refusal.
      expect(response.headers[HEADER_RESPONSE_SIGNATURE]).to.be.a("string");
    });

    it("adds no CORS header (nor Vary) to ordinary responses", async function () {
      const response = await raw(`${gw.url}/v1/info`, "GET", { origin: APP_ORIGIN });
      expect(response.status).to.equal(200);
      expect(corsHeadersOf(response)).to.deep.equal([]);
      expect(response.headers.vary).to.equal(undefined);
    });
  });

  describe("with an allow-list", function () {
    let gw: CorsGateway;
    before(async () => { gw = await startCorsGateway([APP_ORIGIN, "https://clinic.example"]); });
    after(async () => gw.close());

    it("answers an allowed origin's preflight 204 with its origin, the methods, the x-medcipher request headers and a max age", async function () {
      const response = await preflight(gw.url, APP_ORIGIN);
      expect(response.status).to.equal(204);
      expect(response.headers["access-control-allow-origin"]).to.equal(APP_ORIGIN);
      expect(response.headers.vary).to.equal("Origin");
      expect(String(response.headers["access-control-allow-methods"]).split(", ")).to.include.members(["GET", "PUT"]);
      expect(String(response.headers["access-control-allow-headers"]).split(", ")).to.include.members([HEADER_AUTH, HEADER_SESSION, "content-type"]);
      expect(response.headers["access-control-max-age"]).to.equal("600");
      expect(response.body).to.equal("");
    });

    it("gives every response to an allowed origin its origin and exposes the response headers the SDK reads, errors included", async function () {
      for (const [path, status] of [["/v1/info", 200], [`/v1/blobs/${ZeroHash}`, 401], ["/nowhere", 404]] as const) {
        const response = await raw(`${gw.url}${path}`, "GET", { origin: "https://clinic.example" });
        expect(response.status, path).to.equal(status);
        expect(response.headers["access-control-allow-origin"], path).to.equal("https://clinic.example");
        expect(response.headers.vary, path).to.equal("Origin");
        expect(String(response.headers["access-control-expose-headers"]).split(", "), path).to.include.members([...CORS_EXPOSED_HEADERS]);
      }
    });

    it("refuses another origin's preflight with 403 and no CORS header; its other responses carry Vary but no allow-origin", async function () {
      for (const origin of ["http://127.0.0.1:5174", "https://clinic.example.evil", "null"]) {
        const response = await preflight(gw.url, origin);
        expect(response.status, origin).to.equal(403);
        expect(corsHeadersOf(response), origin).to.deep.equal([]);
        expect((JSON.parse(response.body) as ErrorBody).error.code).to.equal("GATEWAY_CORS_ORIGIN_REFUSED");
      }
      const info = await raw(`${gw.url}/v1/info`, "GET", { origin: "http://127.0.0.1:5174" });
      expect(info.status).to.equal(200);
      expect(corsHeadersOf(info)).to.deep.equal([]);
      expect(info.headers.vary).to.equal("Origin");
    });

    it("serves requests without an Origin (Node clients, the oracle) exactly as before", async function () {
      const response = await raw(`${gw.url}/v1/info`, "GET", {});
      expect(response.status).to.equal(200);
      expect(corsHeadersOf(response)).to.deep.equal([]);
    });
  });

  describe("the GATEWAY_CORS_ORIGINS setting", function () {
    it("is empty by default and parses a comma list of exact origins", function () {
      expect(loadGatewaySettings({ env: {} }).CORS_ORIGINS).to.equal("");
      expect(gatewayCorsOrigins(loadGatewaySettings({ env: {} }))).to.deep.equal([]);
      const settings = loadGatewaySettings({ env: { GATEWAY_CORS_ORIGINS: " https://app.example , http://127.0.0.1:5173" } });
      expect(gatewayCorsOrigins(settings)).to.deep.equal(["https://app.example", "http://127.0.0.1:5173"]);
    });

    it("refuses entries that are not origins, suggesting the origin meant", function () {
      expect(parseCorsOrigins("https://app.example/").problems[0]).to.include("did you mean https://app.example?");
      try {
        loadGatewaySettings({ env: { GATEWAY_CORS_ORIGINS: "*,app.example" } });
        expect.fail("should have thrown");
      } catch (error) {
        expect(error).to.be.instanceOf(GatewayConfigError);
        const problems = ((error as GatewayConfigError).details.problems as string[]).join("\n");
        expect(problems).to.match(/^CORS_ORIGINS must be a comma list of exact origins/m);
        expect(problems).to.include('"*" is not an origin').and.to.include('"app.example" is not an origin');
      }
    });
  });
});

describeInBrowser("gateway CORS from a page in Chromium", function (browser) {
  let allowedSite: StaticSite;
  let otherSite: StaticSite;
  let gw: CorsGateway;
  const page = "<!doctype html><title>cors</title><p>cross-origin client</p>";

  before(async function () {
    allowedSite = await serveStatic({ files: { "/index.html": page } });
    otherSite = await serveStatic({ files: { "/index.html": page } });
    gw = await startCorsGateway([allowedSite.url]);
  });
  after(async function () {
    await gw?.close();
    await allowedSite?.close();
    await otherSite?.close();
  });

  it("lets the allowed origin's page upload and download a blob with signed headers and read the gateway's signature headers", async function () {
    const owner = Wallet.createRandom();
    const bytes = new TextEncoder().encode("an encrypted record, as far as the gateway knows");
    const blobId = sha256Hex(bytes);
    const put = signedPutHeader(gw.key.address, owner, blobId, { owner: owner.address, kind: "record", category: 1 });
    const get = signedGetHeader(gw.key.address, owner, blobId);
    const tab = await browser.newPage();
    await tab.goto(`${allowedSite.url}/`);
    const result = await tab.evaluate(async ({ url, blobId, body, putHeader, getHeader, names }) => {
      const put = await fetch(`${url}/v1/blobs/${blobId}`, { method: "PUT", body: new Uint8Array(body), headers: { [names.auth]: putHeader, "content-type": "application/octet-stream" } });
      const got = await fetch(`${url}/v1/blobs/${blobId}`, { headers: { [names.auth]: getHeader } });
      return {
        putStatus: put.status,
        getStatus: got.status,
        body: [...new Uint8Array(await got.arrayBuffer())],
        signature: got.headers.get(names.signature),
        timestamp: got.headers.get(names.timestamp),
      };
    }, {
      url: gw.url, blobId, body: [...bytes], putHeader: put.header, getHeader: get.header,
      names: { auth: HEADER_AUTH, signature: HEADER_RESPONSE_SIGNATURE, timestamp: HEADER_RESPONSE_TIMESTAMP },
    });
    expect(result.putStatus).to.equal(201);
    expect(result.getStatus).to.equal(200);
    expect(Uint8Array.from(result.body)).to.deep.equal(bytes);
    expect(result.signature, "the signature header is exposed to the page").to.be.a("string");
    // What the page read is the gateway's real signature over this request and these bytes.
    const digest = responseDigest(CHAIN_ID, { requestDigest: get.digest, status: 200, bodyHash: blobId, timestamp: Number(result.timestamp) });
    expect(recoverAddress(digest, result.signature!)).to.equal(gw.key.address);
    expect(browser.pageErrors(tab)).to.deep.equal([]);
  });

  it("blocks a page from an origin not on the list: fetch fails before any request is sent", async function () {
    const tab = await browser.newPage();
    await tab.goto(`${otherSite.url}/`);
    const outcome = await tab.evaluate(async ({ url, auth }) => {
      try {
        await fetch(`${url}/v1/blobs/0x${"00".repeat(32)}`, { headers: { [auth]: "x" } });
        return "read";
      } catch (error) {
        return `${(error as Error).name}: ${(error as Error).message}`;
      }
    }, { url: gw.url, auth: HEADER_AUTH });
    expect(outcome).to.equal("TypeError: Failed to fetch");
    const head = await (await fetch(`${gw.url}/v1/audit/head`)).json() as { aggregateRefusals: { byCode: Record<string, number> } };
    expect(head.aggregateRefusals.byCode.GATEWAY_CORS_ORIGIN_REFUSED).to.equal(1);
  });
});
