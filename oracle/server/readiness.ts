import { getAddress, id as keccakUtf8 } from "ethers";

import { identityInterface, operatorInterface, routerInterface } from "../chain/abi.js";
import type { RpcClient } from "../chain/rpc.js";
import { errorMessage } from "../errors.js";

export const ORACLE_ROLE = keccakUtf8("ORACLE_ROLE");

/** One check of /readyz: `ok`, what it saw, and why it failed (`error`). */
export type ReadinessCheck = { ok: boolean; error?: string } & Record<string, unknown>;

/** The body of /readyz: ready only when every check is ok; `failing` names the others. */
export type ReadinessReport = { ready: boolean; failing: string[]; checks: Record<string, ReadinessCheck> };

export type OracleReadinessOptions = {
  rpc: RpcClient;
  operator: string;
  router: string;
  /** The oracle account. */
  account: string;
  gatewayUrl: string;
  /** The gateway's response-signing address the daemon trusts (GATEWAY_ADDRESS). */
  gatewayAddress: string;
  /** Time limit of the gateway probe. */
  gatewayTimeoutMs: number;
  /** The checks the daemon already keeps (following the chain, workers, not stopping). */
  local: () => Record<string, ReadinessCheck>;
};

/**
 * What the oracle's /readyz asks, live on every call (a few eth_calls and one gateway request):
 * - `oracleRole`: the account holds ORACLE_ROLE in the IdentityRegistry (the router's): without it
 *   the gateway refuses every read, and requests fail on-chain with KEYS_UNAVAILABLE;
 * - `authorisedSender`: the Operator accepts the account's fulfilments;
 * - `gateway`: GATEWAY_URL answers `/v1/info` and names GATEWAY_ADDRESS as its signer (a gateway
 *   signing with another key would have every response refused);
 * - and the daemon's own checks (`local`): chain followed, lag, workers, not stopping.
 */
export function createOracleReadiness(options: OracleReadinessOptions): () => Promise<ReadinessReport> {
  const { rpc } = options;
  let identityRegistry: string | undefined;

  async function call(to: string, data: string): Promise<string> {
    return rpc.request<string>("eth_call", [{ to, data }, "latest"]);
  }

  async function oracleRole(): Promise<ReadinessCheck> {
    // The router's IdentityRegistry is fixed at deployment (immutable): asked once.
    identityRegistry ??= getAddress(routerInterface.decodeFunctionResult("identityRegistry", await call(options.router, routerInterface.encodeFunctionData("identityRegistry")))[0] as string);
    const holds = identityInterface.decodeFunctionResult("hasRole",
      await call(identityRegistry, identityInterface.encodeFunctionData("hasRole", [ORACLE_ROLE, options.account])))[0] as boolean;
    return holds
      ? { ok: true, role: "ORACLE_ROLE", address: options.account }
      : { ok: false, role: "ORACLE_ROLE", address: options.account, error: `${options.account} does not hold ORACLE_ROLE in the IdentityRegistry: the gateway refuses its reads (grant it: medcipher admin authorise-oracle ${options.account})` };
  }

  async function authorisedSender(): Promise<ReadinessCheck> {
    const authorised = operatorInterface.decodeFunctionResult("isAuthorizedSender",
      await call(options.operator, operatorInterface.encodeFunctionData("isAuthorizedSender", [options.account])))[0] as boolean;
    return authorised
      ? { ok: true, operator: options.operator }
      : { ok: false, operator: options.operator, error: `${options.account} is not an authorised sender of the Operator: fulfilments would revert` };
  }

  async function gateway(): Promise<ReadinessCheck> {
    const url = `${options.gatewayUrl.replace(/\/$/, "")}/v1/info`;
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(options.gatewayTimeoutMs) });
    } catch (error) {
      const cause = (error as { cause?: unknown }).cause;
      return { ok: false, url, error: `the gateway does not answer at ${url}: ${errorMessage(cause ?? error)}` };
    }
    if (response.status !== 200) return { ok: false, url, status: response.status, error: `the gateway answered ${response.status} at ${url}` };
    const info = (await response.json()) as { gateway?: string };
    const address = typeof info.gateway === "string" ? info.gateway : "";
    if (address.toLowerCase() !== options.gatewayAddress.toLowerCase()) {
      return { ok: false, url, address, error: `the gateway at ${options.gatewayUrl} signs as ${address || "nobody"}, not GATEWAY_ADDRESS ${options.gatewayAddress}` };
    }
    return { ok: true, url, address };
  }

  const run = async (check: () => Promise<ReadinessCheck>, what: Record<string, unknown>): Promise<ReadinessCheck> => {
    try {
      return await check();
    } catch (error) {
      return { ok: false, ...what, error: errorMessage(error) };
    }
  };

  return async () => {
    const [role, sender, gw] = await Promise.all([
      run(oracleRole, { role: "ORACLE_ROLE", address: options.account }),
      run(authorisedSender, { operator: options.operator }),
      run(gateway, { url: options.gatewayUrl }),
    ]);
    const checks: Record<string, ReadinessCheck> = { ...options.local(), oracleRole: role, authorisedSender: sender, gateway: gw };
    const failing = Object.entries(checks).filter(([, check]) => !check.ok).map(([name]) => name);
    return { ready: failing.length === 0, failing, checks };
  };
}
