/**
 * `npm run app`'s stack, from the outside, as the dapp in a page meets it: config.json from the
 * app's origin, the chain over JSON-RPC (with the app origin's preflight), the model artifacts
 * behind the registered weightsUri, the demo accounts' backups, the dev faucet and the consent
 * relay landing a patient's signed grant and revocation. All real: EDR chain, HTTP on loopback.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";
import { getBytes, JsonRpcProvider, Wallet } from "ethers";

import { FheClient, loadModel, predictionFromScores, scoreReading, weightsHash, type ModelArtifact } from "../../fhe/index.js";
import { loadMaternalRisk } from "../../models/datasets.js";
import { getPredictionResult } from "../../sdk/actions/getPredictionResult.js";
import { requestPrediction } from "../../sdk/actions/requestPrediction.js";
import { waitForPrediction } from "../../sdk/actions/waitForPrediction.js";
import { Category, Purpose } from "../../protocol/codes.js";
import { connectContracts } from "../../protocol/contracts.js";
import { signConsentGrant } from "../../sdk/actions/signConsentGrant.js";
import { signConsentRevocation } from "../../sdk/actions/signConsentRevocation.js";
import { createMedCipherClient, type MedCipherClient } from "../../sdk/client.js";
import { readKeystore, type KeystoreSecrets } from "../../sdk/keystore.js";
import type { AppConfig } from "../../scripts/app/config.js";
import { PLACEHOLDER_PAGE, startAppSite } from "../../scripts/app/site.js";
import { startAppStack, type AppStack } from "../../scripts/app/stack.js";
import { describeInBrowser } from "../browser/harness.js";

/** The page the stack serves as "the app" here: the test drives it with page.evaluate. */
const PROBE_PAGE = "<!doctype html><title>probe</title><p>stack probe</p>";

const postJson = async (url: string, body: unknown) => {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> & { error?: { code: string; message: string; details?: Record<string, unknown> } } };
};

/** A CORS preflight as Chromium sends it before a JSON POST (node:http: fetch() cannot set Origin). */
function preflight(url: string, origin: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" } }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("npm run app: the local stack", function () {
  this.timeout(180_000);
  let stack: AppStack;
  let config: AppConfig;
  let provider: JsonRpcProvider;
  let keystoreDir: string;

  before(async function () {
    keystoreDir = await mkdtemp(join(tmpdir(), "medcipher-app-test-"));
    await writeFile(join(keystoreDir, "index.html"), PROBE_PAGE);
    stack = await startAppStack({ port: 0, appDist: keystoreDir });
    config = stack.config;
    // What the page does: a JSON-RPC provider that caches nothing (nonces stay fresh).
    provider = new JsonRpcProvider(config.rpcUrl, undefined, { cacheTimeout: -1, staticNetwork: true });
  });
  after(async function () {
    provider?.destroy();
    await stack?.stop();
    if (keystoreDir) await rm(keystoreDir, { recursive: true, force: true });
  });

  /** The demo identity's backup, fetched as the page would and opened with the password config.json gives. */
  async function demoWallet(who: "patient" | "clinician"): Promise<Wallet> {
    return (await demoBackup(who)).wallet;
  }

  async function demoBackup(who: "patient" | "clinician"): Promise<{ wallet: Wallet; secrets: KeystoreSecrets }> {
    const identity = config.demo![who];
    const response = await fetch(identity.keystoreUrl);
    expect(response.status).to.equal(200);
    const file = join(keystoreDir, `${who}.json`);
    await writeFile(file, new Uint8Array(await response.arrayBuffer()));
    const { address, secrets } = await readKeystore(file, identity.password);
    expect(address).to.equal(identity.address);
    expect(secrets.encryption?.publicKey).to.equal(identity.encryptionPublicKey);
    if (!secrets.privateKey) throw new Error(`the ${who} backup holds no wallet key`);
    return { wallet: new Wallet(secrets.privateKey, provider), secrets };
  }

  it("serves config.json from the app origin with the chain, contracts, gateway, services, models and demo accounts", async function () {
    const response = await fetch(`${stack.appUrl}/config.json`);
    expect(response.status).to.equal(200);
    expect(response.headers.get("content-type")).to.include("application/json");
    const served = (await response.json()) as AppConfig;
    expect(served).to.deep.equal(JSON.parse(JSON.stringify(config)));
    expect(served.chainId).to.equal(Number((await provider.getNetwork()).chainId));
    expect(served.faucetUrl).to.equal(`${stack.appUrl}/faucet`);
    expect(served.relayUrl).to.equal(`${stack.appUrl}/relay/consent`);
    expect(served.models.map((m) => m.name).sort()).to.deep.equal(["heart-disease-lr-v1", "maternal-risk-v1"]);
    for (const model of served.models) expect(model.features.length, model.name).to.be.greaterThan(0);
    expect(await (await fetch(`${stack.appUrl}/`)).text()).to.equal(PROBE_PAGE);
    expect(await (await fetch(`${stack.appUrl}/patient/devices`)).text(), "a route of the single-page app").to.equal(PROBE_PAGE);
  });

  it("answers the app origin's JSON-RPC preflight, and the gateway's, and nobody else's", async function () {
    const allowed = await preflight(config.rpcUrl, stack.appUrl);
    expect(allowed.status).to.equal(204);
    expect(allowed.headers["access-control-allow-origin"]).to.equal(stack.appUrl);
    const other = await preflight(config.rpcUrl, "http://127.0.0.1:1");
    expect(other.headers["access-control-allow-origin"]).to.equal(undefined);
    const gateway = await preflight(`${config.gatewayUrl}/v1/info`, stack.appUrl);
    expect(gateway.status).to.equal(204);
    expect(gateway.headers["access-control-allow-origin"]).to.equal(stack.appUrl);
    expect((await preflight(`${config.gatewayUrl}/v1/info`, "http://127.0.0.1:1")).status).to.equal(403);
  });

  it("serves each registered model's artifact at its weightsUri, matching the on-chain weights hash", async function () {
    const { models } = connectContracts(config.addresses, provider);
    for (const model of config.models) {
      const { spec } = await models.modelOf(model.modelId);
      expect(spec.name).to.equal(model.name);
      const response = await fetch(new URL(spec.weightsUri, config.modelBaseUrl));
      expect(response.status, spec.weightsUri).to.equal(200);
      const artifact = (await response.json()) as ModelArtifact;
      expect(weightsHash(artifact)).to.equal(spec.weightsHash);
    }
  });

  it("has an onboarded demo patient (registered key set, bound device, anchored readings) and a demo clinician holding PROVIDER_ROLE", async function () {
    const patient = await demoWallet("patient");
    const clinician = await demoWallet("clinician");
    const { identity, records } = connectContracts(config.addresses, provider);
    expect(await identity.isPatient(patient.address)).to.equal(true);
    const [keysHash] = await identity.keySetOf(patient.address);
    expect(BigInt(keysHash)).to.not.equal(0n);
    expect(await identity.hasRole(await identity.PROVIDER_ROLE(), clinician.address)).to.equal(true);
    expect(await provider.getBalance(clinician.address)).to.be.greaterThan(0n);
    const anchored = await records.queryFilter(records.filters.BatchAnchored(undefined, patient.address));
    expect(anchored.length, "the wearable's readings were anchored as a batch").to.be.greaterThan(0);
  });

  it("the oracle fulfils the demo patient's prediction: the SDK takes the model from modelBaseUrl, the backup's key set decrypts it to the plaintext model's answer", async function () {
    const { wallet, secrets } = await demoBackup("patient");
    const [keySet] = secrets.heKeySets ?? [];
    expect(keySet, "the backup holds the registered CKKS key set").to.not.equal(undefined);
    const fhe = await FheClient.importSecretKey(Uint8Array.from(Buffer.from(keySet!.secretKey, "base64")), config.demo!.patient.password);
    try {
      const encryptionKey = { publicKey: getBytes(secrets.encryption!.publicKey), privateKey: getBytes(secrets.encryption!.privateKey) };
      // The browser-safe client, whose only model source is the one config.json names.
      const patient = await createMedCipherClient({ account: wallet, addresses: config.addresses, gatewayUrl: config.gatewayUrl, encryptionKey, models: { modelBaseUrl: config.modelBaseUrl } });
      const model = loadModel("maternal-risk-v1");
      const reading = loadMaternalRisk().rows[model.training.split.testRows[1]!]!;
      const modelId = config.models.find((m) => m.name === model.id)!.modelId;
      const { requestId } = await requestPrediction(patient, { modelId, fhe, readings: reading, keysHash: keySet!.keysHash });
      await waitForPrediction(patient, { requestId, timeoutMs: 60_000, pollMs: 200 });
      const result = await getPredictionResult(patient, { requestId, fhe, keysHash: keySet!.keysHash });
      const plaintext = predictionFromScores(model, scoreReading(model, reading));
      expect(result.predictions[0]!.label).to.equal(plaintext.label);
      const difference = Math.max(...result.predictions[0]!.probabilities.map((p, i) => Math.abs(p - plaintext.probabilities[i]!)));
      expect(difference, "largest probability difference from the plaintext model").to.be.lessThan(0.01);
    } finally {
      fhe.dispose();
    }
  });

  it("the dev faucet funds a fresh address with 1 ETH and a prediction budget, and refuses what is not an address", async function () {
    const fresh = Wallet.createRandom();
    const funded = await postJson(config.faucetUrl!, { address: fresh.address });
    expect(funded.status).to.equal(200);
    expect(funded.body.amountWei).to.equal(10n ** 18n + "");
    expect(funded.body.note).to.include("development");
    expect(await provider.getBalance(fresh.address)).to.equal(10n ** 18n);
    const { router } = connectContracts(config.addresses, provider);
    expect((await router.accountOf(fresh.address)).sponsorBudget).to.be.greaterThan(0n);
    const bad = await postJson(config.faucetUrl!, { address: "0x1234" });
    expect(bad.status).to.equal(400);
    expect(bad.body.error!.code).to.equal("APP_BAD_REQUEST");
  });

  describeInBrowser("from a page on the app origin in Chromium", function (browser) {
    it("reaches config.json, the chain (CORS preflight of a JSON POST), the gateway (signature header exposed), a model artifact and the faucet", async function () {
      const page = await browser.newPage();
      await page.goto(`${stack.appUrl}/`);
      const fresh = Wallet.createRandom().address;
      const seen = await page.evaluate(async (address) => {
        const config = (await (await fetch("/config.json")).json()) as { rpcUrl: string; gatewayUrl: string; faucetUrl: string; modelBaseUrl: string };
        const rpc = (await (await fetch(config.rpcUrl, {
          method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
        })).json()) as { result: string };
        const info = await fetch(`${config.gatewayUrl}/v1/info`);
        const model = await fetch(new URL("models/maternal-risk-v1.json", config.modelBaseUrl));
        const faucet = await fetch(config.faucetUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ address }) });
        return {
          chainId: rpc.result,
          gateway: ((await info.json()) as { gateway: string }).gateway,
          gatewaySignature: info.headers.get("x-medcipher-response-signature"),
          modelStatus: model.status,
          faucetStatus: faucet.status,
        };
      }, fresh);
      expect(BigInt(seen.chainId)).to.equal(BigInt(config.chainId));
      expect(seen.gateway).to.match(/^0x[0-9a-fA-F]{40}$/);
      expect(seen.gatewaySignature).to.match(/^0x[0-9a-f]{130}$/);
      expect(seen.modelStatus).to.equal(200);
      expect(seen.faucetStatus).to.equal(200);
      expect(await provider.getBalance(fresh)).to.equal(10n ** 18n);
      expect(browser.pageErrors(page)).to.deep.equal([]);
    });
  });

  describe("the consent relay", function () {
    let patient: MedCipherClient;
    let clinicianAddress: string;

    before(async function () {
      patient = await createMedCipherClient({ account: await demoWallet("patient"), addresses: config.addresses });
      clinicianAddress = config.demo!.clinician.address;
    });

    const hasAccess = () => connectContracts(config.addresses, provider).consent.hasAccess(clinicianAddress, patient.address, Category.VITAL_SIGNS, Purpose.TREAT);

    it("lands the patient's signed grant from the relayer's account (the patient pays nothing), then the signed revocation", async function () {
      const balanceBefore = await provider.getBalance(patient.address);
      expect(await hasAccess()).to.equal(false);
      const now = (await provider.getBlock("latest"))!.timestamp;
      const grant = await signConsentGrant(patient, { grantee: clinicianAddress, purpose: Purpose.TREAT, categories: [Category.VITAL_SIGNS], validUntil: now + 7 * 86_400 });
      const granted = await postJson(config.relayUrl, grant);
      expect(granted.status, JSON.stringify(granted.body)).to.equal(200);
      expect(granted.body.kind).to.equal("grant");
      const receipt = await provider.getTransactionReceipt(granted.body.transactionHash as string);
      expect(receipt!.status).to.equal(1);
      expect(receipt!.from).to.not.equal(patient.address);
      expect(await hasAccess()).to.equal(true);

      const revocation = await signConsentRevocation(patient, { grantee: clinicianAddress, purpose: Purpose.TREAT });
      const revoked = await postJson(config.relayUrl, revocation);
      expect(revoked.status, JSON.stringify(revoked.body)).to.equal(200);
      expect(await hasAccess()).to.equal(false);
      expect(await provider.getBalance(patient.address)).to.equal(balanceBefore);
    });

    it("refuses, before sending anything, a grant whose signature is not the patient's, and names what is malformed", async function () {
      const now = (await provider.getBlock("latest"))!.timestamp;
      const grant = await signConsentGrant(patient, { grantee: clinicianAddress, purpose: Purpose.TREAT, categories: [Category.VITAL_SIGNS], validUntil: now + 86_400 });
      const blockBefore = await provider.getBlockNumber();
      const forged = await postJson(config.relayUrl, { ...grant, validUntil: grant.validUntil + 365 * 86_400 });
      expect(forged.status).to.equal(400);
      expect(forged.body.error!.code).to.equal("APP_RELAY_BAD_SIGNATURE");
      expect(forged.body.error!.message).to.include(patient.address);
      const malformed = await postJson(config.relayUrl, { kind: "grant", patient: "nobody", chainId: 1 });
      expect(malformed.status).to.equal(400);
      const problems = (malformed.body.error!.details!.problems as string[]).join("\n");
      expect(problems).to.include("patient must be an address").and.to.include("signature must be").and.to.include("signed for chain 1");
      expect(await provider.getBlockNumber()).to.equal(blockBefore);
    });

    it("returns the contract's reason when the chain refuses a relayed consent (a signature replayed after use)", async function () {
      const now = (await provider.getBlock("latest"))!.timestamp;
      const grant = await signConsentGrant(patient, { grantee: clinicianAddress, purpose: Purpose.TREAT, categories: [Category.VITAL_SIGNS], validUntil: now + 86_400 });
      expect((await postJson(config.relayUrl, grant)).status).to.equal(200);
      const replayed = await postJson(config.relayUrl, grant);
      expect(replayed.status).to.equal(422);
      expect(replayed.body.error!.code).to.equal("APP_RELAY_REVERTED");
      expect(replayed.body.error!.details!.reason).to.equal("InvalidSigner");
    });
  });
});

describe("npm run app (the process)", function () {
  this.timeout(120_000);

  it("prints the app URL once ready, serves config.json, and stops everything cleanly on Ctrl-C (SIGINT), removing its files", async function () {
    const child = spawn(process.execPath, ["--import", "tsx", "scripts/app.ts", "--port", "0", "--rpc-port", "0", "--gateway-port", "0"], {
      cwd: new URL("../..", import.meta.url).pathname, stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr.on("data", (chunk: Buffer) => { output += chunk.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setInterval(() => {
          if (output.includes("Ctrl-C stops everything")) { clearInterval(timer); resolve(); }
          if (child.exitCode !== null) { clearInterval(timer); reject(new Error(`npm run app exited early:\n${output}`)); }
        }, 100);
      });
      const appUrl = /Open (http:\/\/127\.0\.0\.1:\d+)/.exec(output)![1]!;
      const dataDir = /files +(\S+)/.exec(output)![1]!;
      const config = (await (await fetch(`${appUrl}/config.json`)).json()) as AppConfig;
      expect(config.demo!.patient.password).to.equal("medcipher-demo");
      expect(existsSync(dataDir)).to.equal(true);
      child.kill("SIGINT");
      expect(await exited).to.equal(0);
      expect(output).to.include("stopped.");
      expect(existsSync(dataDir), "the temporary data directory is removed").to.equal(false);
      await fetch(`${appUrl}/config.json`).then(() => expect.fail("the app origin still answers"), () => undefined);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});

describe("the app origin before the dapp is built", function () {
  it("serves a placeholder page that says how to build it, and 503 for config.json until the stack is up", async function () {
    const site = await startAppSite({ port: 0, appDist: join(tmpdir(), "medcipher-no-such-dist"), modelDir: new URL("../../models", import.meta.url).pathname });
    try {
      const page = await fetch(`${site.url}/`);
      expect(page.status).to.equal(200);
      expect(await page.text()).to.equal(PLACEHOLDER_PAGE).and.to.include("vite build");
      const config = await fetch(`${site.url}/config.json`);
      expect(config.status).to.equal(503);
      expect(((await config.json()) as { error: { code: string } }).error.code).to.equal("APP_STACK_STARTING");
      expect((await fetch(`${site.url}/models/../package.json`)).status).to.not.equal(200);
    } finally {
      await site.close();
    }
  });
});
