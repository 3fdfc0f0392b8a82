import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Writable } from "node:stream";

import { encodeBytes32String, hexlify, randomBytes, Wallet, type Signer } from "ethers";
import { network } from "hardhat";
import { pino } from "pino";

import { sha256Hex } from "../../../core/hash.js";
import { startAnvil, type AnvilHandle } from "../../../deploy/anvil.js";
import { deployMedCipher, OutputKind, type MedCipherDeployment } from "../../../deploy/local.js";
import { attachOracleQuorum } from "../../../deploy/quorum.js";
import { FheClient } from "../../../fhe/client.js";
import { type ModelArtifact } from "../../../fhe/model.js";
import { loadModel } from "../../../fhe/modelFile.js";
import { openAuditLog } from "../../../gateway/audit/auditLog.js";
import type { AccessPolicy } from "../../../gateway/policy.js";
import { createChainAccessPolicy } from "../../../gateway/chainPolicy.js";
import type { FirewallMode } from "../../../gateway/firewall.js";
import { createGateway } from "../../../gateway/server.js";
import { createChainFirewall } from "../../../gateway/service.js";
import { createDirectoryBlobStore } from "../../../gateway/store/directoryStore.js";
import { createDirectoryMetadataStore } from "../../../gateway/store/metadata.js";
import { loadSettings, type Settings } from "../../../oracle/config/settings.js";
import { jobsFromReceipt } from "../../../deploy/prediction.js";
import { Category } from "../../../protocol/codes.js";
import { connectContracts } from "../../../protocol/contracts.js";
import { createGatewayClient, type GatewayClient } from "../../../sdk/gateway/client.js";
import { startRpcProxy, type RpcProxy } from "./rpcProxy.js";

/**
 * A whole MedCipher world for oracle tests, all real: the in-process EDR chain with the suite
 * deployed, an HTTP JSON-RPC endpoint in front of it (that can be made to fail), the gateway on
 * loopback with the chain access policy, and patients with CKKS key sets whose secret keys stay
 * here, in the "client" part of the test.
 *
 * `chain: "anvil"` deploys onto Foundry's anvil instead (a separate process on loopback) for the
 * tests that need a chain that really replaces blocks: `world.anvil.reorg(depth, [[raw, offset]])`.
 */
export type Patient = { signer: Signer; address: string; fhe: FheClient; keysHash: string; gateway: GatewayClient };

export type World = Awaited<ReturnType<typeof createWorld>>;

export const READINGS = {
  "maternal-risk-v1": { age: 35, systolicBP: 140, diastolicBP: 90, bloodGlucose: 13, bodyTemp: 98, heartRate: 80 },
  "heart-disease-lr-v1": { age: 63, sex: 1, cp: 1, trestbps: 145, chol: 233, fbs: 1, restecg: 2, thalach: 150, exang: 0, oldpeak: 2.3, slope: 3, ca: 0, thal: 6 },
} as const;

/**
 * Lets a test make the real gateway refuse (throw its own ForbiddenError …) before the chain
 * policy is asked, as it would when judging against a branch a reorg dropped, or hold a request
 * (the hooks are awaited).
 */
export type PolicyInterceptor = { beforeRead?: (access: Parameters<AccessPolicy["authorizeRead"]>[0]) => void | Promise<void>; beforeWrite?: (access: Parameters<AccessPolicy["authorizeWrite"]>[0]) => void | Promise<void> };

/**
 * `firewall`: the gateway runs the ingestion firewall (gateway/firewall.ts) in that mode; with
 * `required`, `world.request` sends inputs through it and requests the stored blob's hash.
 */
/**
 * `quorum`: the router talks to an OracleQuorum (k of n) instead of the Chainlink Operator, with
 * n oracle keys of their own (`world.oracleKeys`), each authorised through the router.
 */
export async function createWorld(options: { patients?: number; chain?: "edr" | "anvil"; firewall?: FirewallMode; quorum?: { n: number; k: number } } = {}) {
  // Ignition keeps a journal per chain id on disk for a chain process (deploy/deployments/chain-<id>):
  // a chain id of its own per world, and the journal removed once deployed, so runs never collide.
  const anvilChainId = 1_000_000 + Math.floor(Math.random() * 1_000_000);
  const anvil: AnvilHandle | undefined = options.chain === "anvil" ? await startAnvil({ chainId: anvilChainId }) : undefined;
  const connection = anvil ? await network.create({ network: "localhost", override: { url: anvil.url } }) : await network.create();
  const { ethers, provider, networkHelpers } = connection;
  const signers = await ethers.getSigners();
  const oracleKey = Wallet.createRandom();
  const gatewayKey = Wallet.createRandom();
  const oracleKeys = Array.from({ length: options.quorum?.n ?? 0 }, () => Wallet.createRandom());
  for (const address of [oracleKey.address, gatewayKey.address, ...oracleKeys.map((k) => k.address)]) {
    if (anvil) await anvil.rpc("anvil_setBalance", [address, "0x56bc75e2d63100000"]);
    else await networkHelpers.setBalance(address, 10n ** 20n);
  }

  const artifacts: ModelArtifact[] = [loadModel("maternal-risk-v1"), loadModel("heart-disease-lr-v1")];
  const base: MedCipherDeployment = await deployMedCipher(connection, {
    oracleSenders: [oracleKey.address],
    roles: { gateways: [gatewayKey.address] },
    // Every request needs a sponsor: governance budgets for all the chain's accounts (the patients).
    sponsoredPatients: await Promise.all(signers.map((s) => s.getAddress())),
    models: artifacts.map((m) => ({
      name: m.id, version: m.version, weightsHash: m.weightsHash, weightsUri: `models/${m.id}.json`,
      paramSetId: encodeBytes32String(m.paramSetId), encodingSpecHash: m.encodingSpecHash,
      outputKind: m.output.kind === "softmax" ? OutputKind.Softmax : OutputKind.Sigmoid, isPrivate: m.isPrivate,
    })),
  });
  const { suite, quorum } = options.quorum
    ? await attachOracleQuorum(connection, base, { k: options.quorum.k, operators: oracleKeys.map((k) => k.address), sponsoredPatients: await Promise.all(signers.map((s) => s.getAddress())) })
    : { suite: base, quorum: undefined };
  if (anvil) rmSync(fileURLToPath(new URL(`../../../deploy/deployments/chain-${anvilChainId}`, import.meta.url)), { recursive: true, force: true });
  const modelIds = Object.fromEntries(artifacts.map((m, i) => [m.id, Number(suite.modelIds[i])])) as Record<string, number>;

  const rpc: RpcProxy = await startRpcProxy(anvil ? anvil.url : provider);
  const dir = mkdtempSync(join(tmpdir(), "oracle-world-"));
  const audit = await openAuditLog(join(dir, "gateway", "audit.jsonl"));
  const interceptor: PolicyInterceptor = {};
  const a = suite.addresses;
  const contracts = connectContracts(a, ethers.provider);
  const chainId = Number((await ethers.provider.getNetwork()).chainId);
  const store = createDirectoryBlobStore(join(dir, "gateway", "blobs"));
  const chainPolicy = createChainAccessPolicy({ contracts, provider: ethers.provider });
  const firewall = options.firewall ? createChainFirewall({ mode: options.firewall, contracts, view: chainPolicy.view, store }) : undefined;
  const gateway = createGateway({
    store,
    metadata: createDirectoryMetadataStore(join(dir, "gateway", "meta")),
    audit,
    firewall,
    policy: interceptedPolicy(chainPolicy, interceptor),
    signingKey: gatewayKey.signingKey,
    gatewayAddress: gatewayKey.address,
    chainId,
    logger: pino({ level: "silent" }),
  });
  const gatewayUrl = await gateway.listen(0, "127.0.0.1");

  const patients: Patient[] = [];
  for (let i = 0; i < (options.patients ?? 1); i++) {
    const signer = signers[i + 2]!;
    const address = await signer.getAddress();
    const fhe = await FheClient.generate("ckks-2048-v1");
    const keys = fhe.evaluationKeys();
    const keysHash = sha256Hex(keys);
    const client = createGatewayClient({ url: gatewayUrl, signer: signer as never, chainId, gatewayAddress: gatewayKey.address });
    await (await suite.identity.connect(signer).registerPatient(keysHash, encodeBytes32String("ckks-2048-v1"), `${gatewayUrl}/v1/blobs/${keysHash}`, hexlify(randomBytes(32)))).wait();
    await client.put(keys, { owner: address, kind: "he-keys", category: Category.PREDICTION });
    patients.push({ signer, address, fhe, keysHash, gateway: client });
  }

  const maskKey = hexlify(randomBytes(32));
  const world = {
    connection, ethers, provider, networkHelpers, suite, rpc, gatewayUrl, gatewayKey, oracleKey, patients, artifacts, modelIds, dir, chainId, maskKey,
    /** With `quorum`: the OracleQuorum (suite.addresses.Operator) and its operators' keys. */
    quorum, oracleKeys,
    /** The anvil process when `chain: "anvil"` (for `reorg`, `rpc`). */
    anvil,
    /** Hooks run by the gateway's access policy before the chain is asked. */
    interceptor,

    /** Oracle settings for this world; `overrides` win. Each call gets its own data directory. */
    settings(overrides: Partial<Record<keyof Settings, string | number | boolean>> = {}): Settings {
      return loadSettings({
        env: {},
        overrides: {
          RPC_URL: rpc.url, OPERATOR_ADDRESS: a.Operator, ROUTER_ADDRESS: a.PredictionRouter, CHAIN_ID: chainId,
          PRIVATE_KEY: oracleKey.privateKey, GATEWAY_URL: gatewayUrl, GATEWAY_ADDRESS: gatewayKey.address,
          PRIVATE_MODEL_MASK_KEY: maskKey, DATA_DIR: mkdtempSync(join(dir, "oracle-")), HTTP_PORT: 0,
          POLL_INTERVAL_MS: 50, WORKER_THREADS: 1, LOG_LEVEL: "info", RPC_TIMEOUT_MS: 2_000, GATEWAY_TIMEOUT_MS: 2_000,
          TX_STUCK_AFTER_MS: 1_500, CONFIRMATIONS: 1,
          ...overrides,
        },
      });
    },

    /**
     * Encrypts a reading for `patient`, uploads it (through the firewall when the world requires
     * it) and requests a prediction; returns the request id and the input the oracle evaluates.
     */
    async request(patient: Patient, modelId: keyof typeof READINGS = "maternal-risk-v1", input?: Uint8Array, options: { manualMine?: boolean; gasLimit?: number } = {}): Promise<{ requestId: string; input: Uint8Array; blockNumber: number }> {
      const artifact = artifacts.find((m) => m.id === modelId)!;
      let bytes = input ?? patient.fhe.encrypt(artifact, READINGS[modelId]);
      if (firewall?.mode === "required") {
        const { blobId } = await patient.gateway.putFirewalled(bytes, { owner: patient.address, category: Category.PREDICTION });
        bytes = await patient.gateway.get(blobId, { purpose: 0 });
      } else await patient.gateway.put(bytes, { owner: patient.address, kind: "he-input", category: Category.PREDICTION });
      const inputHash = sha256Hex(bytes);
      // A gas limit of the test's choosing: a request re-included elsewhere by a reorg must not run
      // out of the gas estimated for its first position (first writes of a slot cost more).
      const tx = await suite.router.connect(patient.signer).requestPrediction(patient.address, modelIds[modelId]!, inputHash, `${gatewayUrl}/v1/blobs/${inputHash}`, options.gasLimit ? { gasLimit: options.gasLimit } : {});
      if (options.manualMine) await networkHelpers.mine(1);
      const receipt = (await tx.wait())!;
      const [job] = jobsFromReceipt(receipt, a.Operator, a.PredictionRouter);
      return { requestId: job!.requestId, input: bytes, blockNumber: receipt.blockNumber };
    },

    /** Requests with an input hash whose blob was never uploaded or is arbitrary bytes. */
    async requestRaw(patient: Patient, bytes: Uint8Array, modelId: keyof typeof READINGS = "maternal-risk-v1", upload = true) {
      const inputHash = sha256Hex(bytes);
      if (upload) await patient.gateway.put(bytes, { owner: patient.address, kind: "he-input", category: Category.PREDICTION });
      const tx = await suite.router.connect(patient.signer).requestPrediction(patient.address, modelIds[modelId]!, inputHash, `${gatewayUrl}/v1/blobs/${inputHash}`);
      const receipt = (await tx.wait())!;
      return { requestId: jobsFromReceipt(receipt, a.Operator, a.PredictionRouter)[0]!.requestId, blockNumber: receipt.blockNumber };
    },

    async status(requestId: string) {
      return suite.router.getRequest(requestId);
    },

    /** Every OracleResponse (fulfilment) the Operator emitted for `requestId`. */
    async fulfilmentCount(requestId: string): Promise<number> {
      const logs = quorum
        ? await quorum.queryFilter(quorum.filters.OracleResponse(requestId), 0, "latest")
        : await suite.operator.queryFilter(suite.operator.filters.OracleResponse(requestId), 0, "latest");
      return logs.length;
    },

    async close() {
      await gateway.close();
      firewall?.dispose();
      await audit.close();
      await rpc.close();
      for (const p of patients) p.fhe.dispose();
      await anvil?.stop();
    },
  };
  return world;
}

function interceptedPolicy(policy: AccessPolicy, interceptor: PolicyInterceptor): AccessPolicy {
  return {
    authorizeRead: async (access) => {
      await interceptor.beforeRead?.(access);
      return policy.authorizeRead(access);
    },
    authorizeWrite: async (access) => {
      await interceptor.beforeWrite?.(access);
      return policy.authorizeWrite(access);
    },
    authorizeAuditRead: (signer, owner) => policy.authorizeAuditRead(signer, owner),
  };
}

/** A pino destination that keeps every line, to assert on logs. */
export function logSink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      callback();
    },
  });
  return { stream, lines, text: () => lines.join("\n") };
}

/** Polls `check` until it returns a value (not undefined/false) or `timeoutMs` passes. */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
