import { readFileSync } from "node:fs";
import { join } from "node:path";

import { getAddress, Wallet } from "ethers";
import type { DestinationStream } from "pino";

import { ANONYMOUS_PREDICTION_REQUESTED_TOPIC, operatorInterface, ORACLE_REQUEST_TOPIC, PREDICTION_REQUESTED_TOPIC, quorumInterface } from "./chain/abi.js";
import { createChainFollower, type ChainUpdate } from "./chain/follower.js";
import { createChainReader } from "./chain/reader.js";
import { createRequestDecoder } from "./chain/requests.js";
import { createRpcClient, type RpcClient } from "./chain/rpc.js";
import { createTxManager, type OracleAccount } from "./chain/txManager.js";
import type { Common } from "./common.js";
import { printableSettings, type Settings } from "./config/settings.js";
import { createEvalPool } from "./eval/pool.js";
import type { EvalTask } from "./eval/types.js";
import { ConfigError, errorMessage } from "./errors.js";
import { createLogger } from "./logger.js";
import { createMetrics } from "./metrics.js";
import { createOracleBlobs, type GatewayBackend } from "./pipeline/blobs.js";
import { createProcessor } from "./pipeline/processor.js";
import { createQuorumSchedule } from "./pipeline/standby.js";
import { backoffDelayMs, sleep, withRetry } from "./retry.js";
import { createExternalAdapter } from "./server/adapter.js";
import { startOpsServer } from "./server/http.js";
import { createOracleReadiness, type ReadinessCheck } from "./server/readiness.js";
import { createShutdown } from "./shutdown.js";
import { openJobStore } from "./store/open.js";

/** The engine the workers load unless told otherwise: the fhe/ CKKS evaluator. */
export const DEFAULT_EVALUATOR_MODULE = new URL("./eval/fheEvaluator.ts", import.meta.url).href;

export type StartOracleOptions = {
  settings: Settings;
  /** Where JSON logs go (default: stdout). */
  logDestination?: DestinationStream;
  /** URL of a module exporting `createEvaluator()` (default: the fhe/ engine). */
  evaluatorModule?: string;
  /** Input checks run before evaluation (default: the fhe/ engine's header checks). */
  validate?: (task: EvalTask) => void;
  /** Blob backend; default: the SDK gateway client, signing as the oracle. */
  gateway?: GatewayBackend;
};

export type OracleHandle = {
  /** The oracle account (an authorised sender of the Operator). */
  address: string;
  /** Base URL of the ops server (/metrics, /healthz, /readyz, /adapter). */
  url: string;
  common: Common;
  /** Job counts by state, from the store. */
  jobCounts: () => Promise<Record<string, number>>;
  /** Stops cleanly: parks or finishes the jobs in hand, closes everything. */
  stop: () => Promise<void>;
};

/** Grace given to the steps in hand on shutdown; each is one committed transition. */
const SHUTDOWN_DRAIN_MS = 10_000;

type Deployment = { contracts?: Record<string, { address?: string }> };

function resolveAddresses(settings: Settings): { operator: string; router: string } {
  let fromFile: Deployment = {};
  if (settings.DEPLOYMENT_FILE !== "") {
    try {
      fromFile = JSON.parse(readFileSync(settings.DEPLOYMENT_FILE, "utf8")) as Deployment;
    } catch (cause) {
      throw new ConfigError(`Cannot read DEPLOYMENT_FILE ${settings.DEPLOYMENT_FILE}`, { cause: String(cause) });
    }
  }
  // A deployment with a quorum points its router at the quorum: that is where fulfilments go.
  const operator = settings.OPERATOR_ADDRESS || fromFile.contracts?.OracleQuorum?.address || fromFile.contracts?.Operator?.address;
  const router = settings.ROUTER_ADDRESS || fromFile.contracts?.PredictionRouter?.address;
  if (!operator || !router) throw new ConfigError("Operator and PredictionRouter addresses are needed (OPERATOR_ADDRESS/ROUTER_ADDRESS or DEPLOYMENT_FILE)");
  return { operator: getAddress(operator), router: getAddress(router) };
}

async function loadAccount(settings: Settings): Promise<Wallet> {
  if (settings.PRIVATE_KEY !== "") return new Wallet(settings.PRIVATE_KEY);
  const json = readFileSync(settings.KEYSTORE_FILE, "utf8");
  const wallet = await Wallet.fromEncryptedJson(json, settings.KEYSTORE_PASSWORD);
  return new Wallet(wallet.privateKey);
}

/**
 * Starts the daemon: job store, chain follower, pipeline, transaction manager, worker pool, ops
 * server (and external adapter). Does not install signal handlers: `main.ts` does, the tests
 * and the demo call `stop()` themselves.
 *
 * @example
 * const oracle = await startOracle({ settings: loadSettings({ overrides: { RPC_URL, PRIVATE_KEY, ... } }) });
 * // … requests get fulfilled …
 * await oracle.stop();
 */
export async function startOracle(options: StartOracleOptions): Promise<OracleHandle> {
  const { settings } = options;
  const common: Common = {
    settings,
    logger: createLogger({ level: settings.LOG_LEVEL, ...(options.logDestination ? { destination: options.logDestination } : {}) }),
    metrics: createMetrics(),
    shutdown: createShutdown(),
  };
  const { logger, shutdown } = common;
  logger.info({ settings: printableSettings(settings) }, "oracle starting");
  try {
    return await assemble(common, options);
  } catch (error) {
    await shutdown.kill("start-up failed");
    throw error;
  }
}

async function assemble(common: Common, options: StartOracleOptions): Promise<OracleHandle> {
  const { settings } = options;
  const { logger, metrics, shutdown } = common;

  const { operator, router } = resolveAddresses(settings);
  const wallet = await loadAccount(settings);
  const account: OracleAccount = { address: wallet.address, signingKey: wallet.signingKey };

  let monitorWake: (() => void) | undefined;
  // With Postgres, replicas share the store; the nonce lease picks the one that follows the chain
  // and sends transactions (the others work on claimed pipeline jobs until they take it over).
  const { store, replication } = await openJobStore(settings, (owner, epoch) => {
    metrics.nonceOwner.set(owner ? 1 : 0);
    logger.warn({ replicaId: settings.REPLICA_ID, epoch }, owner ? "took the nonce lease: this replica follows the chain and sends transactions" : "lost the nonce lease: no longer sending transactions");
    monitorWake?.();
  });
  shutdown.add(() => store.close());
  if (replication) shutdown.add(() => replication.lease.close());
  metrics.nonceOwner.set(!replication || replication.lease.isOwner() ? 1 : 0);
  /** Only the nonce owner follows the chain and sends; with SQLite that is this daemon, always. */
  const isNonceOwner = () => !replication || replication.lease.isOwner();
  /** The lease epoch the transaction manager was (re)initialised for: sending waits for it after a takeover. */
  let txEpoch: number | undefined;
  const txReady = () => !replication || (replication.lease.isOwner() && replication.lease.epoch() === txEpoch);
  const rpc = createRpcClient({
    url: settings.RPC_URL, timeoutMs: settings.RPC_TIMEOUT_MS, signal: shutdown.signal,
    onError: (method) => metrics.rpcErrors.inc({ method }),
    onTiming: (method, seconds) => metrics.rpcSeconds.observe({ method }, seconds),
  });

  const chainId = await withRetry(() => rpc.request<string>("eth_chainId"), {
    signal: shutdown.signal, maxAttempts: 20,
    onRetry: (error, attempt, delayMs) => logger.warn({ err: errorMessage(error), attempt, delayMs }, "RPC not reachable yet"),
  }).then(BigInt);
  if (settings.CHAIN_ID !== 0 && BigInt(settings.CHAIN_ID) !== chainId) {
    throw new ConfigError("RPC serves another chain", { expected: settings.CHAIN_ID, actual: chainId.toString() });
  }
  const authorised = operatorInterface.decodeFunctionResult("isAuthorizedSender",
    await rpc.request<string>("eth_call", [{ to: operator, data: operatorInterface.encodeFunctionData("isAuthorizedSender", [account.address]) }, "latest"]))[0] as boolean;
  if (!authorised) logger.error({ address: account.address, operator }, "the oracle account is not an authorised sender of the Operator: fulfilments will be refused");
  const quorum = await quorumOf(rpc, operator);
  if (quorum) logger.info({ operator, k: quorum.k, n: quorum.n, standbyMs: settings.QUORUM_STANDBY_MS }, "the operator is an OracleQuorum: each fulfilment is this daemon's vote");

  const reader = createChainReader({ rpc, router });

  const pool = createEvalPool({
    common, evaluatorModule: options.evaluatorModule ?? DEFAULT_EVALUATOR_MODULE,
    evaluatorOptions: settings.PRIVATE_MODEL_MASK_KEY === "" ? {} : { maskKeyHex: settings.PRIVATE_MODEL_MASK_KEY },
    ...(options.gateway ? {} : {
      gateway: { url: settings.GATEWAY_URL, chainId: Number(chainId), gatewayAddress: settings.GATEWAY_ADDRESS, privateKey: wallet.privateKey, timeoutMs: settings.GATEWAY_TIMEOUT_MS },
    }),
    size: settings.WORKER_THREADS, queueLimit: settings.EVAL_QUEUE_LIMIT,
  });
  shutdown.add(() => pool.close());
  await pool.ready();
  // Gateway requests go through the workers: their ECDSA work would otherwise serialise on this thread.
  const gateway = options.gateway ?? pool.gatewayBackend();
  const blobs = createOracleBlobs({
    gateway, cacheDir: join(settings.DATA_DIR, "blobs"),
    onError: () => metrics.gatewayErrors.inc(),
    onTiming: (op, seconds) => metrics.gatewaySeconds.observe({ op }, seconds),
  });
  const validate = options.validate ?? (await defaultValidator(options.evaluatorModule));

  const txManager = createTxManager({
    common, rpc, store, account, chainId, operatorAddress: operator, canSend: txReady,
    ...(options.gateway ? {} : { signBatch: (txs) => pool.signTransactions(txs) }),
    onSettled: (job) => {
      blobs.forget(job.request.prediction.inputHash);
      if (job.request.prediction.accessKey) blobs.forget(job.request.prediction.keysHash);
      if (job.resultHash) blobs.forget(job.resultHash);
    },
  });
  if (!replication) await withRetry(() => txManager.init(), { signal: shutdown.signal, maxAttempts: 20 });

  const processor = createProcessor({
    common, store, reader, blobs, pool, txManager, canSubmit: txReady,
    ...(quorum ? { schedule: createQuorumSchedule({ rpc, quorum: operator, self: account.address, standbyMs: settings.QUORUM_STANDBY_MS }) } : {}),
    ...(replication ? { claims: { ...replication.claims, replicaId: replication.replicaId, claimMs: replication.claimMs } } : {}),
    ...(validate ? { validate } : {}),
  });
  const follower = createChainFollower({
    common, rpc, store, isActive: isNonceOwner,
    addresses: [operator, router],
    topics: [ORACLE_REQUEST_TOPIC, PREDICTION_REQUESTED_TOPIC, ANONYMOUS_PREDICTION_REQUESTED_TOPIC],
    decodeLogs: createRequestDecoder({ operator, router }),
    onUpdate: (update: ChainUpdate) => {
      if (update.type === "reorg") logger.warn({ ancestor: update.ancestor, dropped: update.dropped, reopened: update.reopened }, "jobs from dropped blocks forgotten until they reappear; fulfilments dropped re-sent");
      processor.wake();
      monitorWake?.();
    },
  });

  /**
   * After taking the nonce lease the transaction manager starts from the shared store and the
   * chain: nonce from both, the previous owner's recorded transactions re-sent unchanged (same
   * bytes: the same fulfilment), their receipts adopted or their jobs re-simulated by monitor().
   */
  async function takeOverIfNeeded(): Promise<boolean> {
    if (!replication) return true;
    const epoch = replication.lease.epoch();
    if (epoch === undefined) return false;
    if (epoch !== txEpoch) {
      await txManager.init({ takeover: true });
      txEpoch = epoch;
      logger.info({ replicaId: replication.replicaId, epoch, nextNonce: txManager.nextNonce }, "nonce state taken over from the store and the chain");
    }
    return true;
  }

  async function monitorLoop(): Promise<void> {
    let failures = 0;
    while (!shutdown.isKilled()) {
      try {
        if (await takeOverIfNeeded()) await txManager.monitor();
        failures = 0;
      } catch (error) {
        failures++;
        logger.warn({ err: errorMessage(error), failures }, "transaction monitor failed; backing off");
        await sleep(backoffDelayMs(failures), shutdown.signal).catch(() => undefined);
        continue;
      }
      processor.wake();
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          shutdown.signal.removeEventListener("abort", done);
          monitorWake = undefined;
          resolve();
        };
        const timer = setTimeout(done, isNonceOwner() ? settings.POLL_INTERVAL_MS : settings.NONCE_LEASE_POLL_MS);
        monitorWake = done;
        shutdown.signal.addEventListener("abort", done, { once: true });
      });
    }
  }

  const adapter = settings.ADAPTER_ENABLED || settings.ADAPTER_ONLY
    ? createExternalAdapter({ common, rpc, reader, blobs, pool, router, ...(validate ? { validate } : {}) })
    : undefined;
  const server = await startOpsServer({
    common,
    jobCounts: () => store.countsByState(),
    adapter,
    readiness: createOracleReadiness({
      rpc, operator, router, account: account.address,
      gatewayUrl: settings.GATEWAY_URL, gatewayAddress: settings.GATEWAY_ADDRESS,
      gatewayTimeoutMs: Math.min(settings.GATEWAY_TIMEOUT_MS, 5_000),
      local: () => {
        const replica: Record<string, ReadinessCheck> = replication ? { replica: { ok: true, replicaId: replication.replicaId, nonceOwner: isNonceOwner(), epoch: replication.lease.epoch() } } : {};
        // A standby replica does not follow the chain (the owner does): its lag is not its own.
        if (!isNonceOwner()) {
          return {
            notStopping: shutdown.isKilled() ? { ok: false, error: "the daemon is stopping" } : { ok: true },
            ...replica,
            workers: pool.size() > 0 ? { ok: true, workers: pool.size() } : { ok: false, workers: 0, error: "no evaluation worker is running" },
          };
        }
        const status = follower.status();
        const fresh = settings.ADAPTER_ONLY || Date.now() - status.lastTickAt < Math.max(30_000, settings.POLL_INTERVAL_MS * 20);
        const lag = status.head < 0 ? undefined : status.head - status.cursor;
        const lagOk = settings.ADAPTER_ONLY || (lag !== undefined && lag <= settings.READY_MAX_LAG_BLOCKS);
        return {
          notStopping: shutdown.isKilled() ? { ok: false, error: "the daemon is stopping" } : { ok: true },
          chainFresh: fresh
            ? { ok: true, head: status.head }
            : { ok: false, error: `the chain follower has not completed a poll for ${Math.round((Date.now() - status.lastTickAt) / 1000)} s`, lastChainError: status.lastError },
          chainLag: lagOk
            ? { ok: true, lagBlocks: lag }
            : { ok: false, lagBlocks: lag, error: `the follower is ${lag ?? "an unknown number of"} blocks behind the head (bound READY_MAX_LAG_BLOCKS ${settings.READY_MAX_LAG_BLOCKS})` },
          workers: pool.size() > 0 ? { ok: true, workers: pool.size() } : { ok: false, workers: 0, error: "no evaluation worker is running" },
          ...replica,
        };
      },
    }),
  });
  shutdown.add(() => server.close());

  const loops: Promise<void>[] = [];
  if (!settings.ADAPTER_ONLY) loops.push(follower.run(), processor.run(), monitorLoop());
  shutdown.add(async () => {
    await processor.drain(SHUTDOWN_DRAIN_MS);
    await Promise.race([Promise.allSettled(loops), sleep(SHUTDOWN_DRAIN_MS)]);
  });

  logger.info({ address: account.address, operator, router, chainId: chainId.toString(), url: server.url }, "oracle started");
  return {
    address: account.address,
    url: server.url,
    common,
    jobCounts: () => store.countsByState(),
    stop: async () => {
      logger.info("oracle stopping");
      await shutdown.kill("stop");
      logger.info({ jobs: "parked in the job store" }, "oracle stopped");
    },
  };
}

/** k and n when `operator` is an OracleQuorum; undefined for a Chainlink Operator (no `quorum()`). */
async function quorumOf(rpc: RpcClient, operator: string): Promise<{ k: number; n: number } | undefined> {
  try {
    const data = await rpc.request<string>("eth_call", [{ to: operator, data: quorumInterface.encodeFunctionData("quorum") }, "latest"]);
    const [k, n] = quorumInterface.decodeFunctionResult("quorum", data) as unknown as [bigint, bigint];
    return { k: Number(k), n: Number(n) };
  } catch {
    return undefined;
  }
}

async function defaultValidator(evaluatorModule: string | undefined): Promise<((task: EvalTask) => void) | undefined> {
  if (evaluatorModule !== undefined && evaluatorModule !== DEFAULT_EVALUATOR_MODULE) return undefined;
  const module = (await import(DEFAULT_EVALUATOR_MODULE)) as { validateTask?: (task: EvalTask) => void };
  return module.validateTask;
}
