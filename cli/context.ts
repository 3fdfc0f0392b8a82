import { mkdir, readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

import type { Command } from "commander";
import { FetchRequest, getAddress, isAddress, JsonRpcProvider, Network, Wallet } from "ethers";

import { BaseError } from "../core/errors.js";
import { writeFileAtomic } from "../core/node/atomicFile.js";
import type { RecordRef } from "../sdk/actions/types.js";
import type { MedCipherAddresses } from "../protocol/contracts.js";
import { loadDeployment } from "../sdk/node/deployment.js";
import { createMedCipherClient, type MedCipherClient } from "../sdk/node.js";
import type { RecipientKeyPair } from "../sdk/crypto/hybrid.js";
import { recipientKeyFromSecrets } from "../sdk/keystore/hybridEncryptionKey.js";
import { GatewayUnavailableError, InvalidInputError, KeystoreError, TimeoutError } from "../sdk/errors.js";
import { readKeystore, type KeystoreSecrets } from "../sdk/keystore.js";
import { createNodeHttpTransport } from "../sdk/node/transport.js";
import { createOutput, type Output } from "./output.js";

export type GlobalOptions = {
  home: string;
  rpc: string;
  deployment?: string;
  gateway: string;
  identity: string;
  /** The identity's keystore file, when it is not <home>/keys/<identity>.json (e.g. a systemd credential). */
  keystore?: string;
  passwordEnv: string;
  json: boolean;
};

export class RpcUnavailableError extends BaseError {
  override name = "RpcUnavailableError";
  constructor(rpc: string, cause: unknown) {
    super(`No chain answers at ${rpc}. Start one (npx hardhat node) or pass --rpc.`, { code: "CLI_RPC_UNAVAILABLE", details: { rpc }, cause });
  }
}

export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals() as GlobalOptions;
}

export function output(command: Command): Output {
  return createOutput(globalOptions(command).json === true);
}

export function keystorePath(options: Pick<GlobalOptions, "home" | "identity" | "keystore">): string {
  if (options.keystore) return resolve(options.keystore);
  return join(resolve(options.home), "keys", `${options.identity}.json`);
}

export function password(options: Pick<GlobalOptions, "passwordEnv">): string {
  const value = process.env[options.passwordEnv];
  if (!value) throw new KeystoreError(`Set the keystore password in $${options.passwordEnv} (or choose another variable with --password-env).`);
  return value;
}

export type Identity = { address: string; secrets: KeystoreSecrets; wallet: Wallet; encryptionKey?: RecipientKeyPair };

export async function loadIdentity(options: GlobalOptions, name = options.identity): Promise<Identity> {
  // --keystore names the acting identity's file only; other identities (a relayer) stay in <home>/keys/.
  const path = keystorePath(name === options.identity ? options : { home: options.home, identity: name });
  const { address, secrets } = await readKeystore(path, password(options));
  // The hybrid pair once the keystore holds an ML-KEM seed (`keys publish-hybrid`), else the X25519 pair.
  const encryptionKey = await recipientKeyFromSecrets(secrets);
  if (!secrets.privateKey) throw new KeystoreError(`Keystore ${path} holds no Ethereum key: its account lives in a browser wallet, which the CLI cannot sign with.`);
  return { address, secrets, wallet: new Wallet(secrets.privateKey), encryptionKey };
}

/** How long any one JSON-RPC call may take before the CLI gives up (ethers' own default is 300 s). */
export const DEFAULT_RPC_TIMEOUT_MS = 60_000;

/**
 * Connects to the RPC without ethers' endless network detection: one eth_chainId with a timeout
 * first. Every later call gives up after `timeoutMs` (ethers error code TIMEOUT; exit 9).
 */
export async function connectRpc(rpc: string, options: { timeoutMs?: number } = {}): Promise<JsonRpcProvider> {
  let chainId: number;
  try {
    const response = await fetch(rpc, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(5_000),
    });
    chainId = Number(((await response.json()) as { result: string }).result);
    if (!Number.isSafeInteger(chainId)) throw new Error("no chain id in the answer");
  } catch (error) {
    throw new RpcUnavailableError(rpc, error);
  }
  const network = Network.from(chainId);
  // batchStallTime 0: calls made in the same tick still share one batch, but none waits the
  // default 10 ms for company (the gateway's per-block consent reads sit on the request path).
  const request = new FetchRequest(rpc);
  request.timeout = options.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
  // cacheTimeout -1: ethers otherwise caches every call for 250 ms, eth_getTransactionCount
  // included, so a second transaction sent straight after the first reused its nonce
  // ("nonce has already been used"); commands that send several in a row need none of their own
  // nonce handling.
  return new JsonRpcProvider(request, network, { staticNetwork: network, pollingInterval: 250, batchStallTime: 0, cacheTimeout: -1 });
}

/** The deployment file's contracts are not on the chain at --rpc (a restarted node, another chain). */
export class DeploymentNotOnChainError extends BaseError {
  override name = "DeploymentNotOnChainError";
  constructor(message: string, details: Record<string, unknown>) {
    super(message, { code: "CLI_DEPLOYMENT_NOT_ON_CHAIN", details });
  }
}

/**
 * The contract addresses for the chain at --rpc. With `provider`, each is checked to hold code
 * first: after a `hardhat node` restart the file still names the old addresses, and a call to an
 * address without code "succeeds" (a transaction to it is mined and does nothing), so a command
 * would print success having done nothing.
 */
export async function loadAddresses(options: GlobalOptions, chainId: number, provider?: JsonRpcProvider): Promise<MedCipherAddresses> {
  const path = options.deployment ?? join(process.cwd(), "deployments", `${chainId}.json`);
  const deployment = await loadDeployment(path);
  if (provider) await requireDeployedCode(deployment, { path, rpc: options.rpc, chainId }, provider);
  return deployment.addresses;
}

async function requireDeployedCode(deployment: { chainId: number; addresses: MedCipherAddresses }, where: { path: string; rpc: string; chainId: number }, provider: JsonRpcProvider): Promise<void> {
  const redeploy = "Deploy to this chain first (npm run deploy -- --network <name>) or pass the right --deployment / --rpc.";
  if (Number.isSafeInteger(deployment.chainId) && deployment.chainId !== where.chainId) {
    throw new DeploymentNotOnChainError(`Deployment ${where.path} is for chain ${deployment.chainId}, but the chain at ${where.rpc} is ${where.chainId}. ${redeploy}`, { ...where, deploymentChainId: deployment.chainId });
  }
  const entries = Object.entries(deployment.addresses);
  const codes = await Promise.all(entries.map(([, address]) => provider.getCode(address)));
  const missing = entries.filter((_, i) => codes[i] === "0x");
  if (missing.length > 0) {
    const [name, address] = missing[0]!;
    throw new DeploymentNotOnChainError(
      `No contract at ${address} (${name}, from ${where.path}) on chain ${where.chainId} at ${where.rpc}: the chain was restarted or is not the one deployed to. ${redeploy}`,
      { ...where, missing: Object.fromEntries(missing) },
    );
  }
}

/** How long any one gateway request may take before the CLI gives up: no silent hang on a paused gateway. */
export const DEFAULT_GATEWAY_TIMEOUT_MS = 60_000;

/** The SDK client for the chosen identity, connected to the RPC (and the gateway unless `gateway: false`). */
export async function makeClient(options: GlobalOptions, config: { gateway?: boolean; identity?: Identity; gatewayTimeoutMs?: number; rpcTimeoutMs?: number } = {}): Promise<{ client: MedCipherClient; identity: Identity; provider: JsonRpcProvider }> {
  const identity = config.identity ?? (await loadIdentity(options));
  const provider = await connectRpc(options.rpc, { timeoutMs: config.rpcTimeoutMs });
  const chainId = Number((await provider.getNetwork()).chainId);
  const addresses = await loadAddresses(options, chainId, provider);
  const client = await createMedCipherClient({
    account: identity.wallet.connect(provider),
    addresses,
    gatewayUrl: config.gateway === false ? undefined : options.gateway,
    encryptionKey: identity.encryptionKey,
    gatewayTimeoutMs: config.gatewayTimeoutMs ?? DEFAULT_GATEWAY_TIMEOUT_MS,
    gatewayTransport: createNodeHttpTransport(),
  }).catch((error: unknown) => { throw asGatewayTimeout(error, config.gatewayTimeoutMs ?? DEFAULT_GATEWAY_TIMEOUT_MS); });
  return { client, identity, provider };
}

/** A gateway request that ran out of time is a TimeoutError (exit 9) saying so, not "unreachable". */
export function asGatewayTimeout(error: unknown, timeoutMs: number): unknown {
  if (!(error instanceof GatewayUnavailableError)) return error;
  const isTimeout = (e: unknown): boolean => {
    const { name, cause } = (e ?? {}) as { name?: string; cause?: unknown };
    return name === "TimeoutError" || (cause !== undefined && cause !== e && isTimeout(cause));
  };
  if (!isTimeout(error.cause)) return error;
  return new TimeoutError(`the gateway at ${String(error.details.url)} to answer (is it paused or overloaded? raise --timeout for slow links)`, timeoutMs);
}

/** A commander parser for an address argument or option: a clear InvalidInputError (exit 3), never an ethers stack trace or an ENS lookup. */
export function parseAddress(what: string): (value: string) => string {
  return (value) => {
    if (!isAddress(value)) throw new InvalidInputError(`${what} must be a 0x-prefixed 20-byte hex address, got "${value}".`, { [what]: value });
    return getAddress(value);
  };
}

/** The record index: what ingest produced for a patient (salts, proofs, blob ids — no secrets). */
export function recordIndexPath(options: Pick<GlobalOptions, "home">, patient: string): string {
  return join(resolve(options.home), "records", `${getAddress(patient)}.json`);
}

export async function readRecordIndex(options: Pick<GlobalOptions, "home">, patient: string): Promise<RecordRef[]> {
  try {
    return JSON.parse(await readFile(recordIndexPath(options, patient), "utf8")) as RecordRef[];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

export async function appendRecordIndex(options: Pick<GlobalOptions, "home">, patient: string, records: readonly RecordRef[]): Promise<string> {
  const path = recordIndexPath(options, patient);
  await mkdir(join(resolve(options.home), "records"), { recursive: true });
  await writeFileAtomic(path, JSON.stringify([...(await readRecordIndex(options, patient)), ...records], null, 2));
  return path;
}

export function defaultHome(): string {
  return process.env.MEDCIPHER_HOME ?? join(homedir(), ".medcipher");
}
