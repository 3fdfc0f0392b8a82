import { getAddress, id as keccakUtf8, type Provider, type Signer } from "ethers";

import { configureSeal } from "../fhe/seal.js";
import { connectContracts, type MedCipherAddresses, type MedCipherContracts } from "../protocol/contracts.js";
import { x25519PairOf, type RecipientKeyPair } from "./crypto/hybrid.js";
import type { EncryptionKeyPair } from "./crypto/x25519.js";
import type { GatewayTransport } from "./gateway/transport.js";
import { GatewayUnavailableError, InvalidInputError, UntrustedGatewayError } from "./errors.js";
import { createGatewayClient, type GatewayClient } from "./gateway/client.js";
import type { ModelSources } from "./predictions.js";

export const GATEWAY_ROLE = keccakUtf8("GATEWAY_ROLE");

/**
 * What every action takes first: who acts (an ethers v6 Signer — a Wallet, or a JsonRpcSigner
 * from `new BrowserProvider(window.ethereum)`), the contracts, and optionally the gateway and the
 * actor's encryption key pair (needed to decrypt): an X25519 pair, or a hybrid X25519 + ML-KEM-768
 * pair (sdk/crypto/hybrid.ts), which also opens what was wrapped to its X25519 part.
 */
export type MedCipherClient = {
  chainId: number;
  account: Signer;
  address: string;
  provider: Provider;
  addresses: MedCipherAddresses;
  contracts: MedCipherContracts;
  gateway?: GatewayClient;
  encryptionKey?: RecipientKeyPair;
  /** Where model artifacts come from (see sdk/predictions.ts). */
  models?: ModelSources;
};

export type CreateMedCipherClientParameters = {
  account: Signer;
  addresses: MedCipherAddresses;
  /** Gateway base URL. Its key is checked against GATEWAY_ROLE on-chain before use. */
  gatewayUrl?: string;
  /**
   * Gateway session mode (default true): one EIP-712 signature authorises an Ed25519 session key
   * that signs each request (see gateway/protocol.ts). false: every request is EIP-712 signed by
   * the account itself (a wallet prompt per request with EIP-1193 wallets).
   */
  gatewaySession?: boolean;
  /** How gateway requests travel (default fetch); Node tools pass `createNodeHttpTransport()` from the Node entry. */
  gatewayTransport?: GatewayTransport;
  encryptionKey?: RecipientKeyPair;
  /** Abort any one gateway request after this many milliseconds (GatewayUnavailableError). Default: no limit. */
  gatewayTimeoutMs?: number;
  /**
   * Where model artifacts come from: `modelBaseUrl` (relative on-chain `weightsUri`s resolve
   * against it), `artifacts` the app holds, or a `fetchModel` function; absolute http(s)
   * `weightsUri`s need none. Every artifact is checked against the registry's hashes.
   * The Node entry (sdk/node.ts) adds the models/ folder when none is given.
   */
  models?: ModelSources;
  /**
   * URL of node-seal's `seal_throws.wasm` as the app serves it (bundlers rename it; with Vite:
   * `import sealWasmUrl from "node-seal/dist/seal_throws.wasm?url"`). Set before SEAL's first use
   * on this thread. Not needed in Node.
   */
  sealWasmUrl?: string;
};

/**
 * @example
 * const client = await createMedCipherClient({ account: wallet.connect(provider), addresses, gatewayUrl: "http://127.0.0.1:8787" });
 */
export async function createMedCipherClient(parameters: CreateMedCipherClientParameters): Promise<MedCipherClient> {
  const { account } = parameters;
  if (parameters.sealWasmUrl !== undefined) configureSeal({ wasmUrl: parameters.sealWasmUrl });
  const provider = account.provider;
  if (!provider) throw new InvalidInputError("The account must be connected to a provider (wallet.connect(provider)).");
  const chainId = Number((await provider.getNetwork()).chainId);
  const contracts = connectContracts(parameters.addresses, account);
  const client: MedCipherClient = {
    chainId,
    account,
    address: getAddress(await account.getAddress()),
    provider,
    addresses: parameters.addresses,
    contracts,
    encryptionKey: parameters.encryptionKey,
    models: parameters.models,
  };
  if (parameters.gatewayUrl) client.gateway = await connectGateway(client, parameters.gatewayUrl, { session: parameters.gatewaySession ?? true, timeoutMs: parameters.gatewayTimeoutMs, transport: parameters.gatewayTransport });
  return client;
}

/**
 * Asks the gateway for its address, then checks on-chain that the address holds GATEWAY_ROLE:
 * from then on every response must carry that key's signature.
 */
export async function connectGateway(client: Pick<MedCipherClient, "account" | "chainId" | "contracts">, url: string, options: { session?: boolean; timeoutMs?: number; transport?: GatewayTransport } = {}): Promise<GatewayClient> {
  let info: { gateway: string; chainId: number };
  try {
    const response = await fetch(`${url.replace(/\/+$/, "")}/v1/info`, { signal: options.timeoutMs ? AbortSignal.timeout(options.timeoutMs) : undefined });
    info = (await response.json()) as typeof info;
  } catch (error) {
    throw new GatewayUnavailableError(url, error);
  }
  if (Number(info.chainId) !== client.chainId) throw new InvalidInputError(`Gateway ${url} serves chain ${info.chainId}, not ${client.chainId}.`);
  const gatewayAddress = getAddress(info.gateway);
  const registered = await client.contracts.identity.hasRole(GATEWAY_ROLE, gatewayAddress);
  if (!registered) throw new UntrustedGatewayError({ gateway: gatewayAddress, url });
  return createGatewayClient({ url, signer: client.account, chainId: client.chainId, gatewayAddress, session: options.session ?? true, timeoutMs: options.timeoutMs, transport: options.transport });
}

export function requireGateway(client: MedCipherClient): GatewayClient {
  if (!client.gateway) throw new InvalidInputError("This action needs a gateway: pass gatewayUrl to createMedCipherClient.");
  return client.gateway;
}

/** The X25519 part of the client's key pair (of a hybrid pair too): for what only X25519 does. */
export function requireEncryptionKey(client: MedCipherClient): EncryptionKeyPair {
  return x25519PairOf(requireRecipientKey(client));
}

/** The client's whole key pair, classic or hybrid: what opens wraps and sealed boxes. */
export function requireRecipientKey(client: MedCipherClient): RecipientKeyPair {
  if (!client.encryptionKey) throw new InvalidInputError("This action needs the account's encryption key pair (encryptionKey).");
  return client.encryptionKey;
}
