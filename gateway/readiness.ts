import { randomBytes } from "node:crypto";
import { open, unlink } from "node:fs/promises";
import { join } from "node:path";

import { id as keccakUtf8, type Provider } from "ethers";

import type { IdentityRegistryContract } from "../protocol/contracts.js";

export const GATEWAY_ROLE = keccakUtf8("GATEWAY_ROLE");

/** One check of /readyz: `ok`, and what it saw (or why it failed, in `error`). */
export type ReadinessCheck = { ok: boolean; error?: string } & Record<string, unknown>;

/** The body of /readyz: ready only when every check is ok; `failing` names the others. */
export type ReadinessReport = { ready: boolean; failing: string[]; checks: Record<string, ReadinessCheck> };

export type GatewayReadinessOptions = {
  provider: Provider;
  /** The IdentityRegistry (GATEWAY_ROLE is read from it). */
  identity: IdentityRegistryContract;
  /** The gateway's address (its response-signing key, which must hold GATEWAY_ROLE). */
  address: string;
  chainId: number;
  dataDir: string;
  /** The chain check fails when the head block does not arrive within this. */
  chainTimeoutMs: number;
  /** The chain check fails when the head block is older than this (0: no bound). */
  maxBlockAgeSeconds: number;
  isStopping?: () => boolean;
  /** The blob store and the database (gateway/store/dataDir.ts `checks`): S3 and Postgres when configured. */
  backends?: { blobStore(): Promise<ReadinessCheck>; database(): Promise<ReadinessCheck> };
};

/**
 * What /readyz asks: can this gateway serve? Each check runs on every call (a scrape every few
 * seconds costs three RPC calls and one small file write), with its own time limit:
 * - `chain`: the head block arrives within `chainTimeoutMs`, from the chain id the gateway
 *   started on, and (with `maxBlockAgeSeconds`) is recent: without it no authorisation works;
 * - `gatewayRole`: the gateway's key holds GATEWAY_ROLE now; clients (the SDK's `connectGateway`)
 *   refuse a gateway without it and its anchors revert, so it must not report ready;
 * - `storage`: a probe file in the data directory can be written, fsynced and removed;
 * - `blobStore`, `database` (with `backends`): the S3 bucket answers (HeadBucket) and Postgres
 *   answers a query for its clock, each within `chainTimeoutMs`, with this replica's clock close
 *   enough to it for the shared nonces; directory and embedded storage report ok.
 */
export function createGatewayReadiness(options: GatewayReadinessOptions): () => Promise<ReadinessReport> {
  const { provider, identity, address } = options;

  /**
   * The head and the chain id straight from the node: through `send` when the provider has it, as
   * getNetwork() of a provider built with a static network (cli/context.ts) never asks, and
   * getBlock() may answer from ethers' call cache.
   */
  async function head(): Promise<{ block?: { number: number; timestamp: number }; chainId: number }> {
    const raw = provider as Provider & { send?: (method: string, params: unknown[]) => Promise<unknown> };
    if (typeof raw.send === "function") {
      const [block, chainId] = await Promise.all([
        raw.send("eth_getBlockByNumber", ["latest", false]) as Promise<{ number: string; timestamp: string } | null>,
        raw.send("eth_chainId", []) as Promise<string>,
      ]);
      return { block: block ? { number: Number(block.number), timestamp: Number(block.timestamp) } : undefined, chainId: Number(chainId) };
    }
    const [block, network] = await Promise.all([provider.getBlock("latest"), provider.getNetwork()]);
    return { block: block ?? undefined, chainId: Number(network.chainId) };
  }

  async function chain(): Promise<ReadinessCheck> {
    const { block, chainId } = await withTimeout(head(), options.chainTimeoutMs, "the chain");
    if (!block) return { ok: false, error: "the node returned no head block" };
    const ageSeconds = Math.max(0, Math.floor(Date.now() / 1000) - block.timestamp);
    if (chainId !== options.chainId) return { ok: false, error: `the RPC now serves chain ${chainId}, not ${options.chainId}`, chainId, block: block.number };
    if (options.maxBlockAgeSeconds > 0 && ageSeconds > options.maxBlockAgeSeconds) {
      return { ok: false, error: `the head block is ${ageSeconds} s old (bound ${options.maxBlockAgeSeconds} s): the node is not following the chain`, block: block.number, ageSeconds };
    }
    return { ok: true, chainId, block: block.number, ageSeconds };
  }

  async function gatewayRole(): Promise<ReadinessCheck> {
    const holds = await withTimeout(identity.hasRole(GATEWAY_ROLE, address), options.chainTimeoutMs, "the chain");
    return holds
      ? { ok: true, role: "GATEWAY_ROLE", address }
      : { ok: false, role: "GATEWAY_ROLE", address, error: `${address} does not hold GATEWAY_ROLE in the IdentityRegistry: clients refuse this gateway and its anchors revert (grant it: medcipher admin grant-role gateway ${address})` };
  }

  async function storage(): Promise<ReadinessCheck> {
    const probe = join(options.dataDir, `.ready-${randomBytes(6).toString("hex")}`);
    const file = await open(probe, "wx");
    try {
      await file.write("ready\n");
      await file.sync();
    } finally {
      await file.close();
      await unlink(probe).catch(() => undefined);
    }
    return { ok: true, dataDir: options.dataDir };
  }

  const run = async (check: () => Promise<ReadinessCheck>, what: Record<string, unknown> = {}): Promise<ReadinessCheck> => {
    try {
      return await check();
    } catch (error) {
      return { ok: false, ...what, error: (error as { shortMessage?: string }).shortMessage ?? (error as Error).message ?? String(error) };
    }
  };

  return async () => {
    const entries = await Promise.all([
      ["chain", run(chain)] as const,
      ["gatewayRole", run(gatewayRole, { role: "GATEWAY_ROLE", address })] as const,
      ["storage", run(storage, { dataDir: options.dataDir })] as const,
      ...(options.backends
        ? [
          ["blobStore", run(() => withTimeout(options.backends!.blobStore(), options.chainTimeoutMs, "the blob store"))] as const,
          ["database", run(() => withTimeout(options.backends!.database(), options.chainTimeoutMs, "the database"))] as const,
        ]
        : []),
    ].map(async ([name, result]) => [name, await result] as const));
    const checks: Record<string, ReadinessCheck> = Object.fromEntries(entries);
    if (options.isStopping?.()) checks.notStopping = { ok: false, error: "the gateway is stopping" };
    const failing = Object.entries(checks).filter(([, check]) => !check.ok).map(([name]) => name);
    return { ready: failing.length === 0, failing, checks };
  };
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
