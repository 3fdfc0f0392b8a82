import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { Wallet, type HDNodeWallet, type JsonRpcApiProvider, type Provider } from "ethers";
import { network } from "hardhat";
import { pino, type Logger } from "pino";

import { deployMedCipher, sponsorPatients, type MedCipherDeployment } from "../../deploy/local.js";
import { startGatewayService, type GatewayService } from "../../gateway/service.js";
import type { MedCipherAddresses } from "../../protocol/contracts.js";
import { FheClient } from "../../fhe/client.js";
import { createMedCipherClient, type MedCipherClient } from "../../sdk/node.js";
import { paramSetIdToBytes32 } from "../../sdk/predictions.js";
import { generateEncryptionKeyPair, type EncryptionKeyPair } from "../../sdk/crypto/x25519.js";

export type Actor = { wallet: Wallet; encryptionKey: EncryptionKeyPair; client: MedCipherClient };

export type Fixture = {
  provider: Provider & Pick<JsonRpcApiProvider, "send">;
  /** The chain's EIP-1193 provider (to serve it over HTTP to other processes). */
  rpc: { request(args: { method: string; params?: unknown[] }): Promise<unknown> };
  /** The device vendor's key (DEVICE_VENDOR_ROLE), funded. */
  vendorKey: string;
  fund(address: string): Promise<unknown>;
  suite: MedCipherDeployment;
  addresses: MedCipherAddresses;
  gatewayKey: Wallet;
  service: GatewayService;
  dataDir: string;
  logPath: string;
  actor(name: string): Promise<Actor>;
  close(): Promise<void>;
};

/**
 * A real chain (in-process EDR) with the whole suite deployed, and a real gateway on loopback
 * wired to it. Actors are fresh wallets funded from the first Hardhat account.
 */
export async function startFixture(options: { logger?: Logger; extraRoles?: { oracles?: string[]; providers?: string[] } } = {}): Promise<Fixture> {
  const connection = await network.create();
  const { ethers } = connection;
  const [funder] = await ethers.getSigners();
  const gatewayKey = new Wallet(Wallet.createRandom().privateKey, ethers.provider);
  const vendor = new Wallet(Wallet.createRandom().privateKey, ethers.provider);
  const oracle = new Wallet(Wallet.createRandom().privateKey, ethers.provider);
  const suite = await deployMedCipher(connection, {
    oracleSenders: [oracle.address],
    roles: { gateways: [gatewayKey.address], deviceVendors: [vendor.address], oracles: options.extraRoles?.oracles, providers: options.extraRoles?.providers },
  });
  const fund = async (address: string) => (await funder!.sendTransaction({ to: address, value: 10n ** 19n })).wait();
  await fund(gatewayKey.address);
  await fund(vendor.address);
  await fund(oracle.address);
  const dataDir = await mkdtemp(join(tmpdir(), "medcipher-it-"));
  const logPath = join(dataDir, "gateway.log");
  const logger = options.logger ?? pino({ level: "info" }, pino.destination({ dest: logPath, sync: true }));
  const addresses = suite.addresses as unknown as MedCipherAddresses;
  const service = await startGatewayService({
    dataDir: join(dataDir, "gateway"),
    provider: ethers.provider,
    addresses,
    signingKey: gatewayKey.signingKey,
    anchorSigner: gatewayKey,
    anchorIntervalMs: 0,
    blockNumberTtlMs: 0,
    logger,
  });

  return {
    provider: ethers.provider as unknown as Fixture["provider"],
    rpc: connection.provider as unknown as Fixture["rpc"],
    vendorKey: vendor.privateKey,
    fund,
    suite,
    addresses,
    gatewayKey,
    service,
    dataDir,
    logPath,
    async actor(name: string) {
      const wallet = name === "vendor" ? vendor : name === "oracle" ? oracle : new Wallet((Wallet.createRandom() as HDNodeWallet).privateKey, ethers.provider);
      if (name !== "vendor" && name !== "oracle") await fund(wallet.address);
      if (name !== "vendor" && name !== "oracle") await sponsorPatients(suite, [wallet.address]); // predictions need a sponsor
      const encryptionKey = await generateEncryptionKeyPair();
      const client = await createMedCipherClient({ account: wallet, addresses, gatewayUrl: service.url, encryptionKey });
      return { wallet, encryptionKey, client };
    },
    async close() {
      await service.close();
      await connection.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A fresh, real public-keys blob (ckks-2048-v1, ~16 KiB, a few ms): the gateway and the SDK
 * refuse anything that does not load as public keys only, so random bytes no longer register.
 */
export async function freshEvaluationKeys(): Promise<Uint8Array> {
  const fhe = await FheClient.generate(TEST_PARAM_SET_ID);
  try {
    return fhe.evaluationKeys();
  } finally {
    fhe.dispose();
  }
}

export const TEST_PARAM_SET_ID = "ckks-2048-v1";
export const TEST_PARAM_SET = paramSetIdToBytes32(TEST_PARAM_SET_ID);
