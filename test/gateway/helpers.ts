import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { BaseWallet, getAddress, Wallet } from "ethers";
import { pino } from "pino";

import type { AuditLog } from "../../gateway/audit/auditLog.js";
import { ForbiddenError } from "../../gateway/errors.js";
import type { GatewayLimits } from "../../gateway/limits.js";
import type { AccessPolicy } from "../../gateway/policy.js";
import { createGateway, type Gateway } from "../../gateway/server.js";
import { DEFAULT_LIMITS } from "../../gateway/limits.js";
import { openGatewayData } from "../../gateway/store/dataDir.js";

/** Owners read and write their own blobs; nothing else. Stands in for the chain in storage/auth tests. */
export const ownerOnlyPolicy: AccessPolicy = {
  async authorizeRead({ signer, meta }) {
    if (getAddress(signer) === getAddress(meta.owner)) return "owner";
    throw new ForbiddenError("not the owner", { signer });
  },
  async authorizeWrite({ signer, owner }) {
    if (getAddress(signer) === getAddress(owner)) return "owner";
    throw new ForbiddenError("not the owner", { signer });
  },
  async authorizeAuditRead(signer, owner) {
    if (getAddress(signer) !== getAddress(owner)) throw new ForbiddenError("not the owner");
  },
};

export type TestGateway = { gateway: Gateway; url: string; dir: string; key: BaseWallet; audit: AuditLog; close(): Promise<void> };

/** A gateway on loopback over a fresh data directory (`dir`), opened as the service opens it. */
export async function startTestGateway(options: { policy?: AccessPolicy; chainId?: number; limits?: Partial<GatewayLimits>; now?: () => number; key?: BaseWallet; dir?: string } = {}): Promise<TestGateway> {
  const dir = options.dir ?? await mkdtemp(join(tmpdir(), "medcipher-gw-"));
  const key = options.key ?? Wallet.createRandom();
  const data = await openGatewayData(dir, { windowSeconds: options.limits?.timestampWindowSeconds ?? DEFAULT_LIMITS.timestampWindowSeconds });
  const { audit } = data;
  const gateway = createGateway({
    store: data.store,
    metadata: data.metadata,
    audit,
    nonces: data.nonces,
    policy: options.policy ?? ownerOnlyPolicy,
    signingKey: key.signingKey,
    gatewayAddress: key.address,
    chainId: options.chainId ?? 31337,
    limits: options.limits,
    now: options.now,
    logger: pino({ level: "silent" }),
  });
  const url = await gateway.listen(0);
  return {
    gateway, url, dir, key, audit,
    async close() {
      await gateway.close();
      await data.close();
      if (!options.dir) await rm(dir, { recursive: true, force: true });
    },
  };
}
