import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { BaseWallet, getAddress, hexlify, randomBytes, Wallet, ZeroAddress, ZeroHash } from "ethers";
import { pino } from "pino";

import { sha256Hex } from "../../core/hash.js";
import type { AuditLog } from "../../gateway/audit/auditLog.js";
import { ForbiddenError } from "../../gateway/errors.js";
import type { GatewayLimits } from "../../gateway/limits.js";
import type { AccessPolicy } from "../../gateway/policy.js";
import type { ReadinessCheck, ReadinessReport } from "../../gateway/readiness.js";
import { encodeAuthHeader, HEADER_AUTH, requestDigest, type GatewayRequestFields } from "../../protocol/gateway.js";
import { createGateway, type Gateway } from "../../gateway/server.js";
import { DEFAULT_LIMITS } from "../../gateway/limits.js";
import { openGatewayData, type GatewayBackends, type GatewayData } from "../../gateway/store/dataDir.js";

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

/**
 * A gateway on loopback over a fresh data directory (`dir`), opened as the service opens it; with
 * `backends`, on S3 and/or Postgres (its /readyz then reports their checks).
 */
export async function startTestGateway(options: { policy?: AccessPolicy; chainId?: number; limits?: Partial<GatewayLimits>; now?: () => number; key?: BaseWallet; dir?: string; backends?: GatewayBackends } = {}): Promise<TestGateway> {
  const dir = options.dir ?? await mkdtemp(join(tmpdir(), "medcipher-gw-"));
  const key = options.key ?? Wallet.createRandom();
  const data = await openGatewayData(dir, { windowSeconds: options.limits?.timestampWindowSeconds ?? DEFAULT_LIMITS.timestampWindowSeconds, backends: options.backends });
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
    ...(options.backends ? { readiness: () => backendReadiness(data.checks) } : {}),
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

/** /readyz of a test gateway: only the backends' checks (no chain here). */
async function backendReadiness(checks: GatewayData["checks"]): Promise<ReadinessReport> {
  const run = (check: () => Promise<ReadinessCheck>) => check().catch((error: unknown): ReadinessCheck => ({ ok: false, error: (error as Error).message }));
  const results = { blobStore: await run(checks.blobStore), database: await run(checks.database) };
  const failing = Object.entries(results).filter(([, c]) => !c.ok).map(([name]) => name);
  return { ready: failing.length === 0, failing, checks: results };
}

/** Signs a GET by hand so tests can replay it, age it or sign it for another chain. */
export function signedGet(url: string, gateway: string, signer: BaseWallet, blobId: string, overrides: { timestamp?: number; chainId?: number; nonce?: string } = {}) {
  const chainId = overrides.chainId ?? 31337;
  const fields: GatewayRequestFields = {
    method: "GET", blobId, purpose: 1, owner: ZeroAddress, kind: "", category: 0, ref: ZeroHash,
    timestamp: overrides.timestamp ?? Math.floor(Date.now() / 1000),
    nonce: overrides.nonce ?? hexlify(randomBytes(32)),
    gateway,
  };
  const signature = signer.signingKey.sign(requestDigest(chainId, fields)).serialized;
  const header = encodeAuthHeader({ signer: signer.address, chainId, gateway, purpose: 1, owner: ZeroAddress, kind: "", category: 0, ref: ZeroHash, timestamp: fields.timestamp, nonce: fields.nonce, signature });
  return (at = url) => fetch(`${at}/v1/blobs/${blobId}`, { headers: { [HEADER_AUTH]: header } });
}

type PutFields = { owner: string; kind: string; category: number; ref?: string; nonce?: string };

/** Signs a PUT by hand so tests can re-send the very same request (a retry) or reuse its nonce. */
export function signedPut(url: string, gateway: string, signer: BaseWallet, bytes: Uint8Array, put: PutFields) {
  const { blobId, header } = signedPutHeader(gateway, signer, sha256Hex(bytes), put);
  return (at = url) => fetch(`${at}/v1/blobs/${blobId}`, { method: "PUT", body: Buffer.from(bytes), headers: { [HEADER_AUTH]: header } });
}

/** The `x-medcipher-auth` header of a PUT of `blobId`, for tests that send the body themselves. */
export function signedPutHeader(gateway: string, signer: BaseWallet, blobId: string, put: PutFields) {
  const fields: GatewayRequestFields = {
    method: "PUT", blobId, purpose: 0, owner: put.owner, kind: put.kind, category: put.category, ref: put.ref ?? ZeroHash,
    timestamp: Math.floor(Date.now() / 1000), nonce: put.nonce ?? hexlify(randomBytes(32)), gateway,
  };
  const signature = signer.signingKey.sign(requestDigest(31337, fields)).serialized;
  const { method: _m, blobId: _b, ...rest } = fields;
  return { blobId, header: encodeAuthHeader({ ...rest, signer: signer.address, chainId: 31337, signature }) };
}
