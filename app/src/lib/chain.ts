/**
 * The page's connection to the chain and to the stack's two helper services (dev faucet, consent
 * relay). The JSON-RPC provider caches nothing (`cacheTimeout: -1`): ethers' default 250 ms cache
 * includes eth_getTransactionCount, so back-to-back transactions would reuse a nonce.
 */
import { BrowserProvider, JsonRpcProvider, Network, type Eip1193Provider, type Provider, type Signer } from "ethers";
import { connectBrowserWallet, connectJsonRpc } from "medcipher";

import type { AppConfig } from "../config.js";
import { AppError } from "./errors.js";
import type { Identity } from "./identity.js";

let rpc: JsonRpcProvider | undefined;

export function rpcProvider(config: AppConfig): JsonRpcProvider {
  // staticNetwork: the chain id comes from config.json, so ethers does not poll eth_chainId.
  rpc ??= new JsonRpcProvider(config.rpcUrl, Network.from(config.chainId), { cacheTimeout: -1, staticNetwork: true, polling: true, pollingInterval: 250 });
  return rpc;
}

declare global {
  interface Window { ethereum?: Eip1193Provider }
}

export function hasBrowserWallet(): boolean {
  return typeof window !== "undefined" && window.ethereum !== undefined;
}

/** Asks the browser wallet for an account (the wallet shows its own prompt). */
export async function browserWalletAccount(): Promise<string> {
  if (!window.ethereum) throw new AppError("APP_NO_WALLET", "No browser wallet found.");
  return (await new BrowserProvider(window.ethereum).getSigner()).getAddress();
}

/** The signer that acts for an identity: its own key on the stack's RPC, or the browser wallet holding that account. */
export async function signerFor(config: AppConfig, identity: Identity): Promise<Signer> {
  if (identity.wallet) return connectJsonRpc(config.rpcUrl, identity.wallet.privateKey, { pollingIntervalMs: 250 });
  if (!window.ethereum) throw new AppError("APP_NO_WALLET", "No browser wallet found.");
  return connectBrowserWallet(window.ethereum, identity.address);
}

/** Dev stack only: asks the faucet for ETH, then waits until the balance shows it. */
export async function fundFromFaucet(config: AppConfig, address: string): Promise<bigint> {
  if (!config.faucetUrl) throw new AppError("APP_FAUCET_FAILED", "this network has no faucet (fund the account from another wallet)");
  let response: Response;
  try {
    response = await fetch(config.faucetUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ address }) });
  } catch (error) {
    throw new AppError("APP_FAUCET_FAILED", `unreachable (${String(error)})`);
  }
  const body = (await response.json().catch(() => ({}))) as { transactionHash?: string; error?: { message?: string } };
  if (!response.ok) throw new AppError("APP_FAUCET_FAILED", body.error?.message ?? `HTTP ${response.status}`);
  const provider = rpcProvider(config);
  if (body.transactionHash) await provider.waitForTransaction(body.transactionHash, 1, 30_000);
  return provider.getBalance(address);
}

/** Chain time (latest block), which consent periods and signature deadlines are judged by. */
export async function chainNow(provider: Provider): Promise<number> {
  const block = await provider.getBlock("latest");
  return block ? block.timestamp : Math.floor(Date.now() / 1000);
}

/** Waits for a transaction's receipt and reports its confirmations as they come. */
export async function waitForConfirmations(provider: Provider, hash: string, confirmations: number, onConfirmation: (count: number, block: number) => void): Promise<number> {
  const receipt = await provider.waitForTransaction(hash, 1, 120_000);
  if (!receipt) throw new AppError("APP_TX_LOST", `Transaction ${hash} was not mined.`);
  if (receipt.status !== 1) throw new AppError("APP_TX_REVERTED", `Transaction ${hash} reverted.`, { hash });
  onConfirmation(1, receipt.blockNumber);
  for (let count = 2; count <= confirmations; count++) {
    await provider.waitForTransaction(hash, count, 120_000);
    onConfirmation(count, receipt.blockNumber);
  }
  return receipt.blockNumber;
}

export function shortHex(hex: string, chars = 6): string {
  return hex.length <= 2 + chars * 2 ? hex : `${hex.slice(0, 2 + chars)}…${hex.slice(-4)}`;
}
