/**
 * The relayer wired from its settings: the JSON-RPC connection, the wallet, the two contracts'
 * addresses (checked to hold code: a restarted node with a stale deployment file would otherwise
 * "relay" into the void), then the HTTP server. Node only.
 */
import { readFile } from "node:fs/promises";

import { formatEther, getAddress, JsonRpcProvider, Network, Wallet } from "ethers";
import { pino, type Logger } from "pino";

import { loadDeployment } from "../sdk/node/deployment.js";
import { RelayerConfigError } from "./errors.js";
import { createRelayer, type Relayer } from "./server.js";
import { printableRelayerSettings, relayerCorsOrigins, type RelayerSettings } from "./settings.js";

export type RelayerService = { url: string; relayer: Relayer; close(): Promise<void> };

export async function startRelayerService(settings: RelayerSettings, options: { logger?: Logger } = {}): Promise<RelayerService> {
  const logger = options.logger ?? pino({ name: "relayer", level: settings.LOG_LEVEL });
  const probe = new JsonRpcProvider(settings.RPC_URL, undefined, { staticNetwork: true });
  let chainId: number;
  try {
    chainId = Number((await probe.getNetwork()).chainId);
  } finally {
    probe.destroy();
  }
  if (settings.CHAIN_ID !== 0 && settings.CHAIN_ID !== chainId) throw new RelayerConfigError("Wrong chain", [`CHAIN_ID is ${settings.CHAIN_ID} but ${settings.RPC_URL} reports ${chainId}`]);
  const provider = new JsonRpcProvider(settings.RPC_URL, Network.from(chainId), { staticNetwork: true, pollingInterval: 250, cacheTimeout: -1 });

  const key = settings.PRIVATE_KEY !== "" ? settings.PRIVATE_KEY : (await Wallet.fromEncryptedJson(await readFile(settings.KEYSTORE_FILE, "utf8"), settings.KEYSTORE_PASSWORD)).privateKey;
  const wallet = new Wallet(key, provider);
  const deployment = settings.DEPLOYMENT_FILE !== "" ? (await loadDeployment(settings.DEPLOYMENT_FILE)).addresses : undefined;
  const targets = {
    PredictionRouter: getAddress(settings.ROUTER_ADDRESS || deployment!.PredictionRouter),
    ConsentManager: getAddress(settings.CONSENT_MANAGER_ADDRESS || deployment!.ConsentManager),
  };
  const missing = [];
  for (const [name, address] of Object.entries(targets)) if ((await provider.getCode(address)) === "0x") missing.push(`${name} ${address} has no code on chain ${chainId}`);
  if (missing.length > 0) throw new RelayerConfigError("Contracts not on this chain", missing);

  const balance = await provider.getBalance(wallet.address);
  if (balance === 0n) logger.warn({ address: wallet.address }, "the relayer's wallet has no ETH: every relay will be refused RELAYER_UNFUNDED until it is funded");
  const relayer = await createRelayer({
    provider, wallet, targets, chainId, startBlock: settings.START_BLOCK, logger, corsOrigins: relayerCorsOrigins(settings),
    limits: {
      maxGas: settings.MAX_GAS, gasHeadroomPercent: settings.GAS_HEADROOM_PERCENT, maxFeePerGasGwei: settings.MAX_FEE_PER_GAS_GWEI,
      ratePerMinute: settings.RATE_PER_MINUTE, burst: settings.BURST, maxBodyBytes: settings.MAX_BODY_BYTES, receiptTimeoutMs: settings.RECEIPT_TIMEOUT_MS,
    },
  });
  const url = await relayer.listen(settings.PORT, settings.HOST);
  logger.info({ url, address: wallet.address, balanceEth: formatEther(balance), chainId, targets, settings: printableRelayerSettings(settings) }, "relayer listening");
  return {
    url,
    relayer,
    async close() {
      await relayer.close();
      provider.destroy();
    },
  };
}
