/**
 * The world every soak runs in, all real and each part its own process, as operators run them:
 * anvil (`deploy/anvil.ts`) as the chain, the suite deployed through the same Ignition module a
 * real deployment uses, the gateway as `medcipher gateway serve` (scripts/bench/gatewayProcess.ts)
 * and the oracle daemon as `node --import tsx oracle/main.ts start` (test/oracle/helpers/child.ts),
 * both restartable on their own data. Patients, each with their own CKKS key set, live here: they
 * encrypt, upload, sign their request transactions, and in the end fetch, check and decrypt.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { encodeBytes32String, hexlify, Interface, JsonRpcProvider, keccak256, randomBytes, Wallet, type Signer } from "ethers";
import { network } from "hardhat";

import { sha256Hex } from "../../core/hash.js";
import { startAnvil, type AnvilHandle } from "../../deploy/anvil.js";
import { deployMedCipher, type MedCipherAddresses } from "../../deploy/local.js";
import { modelRegistration } from "../../deploy/models.js";
import { FheClient, loadModel, type ModelArtifact, type Reading } from "../../fhe/index.js";
import { loadSettings, type Settings } from "../../oracle/config/settings.js";
import { predictionRouterAbi } from "../../protocol/abi/generated.js";
import { Category } from "../../protocol/codes.js";
import { createGatewayClient, type GatewayClient } from "../../sdk/gateway/client.js";
import { createNodeHttpTransport } from "../../sdk/node/transport.js";
import { spawnOracle, type OracleChild } from "../../test/oracle/helpers/child.js";
import { startGatewayProcess, type GatewayProcess } from "../bench/gatewayProcess.js";
import { removeIgnitionJournal } from "../bench/harness.js";
import type { Random } from "./random.js";

const FUNDS = "0x" + (10n ** 21n).toString(16);
/** Patients' request transactions: far above anvil's base fee, so a re-sent one is never underpriced. */
const REQUEST_FEES = { maxFeePerGas: 50n * 10n ** 9n, maxPriorityFeePerGas: 10n ** 9n };

/** The router's ABI as the compiler generated it (types/, from `hardhat build`), so the soak follows the contract. */
export const routerInterface = new Interface(predictionRouterAbi);

export const log = (soak: string, message: string) => console.log(`[soak:${soak}] ${new Date().toISOString().slice(11, 19)} ${message}`);

export type SoakPatient = { index: number; wallet: Wallet; fhe: FheClient; keysHash: string; gateway: GatewayClient; nonce: number };

/** One prediction request as the patient made it: what it asked, and the signed transaction (re-sendable). */
export type SoakRequest = {
  index: number;
  patient: SoakPatient;
  model: ModelArtifact;
  modelId: number;
  reading: Reading;
  inputHash: string;
  raw: string;
  txHash: string;
  /** Times the patient (the soak) broadcast the transaction again after it vanished from chain and pool. */
  resends: number;
};

export type OracleProcess = {
  readonly child: OracleChild;
  readonly settings: Settings;
  /** Every line the daemon printed, across restarts. */
  lines(): string[];
  /** SIGKILL (a crash) and wait for the exit. */
  kill(): Promise<void>;
  /** Starts it again on the same data directory; resolves once it logged "oracle started". */
  restart(): Promise<void>;
  stop(): Promise<void>;
};

export type SoakWorld = Awaited<ReturnType<typeof createSoakWorld>>;

export async function createSoakWorld(options: {
  soak: string;
  /** A chain id of its own: Ignition journals deployments per chain id under deploy/deployments/ (removed again). */
  chainId: number;
  patients: number;
}) {
  const work = mkdtempSync(join(tmpdir(), `soak-${options.soak.replace(/\W/g, "-")}-`));
  removeIgnitionJournal(options.chainId);

  // Automine while deploying and registering (Ignition waits for each transaction); interval
  // mining once the soak starts.
  const anvil: AnvilHandle = await startAnvil({ chainId: options.chainId, accounts: 2 });
  const provider = new JsonRpcProvider(anvil.url, options.chainId, { staticNetwork: true, cacheTimeout: -1 });
  const connection = await network.connect({ network: "localhost", override: { url: anvil.url, chainId: options.chainId } });
  const oracleKey = Wallet.createRandom();
  const gatewayKey = Wallet.createRandom();
  for (const address of [oracleKey.address, gatewayKey.address]) await anvil.rpc("anvil_setBalance", [address, FUNDS]);
  const artifacts: ModelArtifact[] = [loadModel("maternal-risk-v1"), loadModel("heart-disease-lr-v1")];
  const suite = await deployMedCipher(connection, {
    oracleSenders: [oracleKey.address],
    roles: { gateways: [gatewayKey.address] },
    routerLink: 10_000n * 10n ** 18n,
    models: artifacts.map((artifact) => modelRegistration(artifact)),
  });
  removeIgnitionJournal(options.chainId);
  const addresses: MedCipherAddresses = suite.addresses;
  const modelIds = artifacts.map((_, i) => Number(suite.modelIds[i]));

  let gateway: GatewayProcess = await startGatewayProcess({ rpcUrl: anvil.url, chainId: options.chainId, addresses, gatewayKey, anchorIntervalSeconds: 0 });
  const gatewayUrl = gateway.url;

  const patients: SoakPatient[] = [];
  for (let index = 0; index < options.patients; index++) {
    const wallet = new Wallet(Wallet.createRandom().privateKey, provider);
    await anvil.rpc("anvil_setBalance", [wallet.address, FUNDS]);
    const fhe = await FheClient.generate("ckks-2048-v1");
    const keys = fhe.evaluationKeys();
    const keysHash = sha256Hex(keys);
    const client = createGatewayClient({ url: gatewayUrl, signer: wallet, chainId: options.chainId, gatewayAddress: gatewayKey.address, transport: createNodeHttpTransport() });
    await (await suite.identity.connect(wallet).registerPatient(keysHash, encodeBytes32String("ckks-2048-v1"), `${gatewayUrl}/v1/blobs/${keysHash}`, hexlify(randomBytes(32)))).wait();
    await client.put(keys, { owner: wallet.address, kind: "he-keys", category: Category.PREDICTION });
    patients.push({ index, wallet, fhe, keysHash, gateway: client, nonce: await provider.getTransactionCount(wallet.address, "pending") });
  }
  const sponsorship = await sponsorWhereNeeded(suite.governance, addresses.PredictionRouter, patients.map((p) => p.wallet.address));
  const setupBlock = Number(await anvil.rpc<string>("eth_blockNumber"));

  const settingsFor = (overrides: Partial<Record<keyof Settings, string | number | boolean>>): Settings => loadSettings({
    env: {},
    overrides: {
      RPC_URL: anvil.url, OPERATOR_ADDRESS: addresses.Operator, ROUTER_ADDRESS: addresses.PredictionRouter, CHAIN_ID: options.chainId,
      PRIVATE_KEY: oracleKey.privateKey, GATEWAY_URL: gatewayUrl, GATEWAY_ADDRESS: gatewayKey.address,
      PRIVATE_MODEL_MASK_KEY: hexlify(randomBytes(32)), DATA_DIR: join(work, "oracle"), HTTP_PORT: 0,
      START_BLOCK: setupBlock + 1, POLL_INTERVAL_MS: 200, WORKER_THREADS: 1, LOG_LEVEL: "info",
      RPC_TIMEOUT_MS: 3_000, GATEWAY_TIMEOUT_MS: 5_000, TX_STUCK_AFTER_MS: 4_000,
      ...overrides,
    },
  });

  const oracleLines: string[] = [];
  let oracle: OracleProcess | undefined;
  /** Exits of the daemon or the gateway the soak did not cause, found by `superviseOnce` (and restarted, as systemd would). */
  const unplannedExits: { service: "oracle" | "gateway"; at: string; detail: unknown }[] = [];

  const world = {
    soak: options.soak, work, anvil, provider, suite, addresses, artifacts, modelIds, oracleKey, gatewayKey, patients, setupBlock, sponsorship,
    chainId: options.chainId,
    get gateway() {
      return gateway;
    },
    get gatewayUrl() {
      return gatewayUrl;
    },
    get oracle() {
      if (!oracle) throw new Error("the oracle has not been started");
      return oracle;
    },

    /** From here on a block every `seconds` (anvil's interval mining), as on a real chain. */
    async startIntervalMining(seconds: number) {
      await anvil.rpc("evm_setAutomine", [false]);
      await anvil.rpc("evm_setIntervalMining", [seconds]);
    },

    /** Starts the daemon as its own process with the soak's settings plus `overrides` (e.g. CONFIRMATIONS, RPC_URL). */
    async startOracle(overrides: Partial<Record<keyof Settings, string | number | boolean>> = {}): Promise<OracleProcess> {
      const settings = settingsFor(overrides);
      let child = spawnOracle(settings);
      let seen = 0;
      const absorb = () => {
        oracleLines.push(...child.output.slice(seen));
        seen = child.output.length;
      };
      const waitStarted = async () => {
        const deadline = Date.now() + 90_000;
        for (;;) {
          absorb();
          if (child.output.some((line) => line.includes('"oracle started"'))) return;
          if (child.process.exitCode !== null) throw new Error(`the oracle exited (${child.process.exitCode}): ${child.output.slice(-20).join("\n")}`);
          if (Date.now() > deadline) throw new Error(`the oracle did not start within 90 s: ${child.output.slice(-20).join("\n")}`);
          await sleep(100);
        }
      };
      const exit = async (signal: NodeJS.Signals) => {
        if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill(signal);
        await child.exited;
        absorb();
      };
      await waitStarted();
      oracle = {
        get child() {
          return child;
        },
        settings,
        lines: () => {
          absorb();
          return oracleLines;
        },
        kill: () => exit("SIGKILL"),
        async restart() {
          await exit("SIGKILL");
          child = spawnOracle(settings);
          seen = 0;
          await waitStarted();
        },
        stop: () => exit("SIGTERM"),
      };
      return oracle;
    },

    /** SIGKILLs the gateway (if running) and starts it again on the same data, port and key. */
    async restartGateway() {
      await gateway.kill();
      gateway = await startGatewayProcess({ rpcUrl: anvil.url, chainId: options.chainId, addresses, gatewayKey, anchorIntervalSeconds: 0, home: gateway.home, port: gateway.port });
    },

    /**
     * The patient's side of one request: a reading, encrypted under the patient's own keys and
     * uploaded (retrying while the gateway is down, as a phone would), then the request
     * transaction signed at the patient's next nonce. Not sent yet.
     */
    async prepareRequest(index: number, random: Random): Promise<SoakRequest> {
      const patient = patients[index % patients.length]!;
      const which = random.int(0, artifacts.length - 1);
      const model = artifacts[which]!;
      const reading = randomReading(model.id, random);
      const bytes = patient.fhe.encrypt(model, reading);
      // Through the gateway's ingestion firewall (required by default): the stored, re-randomised blob's id goes on-chain.
      const { blobId: inputHash } = await retry(() => patient.gateway.putFirewalled(bytes, { owner: patient.wallet.address, category: Category.PREDICTION }), `upload of request ${index}`);
      const data = routerInterface.encodeFunctionData("requestPrediction", [patient.wallet.address, modelIds[which]!, inputHash, `${gatewayUrl}/v1/blobs/${inputHash}`]);
      const raw = await patient.wallet.signTransaction({ to: addresses.PredictionRouter, data, nonce: patient.nonce++, gasLimit: 600_000n, chainId: options.chainId, type: 2, ...REQUEST_FEES });
      const txHash = keccak256(raw);
      return { index, patient, model, modelId: modelIds[which]!, reading, inputHash, raw, txHash, resends: 0 };
    },

    /** Broadcasts a signed transaction; "already known" and "nonce too low" are the answers of a chain that has it. */
    async broadcast(raw: string): Promise<void> {
      await anvil.rpc("eth_sendRawTransaction", [raw]).catch(() => undefined);
    },

    /**
     * A patient's wallet re-broadcasting: every request whose transaction is neither mined nor in
     * the pool (a reorg dropped it) is sent again, same signed bytes. Returns how many.
     */
    async rebroadcastVanished(requests: SoakRequest[]): Promise<number> {
      let resent = 0;
      for (const request of requests) {
        const tx = await anvil.rpc<{ blockNumber: string | null } | null>("eth_getTransactionByHash", [request.txHash]).catch(() => undefined);
        if (tx === null) {
          request.resends++;
          resent++;
          await world.broadcast(request.raw);
        }
      }
      return resent;
    },

    unplannedExits,

    /**
     * A supervisor's round: a daemon process that exited or a gateway that does not answer
     * `/v1/info` although the soak did not kill it is recorded (exit status, last log lines) and
     * restarted on its data. The soaks that do not kill on purpose run this every 2 s.
     */
    async superviseOnce(): Promise<void> {
      if (oracle && (oracle.child.process.exitCode !== null || oracle.child.process.signalCode !== null)) {
        unplannedExits.push({ service: "oracle", at: new Date().toISOString(), detail: { code: oracle.child.process.exitCode, signal: oracle.child.process.signalCode, lastLines: oracle.child.output.slice(-8).map((l) => l.slice(0, 400)) } });
        log(options.soak, "the oracle daemon exited on its own; restarting it");
        await oracle.restart();
      }
      const answers = await fetch(`${gateway.url}/v1/info`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.ok, () => false);
      if (!answers) {
        const lastLines = readFileSync(gateway.logFile, "utf8").trimEnd().split("\n").slice(-8).map((l) => l.slice(0, 400));
        unplannedExits.push({ service: "gateway", at: new Date().toISOString(), detail: { lastLines } });
        log(options.soak, "the gateway stopped answering; restarting it");
        await world.restartGateway();
      }
    },

    /** Stops everything; the daemon's job store and both services' logs (oracle.log, gateway.log) stay in `work` for a post-mortem. */
    async close() {
      await oracle?.stop().catch(() => undefined);
      try {
        copyFileSync(gateway.logFile, join(work, "gateway.log"));
      } catch {
        // no log yet
      }
      writeFileSync(join(work, "oracle.log"), oracleLines.join("\n") + "\n");
      log(options.soak, `daemon and gateway logs and the job store kept in ${work}`);
      await gateway.stop().catch(() => undefined);
      for (const patient of patients) patient.fhe.dispose();
      await connection.close().catch(() => undefined);
      await anvil.stop();
      removeIgnitionJournal(options.chainId);
    },
  };
  return world;
}

/**
 * A router with sponsorship (issue 9 item 14) refuses unsponsored requests and caps pending ones:
 * governance gives every soak patient a budget and raises the caps above what a soak can leave
 * pending. A router without these functions reverts the calls, which are then skipped (it pays
 * every request itself). Returns the calls that took effect.
 */
async function sponsorWhereNeeded(governance: Signer, router: string, patients: string[]): Promise<string[]> {
  const calls: [string, unknown[]][] = [["sponsorPatients", [patients, 1_000n * 10n ** 18n]], ["setPendingCaps", [1_000, 1_000]]];
  const applied: string[] = [];
  for (const [name, args] of calls) {
    try {
      await (await governance.sendTransaction({ to: router, data: routerInterface.encodeFunctionData(name, args) })).wait();
      applied.push(name);
    } catch {
      // not this router's API
    }
  }
  return applied;
}

/** A plausible reading for each shipped model, drawn from the seeded source. */
export function randomReading(modelId: string, random: Random): Reading {
  if (modelId === "maternal-risk-v1") {
    return { age: random.int(18, 50), systolicBP: random.int(90, 160), diastolicBP: random.int(60, 100), bloodGlucose: random.int(60, 190) / 10, bodyTemp: random.int(97, 103), heartRate: random.int(60, 95) };
  }
  return {
    age: random.int(35, 75), sex: random.int(0, 1), cp: random.int(1, 4), trestbps: random.int(100, 180), chol: random.int(160, 320), fbs: random.int(0, 1),
    restecg: random.int(0, 2), thalach: random.int(100, 190), exang: random.int(0, 1), oldpeak: random.int(0, 40) / 10, slope: random.int(1, 3), ca: random.int(0, 3), thal: random.pick([3, 6, 7]),
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries `action` with a short back-off for up to `seconds` (a client waiting out a restarting service). */
export async function retry<T>(action: () => Promise<T>, what: string, seconds = 90): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (let attempt = 0; ; attempt++) {
    try {
      return await action();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what} kept failing for ${seconds} s: ${(error as Error).message}`);
      await sleep(Math.min(2_000, 200 * 2 ** attempt));
    }
  }
}
