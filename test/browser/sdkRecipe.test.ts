import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";

import { expect } from "chai";
import { JsonRpcProvider, Wallet } from "ethers";
import { pino } from "pino";
import { build } from "vite";

import { startGatewayService, type GatewayService } from "../../gateway/service.js";
import { decryptKeystore } from "../../sdk/keystore/format.js";
import { writeKeystore } from "../../sdk/keystore/file.js";
import { loadDeployment } from "../../sdk/node.js";
import { connectContracts, type MedCipherAddresses } from "../../protocol/contracts.js";
import { ROOT } from "../cli/harness.js";
import { npmDeploy, removeJournals, startHardhatNode, type HardhatNode } from "../deploy/hardhatNode.js";
import { describeInBrowser } from "./harness.js";

/** Hardhat's account #5: unlocked on `hardhat node`, so the page's "wallet" can have the node sign for it. */
const WALLET_ACCOUNT = "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc";
const PASSPHRASE = "browser recipe passphrase";
const TYPES: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };

type RecipeResult = { address: string; keysHash: string; consents: { grantee: string; active: boolean }[]; backup: string };

/**
 * The docs' browser recipe (docs/examples/browser-recipe.ts), built by Vite with
 * docs/examples/vite.config.ts and run in Chromium against a `hardhat node` and a real gateway.
 * One origin serves the page, the chain (/rpc), the gateway (/v1/…) and the models (/models/…),
 * as a dapp's reverse proxy would (cross-origin access is the gateway's CORS setting, tested elsewhere).
 */
describeInBrowser("sdk: the docs' browser recipe in Chromium (Vite build, IndexedDB keystore, EIP-1193 wallet or keystore backup)", ({ newPage, pageErrors }) => {
  let node: HardhatNode;
  let dir: string;
  let gateway: GatewayService;
  let origin: Server;
  let url: string;
  let addresses: MedCipherAddresses;
  let deploymentId: string | undefined;
  const gatewayKey = Wallet.createRandom();
  const clinician = Wallet.createRandom().address;

  before(async function () {
    this.timeout(240_000);
    dir = await mkdtemp(join(tmpdir(), "medcipher-browser-recipe-"));
    node = await startHardhatNode();
    const deployed = await npmDeploy(["--network", "localhost", "--rpc", node.url, "--out", dir, "--gateway", gatewayKey.address]);
    expect(deployed.code, deployed.stderr).to.equal(0);
    deploymentId = (JSON.parse(await readFile(join(dir, "31337.json"), "utf8")) as { deploymentId?: string }).deploymentId;
    ({ addresses } = await loadDeployment(join(dir, "31337.json")));
    gateway = await startGatewayService({
      dataDir: join(dir, "gateway"), provider: new JsonRpcProvider(node.url, undefined, { cacheTimeout: -1 }), addresses, signingKey: gatewayKey.signingKey,
      anchorIntervalMs: 0, blockNumberTtlMs: 0, logger: pino({ level: "silent" }),
    });
    const site = join(dir, "site");
    await writeFile(join(dir, "index.html"), `<!doctype html><title>recipe</title><script type="module" src="./main.ts"></script>`);
    await writeFile(join(dir, "main.ts"), `import { onboardPatient } from ${JSON.stringify(join(ROOT, "docs/examples/browser-recipe.ts"))};\nglobalThis.onboardPatient = onboardPatient;\n`);
    await build({ root: dir, base: "./", configFile: join(ROOT, "docs/examples/vite.config.ts"), logLevel: "error", build: { outDir: site, emptyOutDir: true } });
    origin = createServer((req, res) => route(req, res, site));
    await new Promise<void>((resolve) => origin.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  });
  after(async function () {
    origin?.closeAllConnections();
    await new Promise((resolve) => (origin ? origin.close(resolve) : resolve(undefined)));
    await gateway?.close();
    await node?.stop();
    if (deploymentId) await removeJournals([deploymentId]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** /rpc → the chain, /v1/… → the gateway, /models/… → models/, the rest → the Vite build. */
  function route(req: IncomingMessage, res: ServerResponse, site: string): void {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path === "/favicon.ico") { res.writeHead(204).end(); return; }
    if (path === "/rpc" || path.startsWith("/v1/")) {
      const target = new URL(path === "/rpc" ? node.url : `${gateway.url}${req.url}`);
      const forwarded = httpRequest(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      forwarded.on("error", () => res.writeHead(502).end());
      req.pipe(forwarded);
      return;
    }
    const file = path.startsWith("/models/") ? join(ROOT, path) : join(site, path === "/" ? "index.html" : path);
    if (!file.startsWith(path.startsWith("/models/") ? join(ROOT, "models") : site)) { res.writeHead(403).end(); return; }
    readFile(file).then((body) => res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(body), () => res.writeHead(404).end());
  }

  async function runRecipe(signIn: { ethereum: true } | { backupFile: string }): Promise<RecipeResult> {
    const page = await newPage();
    if ("ethereum" in signIn) {
      // The wallet extension's side: the page's EIP-1193 requests go to the node, which signs for the unlocked account.
      await page.exposeFunction("__walletRequest", async (method: string, params: unknown[]) => {
        if (method === "eth_requestAccounts" || method === "eth_accounts") return [WALLET_ACCOUNT];
        return node.rpc(method, params);
      });
      await page.addInitScript(() => {
        const bridge = (globalThis as unknown as { __walletRequest(method: string, params: unknown[]): Promise<unknown> }).__walletRequest;
        (globalThis as unknown as { ethereum: unknown }).ethereum = { request: ({ method, params }: { method: string; params?: unknown[] }) => bridge(method, params ?? []) };
      });
    }
    await page.goto(url);
    await page.waitForFunction(() => "onboardPatient" in globalThis);
    const config = { rpcUrl: `${url}/rpc`, addresses, gatewayUrl: url, modelBaseUrl: `${url}/` };
    const result = await page.evaluate(async ({ config, signIn, passphrase, clinician }) => {
      const run = (globalThis as unknown as { onboardPatient(c: unknown, s: unknown, p: string, g: string): Promise<RecipeResult> }).onboardPatient;
      const how = "ethereum" in signIn ? { ethereum: (globalThis as unknown as { ethereum: unknown }).ethereum } : signIn;
      return run(config, how, passphrase, clinician);
    }, { config, signIn, passphrase: PASSPHRASE, clinician });
    expect(pageErrors(page)).to.deep.equal([]);
    return result;
  }

  async function checkOnChain(result: RecipeResult): Promise<void> {
    const provider = new JsonRpcProvider(node.url, undefined, { cacheTimeout: -1 });
    const keySet = await connectContracts(addresses, provider).identity.keySetOf(result.address);
    expect(keySet.keysHash.toLowerCase()).to.equal(result.keysHash.toLowerCase());
    expect(result.consents).to.deep.equal([{ grantee: clinician, active: true }]);
    provider.destroy();
  }

  it("with a browser wallet (EIP-1193 → BrowserProvider): registers and grants, the keystore backup holds the key sets but no Ethereum key", async function () {
    this.timeout(180_000);
    const result = await runRecipe({ ethereum: true });
    expect(result.address).to.equal(WALLET_ACCOUNT);
    await checkOnChain(result);
    const { secrets } = await decryptKeystore(result.backup, PASSPHRASE);
    expect(secrets.privateKey).to.equal(undefined);
    expect(secrets.heKeySets?.map((k) => k.keysHash)).to.deep.equal([result.keysHash]);
    expect(secrets.encryption?.publicKey).to.match(/^0x[0-9a-f]{64}$/);
  });

  it("with a keystore backup from Node (a plain signer over JSON-RPC): the same, and the exported backup opens in Node", async function () {
    this.timeout(180_000);
    const wallet = Wallet.createRandom();
    await node.rpc("hardhat_setBalance", [wallet.address, "0x8ac7230489e80000"]);
    const file = join(dir, "cli-keystore.json");
    await writeKeystore(file, wallet.address, { privateKey: wallet.privateKey }, PASSPHRASE, { N: 1 << 14, r: 8, p: 1 });
    const result = await runRecipe({ backupFile: await readFile(file, "utf8") });
    expect(result.address).to.equal(wallet.address);
    await checkOnChain(result);
    const opened = await decryptKeystore(result.backup, PASSPHRASE);
    expect(opened.secrets.privateKey).to.equal(wallet.privateKey);
    expect(opened.kdf).to.deep.equal({ N: 1 << 17, r: 8, p: 1 });
    expect(opened.secrets.heKeySets?.map((k) => k.keysHash)).to.deep.equal([result.keysHash]);
  });
});
