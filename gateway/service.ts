import { computeAddress, decodeBytes32String, ZeroHash, type Provider, type Signer, type SigningKey } from "ethers";
import { pino, type Logger } from "pino";

import { connectContracts, type MedCipherAddresses, type MedCipherContracts } from "../protocol/contracts.js";
import { createAuditAnchorer, type AuditAnchorer } from "./audit/anchor.js";
import type { AuditLog } from "./audit/auditLog.js";
import { MODEL_IDS } from "../fhe/model.js";
import { loadModel } from "../fhe/modelFile.js";
import { createChainAccessPolicy } from "./chainPolicy.js";
import { createIngestFirewall, type FirewallMode, type IngestFirewall } from "./firewall.js";
import { createPrivateAccess } from "./privateAccess.js";
import { createRecordSignatureCheck } from "./recordSignatures.js";
import { DEFAULT_LIMITS, type GatewayLimits } from "./limits.js";
import { createGatewayMetrics, type GatewayMetrics } from "./metrics.js";
import { createGatewayReadiness, GATEWAY_ROLE } from "./readiness.js";
import { createGateway, type Gateway } from "./server.js";
import type { BlobStore } from "./store/blobStore.js";
import { openGatewayData, type GatewayBackends } from "./store/dataDir.js";

export type GatewayServiceOptions = {
  /** Blobs, metadata, the audit log and the used nonces live under this directory (unless `backends` says otherwise). */
  dataDir: string;
  /** Blobs in S3 and shared state in Postgres, for replicas (settings BLOB_STORE, S3_*, DATABASE_URL); default: all in `dataDir`. */
  backends?: GatewayBackends;
  provider: Provider;
  addresses: MedCipherAddresses;
  /** The gateway's key: signs responses; as a Signer connected to `provider` it also sends audit anchors. */
  signingKey: SigningKey;
  /** Sends anchorHead transactions (the same key as `signingKey`, connected to the chain). */
  anchorSigner?: Signer;
  port?: number;
  host?: string;
  limits?: Partial<GatewayLimits>;
  /** Anchor the audit head this often (ms); 0 disables the timer (anchor with `anchorer.anchorNow()`). */
  anchorIntervalMs?: number;
  /** See ChainPolicyOptions.blockNumberTtlMs. */
  blockNumberTtlMs?: number;
  /** See ChainPolicyOptions.fromBlock (GATEWAY_START_BLOCK). */
  fromBlock?: number;
  /** /readyz: the chain check's time limit (default 5 s) and the oldest acceptable head block (default 0: no bound). */
  readiness?: { chainTimeoutMs?: number; maxBlockAgeSeconds?: number };
  /** Exact origins whose pages may call the gateway from a browser (GATEWAY_CORS_ORIGINS); default none. */
  corsOrigins?: readonly string[];
  /**
   * The ingestion firewall (GATEWAY_FIREWALL, gateway/firewall.ts). Default `required`: every
   * prediction input is re-randomised before it is stored and a direct `he-input` upload is
   * refused; `offered`: the route runs, direct uploads are still taken; `off`: neither (no SEAL
   * in the gateway).
   */
  firewall?: FirewallMode | "off";
  /** Public keys the firewall keeps loaded (GATEWAY_FIREWALL_KEY_CACHE). */
  firewallMaxCachedKeys?: number;
  logger?: Logger;
};

export type GatewayService = {
  url: string;
  address: string;
  gateway: Gateway;
  audit: AuditLog;
  anchorer?: AuditAnchorer;
  metrics: GatewayMetrics;
  close(): Promise<void>;
};

/** The whole gateway wired to a chain: directory storage, chain policy, audit log and anchoring. */
export async function startGatewayService(options: GatewayServiceOptions): Promise<GatewayService> {
  const logger = options.logger ?? pino({ name: "gateway" });
  const chainId = Number((await options.provider.getNetwork()).chainId);
  const address = computeAddress(options.signingKey.publicKey);
  const contracts = connectContracts(options.addresses, options.provider);
  const data = await openGatewayData(options.dataDir, { windowSeconds: options.limits?.timestampWindowSeconds ?? DEFAULT_LIMITS.timestampWindowSeconds, backends: options.backends });
  if (data.cleaned.tempFiles + data.cleaned.blobsWithoutMetadata > 0) logger.warn({ dataDir: options.dataDir, ...data.cleaned }, "removed what an interrupted run left behind");
  const { audit } = data;
  const metrics = createGatewayMetrics();
  let stopping = false;
  const policy = createChainAccessPolicy({
    contracts, provider: options.provider, blockNumberTtlMs: options.blockNumberTtlMs, fromBlock: options.fromBlock,
    onView: (hit) => metrics.chainViews.inc({ result: hit ? "hit" : "miss" }),
  });
  const privateAccess = await createPrivateAccess({
    chainId, gatewayAddress: address, consent: contracts.consent, groups: contracts.groups, view: policy.view, nullifiers: data.nullifiers,
    maxSkewSeconds: options.limits?.timestampWindowSeconds ?? DEFAULT_LIMITS.timestampWindowSeconds,
  });
  const firewallMode = options.firewall ?? "required";
  const firewall = firewallMode === "off"
    ? undefined
    : createChainFirewall({ mode: firewallMode, contracts, view: policy.view, store: data.store, maxCachedKeys: options.firewallMaxCachedKeys });
  const gateway = createGateway({
    firewall,
    store: data.store,
    metadata: data.metadata,
    audit,
    nonces: data.nonces,
    policy,
    privateAccess,
    signingKey: options.signingKey,
    gatewayAddress: address,
    chainId,
    limits: options.limits,
    logger,
    metrics,
    recordSignatures: createRecordSignatureCheck({ chainId, identityRegistry: options.addresses.IdentityRegistry, devices: policy.devices }),
    corsOrigins: options.corsOrigins,
    readiness: createGatewayReadiness({
      provider: options.provider,
      identity: contracts.identity,
      address,
      chainId,
      dataDir: options.dataDir,
      chainTimeoutMs: options.readiness?.chainTimeoutMs ?? 5_000,
      maxBlockAgeSeconds: options.readiness?.maxBlockAgeSeconds ?? 0,
      isStopping: () => stopping,
      backends: data.checks,
    }),
  });
  const url = await gateway.listen(options.port ?? 0, options.host ?? "127.0.0.1");
  const anchorer = options.anchorSigner
    ? createAuditAnchorer({
      audit, anchorContract: connectContracts(options.addresses, options.anchorSigner).auditAnchor, intervalMs: options.anchorIntervalMs ?? 60_000, logger,
      onFailure: () => metrics.anchorFailures.inc(),
      ...(data.anchorCoordinator ? { coordinator: data.anchorCoordinator } : {}),
    })
    : undefined;
  if (anchorer) metrics.observe({ lastAnchor: () => anchorer.lastAnchor() });
  if (anchorer && (options.anchorIntervalMs ?? 60_000) > 0) anchorer.start();
  // Starting without GATEWAY_ROLE is allowed (the role may be granted next), but said loudly;
  // /readyz stays 503 naming the role until it is held.
  const holdsRole = await contracts.identity.hasRole(GATEWAY_ROLE, address).catch(() => undefined);
  if (holdsRole === false) logger.error({ gateway: address }, "the gateway's key does not hold GATEWAY_ROLE: clients refuse it and /readyz answers 503 until it is granted");
  logger.info({ url, gateway: address, chainId, dataDir: options.dataDir, gatewayRole: holdsRole }, "gateway listening");
  return {
    url,
    address,
    gateway,
    audit,
    anchorer,
    metrics,
    async close() {
      stopping = true;
      await anchorer?.stop();
      await gateway.close();
      firewall?.dispose();
      await data.close();
    },
  };
}

/**
 * The firewall as the service runs it: the owner's key set from the chain (keySetOf, through the
 * policy's per-block memo, so it is as fresh as every other authorisation), the keys from this
 * gateway's own store, the shipped models' exact input shapes.
 */
export function createChainFirewall(options: {
  mode: FirewallMode;
  contracts: Pick<MedCipherContracts, "identity">;
  view: <T>(key: string, read: () => Promise<T>) => Promise<T>;
  store: Pick<BlobStore, "get">;
  maxCachedKeys?: number;
}): IngestFirewall {
  const { contracts, view, store } = options;
  return createIngestFirewall({
    mode: options.mode,
    keySetOf: (owner) => view(`keySet:${owner}`, async () => {
      const [keysHash, paramSetId] = await contracts.identity.keySetOf(owner);
      return { keysHash: keysHash.toLowerCase(), paramSetId: keysHash === ZeroHash ? "" : decodeBytes32String(paramSetId) };
    }),
    loadKeys: (keysHash) => store.get(keysHash),
    models: MODEL_IDS.map((id) => loadModel(id)),
    ...(options.maxCachedKeys !== undefined ? { maxCachedKeys: options.maxCachedKeys } : {}),
  });
}
