/**
 * `npm run app`'s local stack, also started by the browser tests and bench:browser: everything
 * the reference dapp talks to, real and on loopback.
 *
 * - the chain: Hardhat's EDR in this process, served over JSON-RPC (deploy/jsonRpcServer.ts) with
 *   the app's origin allowed (CORS), so the page and the oracle reach it as they would a node;
 * - the contract suite (Ignition, deploy/local.ts) with both repository models registered; their
 *   weightsUri (`models/<id>.json`) resolve against config.modelBaseUrl, where this stack serves
 *   the artifacts, so the SDK can fetch one and check it against the on-chain hash;
 * - the gateway, whose CORS allow-list is the app's origin; the oracle daemon (worker threads,
 *   SQLite job store) fulfilling predictions; a LINK pool for sponsor budgets;
 * - a demo clinician and a demo patient (scripts/app/demoAccounts.ts) with keystore backups;
 * - on the app's own origin: the built dapp (app/dist) or a placeholder, /config.json, a dev
 *   faucet (POST /faucet) and a consent relay (POST /relay/consent).
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { hexlify, parseEther, randomBytes, Wallet } from "ethers";
import { network } from "hardhat";
import { pino } from "pino";

import { serveJsonRpc } from "../../deploy/jsonRpcServer.js";
import { DEFAULT_SPONSOR_BUDGET, deployMedCipher } from "../../deploy/local.js";
import { modelRegistration } from "../../deploy/models.js";
import { loadModel, MODEL_IDS, type ModelArtifact } from "../../fhe/index.js";
import { startGatewayService } from "../../gateway/service.js";
import { loadMaternalRisk } from "../../models/datasets.js";
import { loadSettings } from "../../oracle/config/settings.js";
import { startOracle } from "../../oracle/daemon.js";
import { appModelOf, type AppConfig } from "./config.js";
import { createDemoClinician, createDemoPatient } from "./demoAccounts.js";
import { createFaucet } from "./faucet.js";
import { createConsentRelay } from "./relay.js";
import { startAppSite } from "./site.js";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Where a person finds things when they run `npm run app` (tests and the bench use port 0). */
export const DEFAULT_PORTS = { app: 8080, rpc: 8545, gateway: 8787 } as const;

export type AppStackOptions = {
  /** The app's port (default 8080). 0: any free port, and then the chain and gateway take free ports too. */
  port?: number;
  rpcPort?: number;
  gatewayPort?: number;
  /** The built dapp (default app/dist); a placeholder page is served when it has no index.html. */
  appDist?: string;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** The gateway's blobs, the oracle's job store, keystores and logs (default: a temp dir, removed by stop()). */
  dataDir?: string;
  /** Days of demo readings ingested for the demo patient (default 3). */
  demoDays?: number;
};

export type AppStack = {
  appUrl: string;
  config: AppConfig;
  dataDir: string;
  stop(): Promise<void>;
};

export async function startAppStack(options: AppStackOptions = {}): Promise<AppStack> {
  const log = options.log ?? (() => undefined);
  const anyPort = options.port === 0;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "medcipher-app-")));
  await mkdir(dataDir, { recursive: true });
  const closers: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
    if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
  };

  try {
    const site = await startAppSite({
      port: options.port ?? DEFAULT_PORTS.app,
      appDist: options.appDist ?? join(REPO_ROOT, "app", "dist"),
      modelDir: join(REPO_ROOT, "models"),
    });
    closers.push(() => site.close());
    log(`app      ${site.url} (serving ${options.appDist ?? "app/dist"})`);

    const connection = await network.create();
    closers.push(() => connection.close());
    const { ethers } = connection;
    const rpc = await serveJsonRpc(connection.provider, { port: options.rpcPort ?? (anyPort ? 0 : DEFAULT_PORTS.rpc), corsOrigins: site.origins });
    closers.push(() => rpc.close());
    const chainId = Number((await ethers.provider.getNetwork()).chainId);
    log(`chain    ${rpc.url} (chain id ${chainId}, Hardhat EDR in this process)`);

    const [funder] = await ethers.getSigners();
    const fresh = async (ether: string) => {
      const wallet = new Wallet(Wallet.createRandom().privateKey, ethers.provider);
      await (await funder!.sendTransaction({ to: wallet.address, value: parseEther(ether) })).wait();
      return wallet;
    };
    const oracleKey = await fresh("100");
    const gatewayKey = await fresh("100");
    const vendor = await fresh("10");
    const clinicianWallet = await fresh("100");
    const patientWallet = await fresh("100");
    const deviceWallet = await fresh("1");
    const faucetWallet = await fresh("1000");
    const relayer = await fresh("100");

    const artifacts: ModelArtifact[] = MODEL_IDS.map((id) => loadModel(id));
    const suite = await deployMedCipher(connection, {
      oracleSenders: [oracleKey.address],
      roles: { gateways: [gatewayKey.address], deviceVendors: [vendor.address], providers: [clinicianWallet.address] },
      models: artifacts.map((artifact) => modelRegistration(artifact)),
      routerLink: 1_000n * 10n ** 18n,
      sponsoredPatients: [patientWallet.address],
    });
    const { addresses } = suite;
    log(`contracts deployed (IdentityRegistry ${addresses.IdentityRegistry}); models ${artifacts.map((a, i) => `#${suite.modelIds[i]} ${a.id}`).join(", ")}`);

    const gateway = await startGatewayService({
      dataDir: join(dataDir, "gateway"),
      provider: ethers.provider,
      addresses,
      signingKey: gatewayKey.signingKey,
      anchorSigner: gatewayKey,
      anchorIntervalMs: 15_000,
      port: options.gatewayPort ?? (anyPort ? 0 : DEFAULT_PORTS.gateway),
      corsOrigins: site.origins,
      logger: pino({ level: "info" }, pino.destination({ dest: join(dataDir, "gateway.log"), sync: true })),
    });
    closers.push(() => gateway.close());
    log(`gateway  ${gateway.url} (CORS: ${site.origins.join(", ")}; log ${join(dataDir, "gateway.log")})`);

    const oracle = await startOracle({
      settings: loadSettings({
        env: {},
        overrides: {
          RPC_URL: rpc.url,
          OPERATOR_ADDRESS: addresses.Operator,
          ROUTER_ADDRESS: addresses.PredictionRouter,
          PRIVATE_KEY: oracleKey.privateKey,
          GATEWAY_URL: gateway.url,
          GATEWAY_ADDRESS: gateway.address,
          PRIVATE_MODEL_MASK_KEY: hexlify(randomBytes(32)),
          DATA_DIR: join(dataDir, "oracle"),
          HTTP_PORT: 0,
          POLL_INTERVAL_MS: 200,
          CONFIRMATIONS: 1,
        },
      }),
      logDestination: pino.destination({ dest: join(dataDir, "oracle.log"), sync: true }),
    });
    closers.push(() => oracle.stop());
    log(`oracle   ${oracle.address} (ops ${oracle.url}/metrics; log ${join(dataDir, "oracle.log")})`);

    const demoDir = join(dataDir, "demo");
    await mkdir(demoDir, { recursive: true });
    const clinician = await createDemoClinician(clinicianWallet, demoDir);
    const maternal = artifacts.find((a) => a.id === "maternal-risk-v1")!;
    const vitals = loadMaternalRisk().rows[maternal.training.split.testRows[0]!]!;
    const patient = await createDemoPatient({
      wallet: patientWallet, vendor, device: deviceWallet, provider: ethers.provider, addresses, gatewayUrl: gateway.url,
      model: maternal, vitals, days: options.demoDays ?? 3, dataDir: demoDir,
    });
    log(`demo     clinician ${clinician.address}; patient ${patient.address} (device ${patient.device}, ${patient.readings} readings in ${patient.records} encrypted records)`);

    const faucet = createFaucet({ funder: faucetWallet, router: suite.router, sponsorBudget: DEFAULT_SPONSOR_BUDGET });
    const relay = createConsentRelay({ relayer, addresses, chainId });
    const files = {
      "/demo/clinician.keystore.json": clinician.keystore,
      "/demo/patient.keystore.json": patient.keystore,
    };
    const config: AppConfig = {
      chainId,
      rpcUrl: rpc.url,
      addresses,
      gatewayUrl: gateway.url,
      faucetUrl: `${site.url}/faucet`,
      relayUrl: `${site.url}/relay/consent`,
      modelBaseUrl: `${site.url}/`,
      models: artifacts.map((artifact, i) => appModelOf(artifact, Number(suite.modelIds[i]))),
      demo: {
        clinician: { address: clinician.address, keystoreUrl: `${site.url}/demo/clinician.keystore.json`, password: clinician.password, encryptionPublicKey: clinician.encryptionPublicKey },
        patient: { address: patient.address, keystoreUrl: `${site.url}/demo/patient.keystore.json`, password: patient.password, encryptionPublicKey: patient.encryptionPublicKey },
      },
    };
    site.ready({ config: () => config, files: () => files, faucet: (body) => faucet.fund(body), relay: (body) => relay.relay(body) });
    log(`ready    ${site.url}`);
    return { appUrl: site.url, config, dataDir, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
