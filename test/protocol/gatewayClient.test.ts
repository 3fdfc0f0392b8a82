/**
 * The gateway client (protocol/gatewayClient.ts) in real Chromium against a real gateway: session
 * mode (one EIP-712 signature, then WebCrypto Ed25519 per request, the gateway's certified Ed25519
 * key checked on every response), and a response altered on the way refused in the page.
 *
 * The page and the gateway share one origin here — a loopback server serves the page and relays
 * /v1/* to the gateway — so the test needs no CORS (that is the gateway's own concern, tested
 * with it). The relay can flip a byte of one response body, as a network attacker would.
 */
import { request as httpRequest, createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import { expect } from "chai";
import { build } from "esbuild";
import { Wallet } from "ethers";

import { startTestGateway, type TestGateway } from "../gateway/helpers.js";
import { describeInBrowser } from "../browser/harness.js";

type PageResult = { roundTrip: boolean; reads: number; typedSignatures: number; sessionHeaderSent: boolean; tampered: string | null; stranger: string | null };

const PAGE_SCRIPT = `
  import { Wallet } from "ethers";
  import { createGatewayClient } from "./protocol/gatewayClient.ts";
  globalThis.runGatewayClient = async ({ privateKey, strangerKey, gatewayAddress, chainId }) => {
    const wallet = new Wallet(privateKey);
    let typedSignatures = 0;
    const signer = { getAddress: () => wallet.getAddress(), signTypedData: (...args) => { typedSignatures++; return wallet.signTypedData(...args); } };
    let sessionHeaderSent = false;
    const watchingFetch = (url, init) => { if (init.headers["x-medcipher-session"]) sessionHeaderSent = true; return fetch(url, init); };
    const client = createGatewayClient({ url: location.origin, signer, chainId, gatewayAddress, session: true, fetch: watchingFetch });
    const bytes = crypto.getRandomValues(new Uint8Array(5000));
    const id = await client.put(bytes, { owner: wallet.address, kind: "record", category: 0 });
    let reads = 0;
    let roundTrip = true;
    for (let i = 0; i < 3; i++) {
      const back = await client.get(id, { purpose: 1 });
      reads++;
      roundTrip &&= back.length === bytes.length && back.every((b, j) => b === bytes[j]);
    }
    const failure = (promise) => promise.then(() => null, (error) => error.name + ":" + (error.code ?? ""));
    const tampered = await failure(client.get(id, { purpose: 1, ref: "0x" + "7a".repeat(32) }));
    const stranger = await failure(createGatewayClient({ url: location.origin, signer: new Wallet(strangerKey), chainId, gatewayAddress, session: true }).get(id, { purpose: 1 }));
    return { roundTrip, reads, typedSignatures, sessionHeaderSent, tampered, stranger };
  };`;

/** The ref the page puts on the one read whose response the relay alters. */
const TAMPER_REF = `0x${"7a".repeat(32)}`;

function startRelay(gatewayUrl: string, page: { html: string; script: string }): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(gatewayUrl);
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (!req.url?.startsWith("/v1/")) {
      const isScript = req.url === "/page.js";
      res.writeHead(200, { "content-type": isScript ? "text/javascript" : "text/html" }).end(isScript ? page.script : page.html);
      return;
    }
    const upstream = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on("data", (chunk: Buffer) => chunks.push(chunk));
      answer.on("end", () => {
        const body = Buffer.concat(chunks);
        const auth = String(req.headers["x-medcipher-auth"] ?? "");
        const json = auth ? Buffer.from(auth, "base64url").toString("utf8") : "";
        if (json.includes(TAMPER_REF) && body.length > 0) body[0] = body[0]! ^ 1;
        res.writeHead(answer.statusCode ?? 502, { ...answer.headers, "content-length": String(body.length) }).end(body);
      });
    });
    req.pipe(upstream);
    upstream.on("error", () => res.writeHead(502).end());
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((done) => { server.closeAllConnections(); server.close(() => done()); }),
  })));
}

describeInBrowser("protocol: the gateway client in Chromium (session mode on WebCrypto Ed25519)", ({ newPage, pageErrors }) => {
  let gw: TestGateway;
  let relay: { url: string; close(): Promise<void> };
  before(async function () {
    gw = await startTestGateway();
    const bundle = await build({
      stdin: { contents: PAGE_SCRIPT, resolveDir: new URL("../../", import.meta.url).pathname, loader: "ts" },
      bundle: true, platform: "browser", format: "esm", write: false, logLevel: "silent",
    });
    relay = await startRelay(gw.url, { html: "<!doctype html><title>gateway client</title><script type=module src=/page.js></script>", script: bundle.outputFiles[0]!.text });
  });
  after(async function () {
    await relay?.close();
    await gw?.close();
  });

  it("uploads and reads back under one session signature, and refuses an altered response and a stranger's read", async function () {
    const page = await newPage();
    await page.goto(relay.url);
    await page.waitForFunction(() => typeof (globalThis as { runGatewayClient?: unknown }).runGatewayClient === "function");
    const patient = Wallet.createRandom();
    const result = await page.evaluate(
      (args) => (globalThis as unknown as { runGatewayClient(a: typeof args): Promise<PageResult> }).runGatewayClient(args),
      { privateKey: patient.privateKey, strangerKey: Wallet.createRandom().privateKey, gatewayAddress: gw.key.address, chainId: 31337 },
    );
    expect(result).to.deep.equal({
      roundTrip: true, reads: 3, typedSignatures: 1, sessionHeaderSent: true,
      // The flipped byte breaks the response's Ed25519 signature (it covers the body's hash).
      tampered: "GatewaySignatureError:SDK_GATEWAY_SIGNATURE",
      stranger: "GatewayRequestError:GATEWAY_FORBIDDEN",
    });
    // The gateway saw session-signed requests from the patient: its audit log names them.
    const entries = await gw.audit.entries();
    expect(entries.filter((e) => e.actor === patient.address && e.outcome === "granted").length).to.be.at.least(4);
    // Chromium logs the stranger's 403 as a failed resource load; nothing else may show up.
    expect(pageErrors(page).filter((e) => !/status of 403/.test(e))).to.deep.equal([]);
  });
});
