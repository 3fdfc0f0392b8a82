/**
 * Signers for `createMedCipherClient({ account })`: a private key over JSON-RPC, or the
 * browser's EIP-1193 wallet. Any other ethers v6 Signer works too.
 */
import { BrowserProvider, JsonRpcProvider, Wallet, type Eip1193Provider, type JsonRpcSigner } from "ethers";

export type ConnectJsonRpcOptions = {
  /** How often ethers polls for new blocks while waiting for a receipt (ms; ethers' default 4000). */
  pollingIntervalMs?: number;
};

/**
 * A Wallet on a JSON-RPC provider that caches no call. ethers v6 caches each call for 250 ms
 * by default, the `eth_getTransactionCount` behind every nonce included, so a second
 * transaction sent within 250 ms of the first reuses its nonce ("nonce has already been used");
 * `cacheTimeout: -1` asks the node every time.
 *
 * @example
 * const account = connectJsonRpc("http://127.0.0.1:8545", privateKey);
 * const client = await createMedCipherClient({ account, addresses, gatewayUrl });
 */
export function connectJsonRpc(url: string, privateKey: string, options: ConnectJsonRpcOptions = {}): Wallet {
  const provider = new JsonRpcProvider(url, undefined, { cacheTimeout: -1, ...(options.pollingIntervalMs === undefined ? {} : { pollingInterval: options.pollingIntervalMs }) });
  return new Wallet(privateKey, provider);
}

/**
 * The signer of an EIP-1193 wallet (`window.ethereum`): asks the wallet for an account
 * (`eth_requestAccounts`, the wallet's prompt) and returns ethers' JsonRpcSigner for it.
 * Nonces are the wallet's business, not ethers' cache.
 *
 * @example
 * const account = await connectBrowserWallet(window.ethereum);
 */
export async function connectBrowserWallet(ethereum: Eip1193Provider, account?: string): Promise<JsonRpcSigner> {
  const provider = new BrowserProvider(ethereum, undefined, { cacheTimeout: -1 });
  return provider.getSigner(account);
}
