import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import { getBytes, hexlify, ZeroAddress, ZeroHash, type SigningKey } from "ethers";
import { pino, type Logger } from "pino";

import { isSha256Hex, sha256Hex, type Sha256Hex } from "../core/hash.js";
import { checkPublicKeysOnly } from "../fhe/keys.js";
import { checksumAddress as getAddress } from "./address.js";
import type { AuditProof } from "../protocol/audit/entries.js";
import type { AuditLog } from "./audit/auditLog.js";
import { ed25519Sign, generateEd25519, type Ed25519KeyPair } from "./auth/ed25519.js";
import { createNonceCache, type NonceCache, type RecordedReply } from "./auth/nonceCache.js";
import { createCorsPolicy } from "./cors.js";
import { createFirewallRoute, type IngestFirewall } from "./firewall.js";
import { createRequestVerifier, type AuthenticatedRequest } from "./auth/requestAuth.js";
import {
  BadRequestError,
  BlobConflictError,
  BlobNotFoundError,
  BlobTooLargeError,
  GatewayBusyError,
  GatewayError,
  GatewayInternalError,
  GatewayTimeoutError,
  InsufficientStorageError,
  isDiskFullError,
  FirewallError,
  ForbiddenError,
  NotPublicKeysError,
  PrivateAccessError,
  RateLimitedError,
} from "./errors.js";
import { createRateLimiter, DEFAULT_LIMITS, type GatewayLimits } from "./limits.js";
import { createGatewayMetrics, routeLabel, type GatewayMetrics } from "./metrics.js";
import type { AccessPolicy } from "./policy.js";
import type { PrivateAccess } from "./privateAccess.js";
import { groupReadRequestDigest } from "../protocol/groupRead.js";
import { HEADER_PRIVATE_CONSENT } from "../protocol/privateConsent.js";
import { HEADER_GROUP_ACCESS } from "../protocol/zk/access.js";
import {
  decodeAnonymousUpload,
  HEADER_ANONYMOUS,
  HEADER_AUTH,
  HEADER_GATEWAY,
  HEADER_RESPONSE_KEY,
  HEADER_RESPONSE_SIGNATURE,
  HEADER_RESPONSE_TIMESTAMP,
  HEADER_SESSION,
  encodeJsonHeader,
  FIREWALL_PATH_PREFIX,
  isBlobKind,
  isWriteMethod,
  MAX_SESSION_SECONDS,
  responseDigest,
  responseKeyDigest,
  type AnonymousUpload,
  type ErrorBody,
  type GatewayMethod,
  type ShareListing,
} from "../protocol/gateway.js";
import type { ReadinessReport } from "./readiness.js";
import type { RecordSignatures } from "./recordSignatures.js";
import type { BlobStore } from "./store/blobStore.js";
import type { BlobMeta, MetadataStore } from "./store/metadata.js";

export type GatewayOptions = {
  store: BlobStore;
  metadata: MetadataStore;
  audit: AuditLog;
  policy: AccessPolicy;
  /** The gateway's own key: it signs every response. Its address is registered on-chain. */
  signingKey: SigningKey;
  gatewayAddress: string;
  chainId: number;
  limits?: Partial<GatewayLimits>;
  logger?: Logger;
  /** Unix seconds; injectable for tests of the timestamp window. */
  now?: () => number;
  /**
   * Where used nonces (and the replies to writes, for retries) are kept. Default: in memory,
   * forgotten on restart; `openGatewayData` gives the persistent SQLite store the service uses.
   */
  nonces?: NonceCache;
  /** Prometheus metrics served at `/metrics` (default: a registry of its own). */
  metrics?: GatewayMetrics;
  /**
   * Device ML-DSA signatures on `record` uploads, checked as the body streams in
   * (gateway/recordSignatures.ts; `startGatewayService` wires it to the chain). Without it records
   * are stored as they come.
   */
  recordSignatures?: RecordSignatures;
  /**
   * What `/readyz` reports (gateway/readiness.ts, wired by `startGatewayService` to the chain);
   * without it `/readyz` answers 503 "no readiness checks": a bare gateway cannot tell.
   */
  readiness?: () => Promise<ReadinessReport>;
  /**
   * Exact origins whose pages may call this gateway from a browser (gateway/cors.ts). Default
   * none: no CORS header is sent and every preflight is refused.
   */
  corsOrigins?: readonly string[];
  /**
   * Reads under private consent (a grantee's signed GET with `x-medcipher-private-consent`) and
   * group consent (an anonymous member's GET with a membership proof), gateway/privateAccess.ts.
   * Without it such reads are refused.
   */
  privateAccess?: PrivateAccess;
  /**
   * The ingestion firewall (gateway/firewall.ts): serves `POST /v1/firewall/he-input/:rawId`, and
   * in mode `required` refuses direct `he-input` uploads. Without it neither (the route answers
   * GATEWAY_FIREWALL_UNAVAILABLE).
   */
  firewall?: IngestFirewall;
};

export type Gateway = {
  server: Server;
  /** Starts listening; resolves to the base URL (`http://host:port`). */
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
  limits: GatewayLimits;
  metrics: GatewayMetrics;
};

/** What is known about a request as it is handled: the claimed digest first, then the verified auth. */
type RequestState = {
  auth?: AuthenticatedRequest;
  claimed?: { digest?: string };
  /** This reply is a recorded one, re-sent to a retry. */
  replayedReply?: boolean;
  /** The write's key in `writesInFlight`, removed once its reply is recorded. */
  writeKey?: string;
  /** An anonymous group member, once its proof is accepted: refusals are audited by its nullifier. */
  anonymous?: { nullifier?: string; groupId?: string; purpose?: number };
};

/** `bodyHash`: the body's SHA-256 when already known (a blob's id, verified by the store). */

type Reply = { status: number; body: Uint8Array; contentType: string; requestDigest: string; mode?: "direct" | "session"; bodyHash?: string; headers?: Record<string, string> };

/**
 * The gateway's HTTP API (node:http, no framework):
 *
 * - `PUT /v1/blobs/:id` — upload (body = bytes; id = their SHA-256; owner, kind and category are
 *   signed in the auth header);
 * - `GET /v1/blobs/:id` — download;
 * - `GET /v1/audit?owner=0x…` — the audit entries about a patient (signed, method "AUDIT");
 * - `GET /v1/shares?owner=0x…&ref=0x…&category=n` — the record shares under a record id or batch
 *   root that the signer may read (signed, method "LIST");
 * - `GET /v1/audit/head`, `GET /v1/info`, `GET /healthz` (liveness), `GET /readyz` (can it
 *   serve: chain, role, storage), `GET /metrics` (Prometheus) — public;
 * - `OPTIONS *` — CORS preflights: 204 for an origin in `corsOrigins`, 403 otherwise.
 *
 * Every response, errors included, carries the gateway's EIP-712 signature over the request's
 * digest, the status and the SHA-256 of the body.
 */
export function createGateway(options: GatewayOptions): Gateway {
  const limits: GatewayLimits = { ...DEFAULT_LIMITS, ...options.limits, maxBytes: { ...DEFAULT_LIMITS.maxBytes, ...options.limits?.maxBytes } };
  const logger = options.logger ?? pino({ name: "gateway" });
  const gatewayAddress = getAddress(options.gatewayAddress);
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const recordSignatureWindow = { maxAgeSeconds: limits.recordSignatureMaxAgeSeconds, maxSkewSeconds: limits.timestampWindowSeconds };
  const nonces = options.nonces ?? createNonceCache({ windowSeconds: limits.timestampWindowSeconds });
  const verifier = createRequestVerifier({
    chainId: options.chainId,
    gatewayAddress,
    windowSeconds: limits.timestampWindowSeconds,
    nonces,
    now,
  });
  const rateLimiter = createRateLimiter({ ratePerSecond: limits.ratePerSecond, burst: limits.burst });
  const uploadBudget = createByteBudget(limits.maxInFlightUploadBytes);
  const metrics = options.metrics ?? createGatewayMetrics();
  const cors = createCorsPolicy(options.corsOrigins);
  const firewallRoute = options.firewall && createFirewallRoute({
    firewall: options.firewall, policy: options.policy, store: options.store, metadata: options.metadata, audit: options.audit,
    maxBytes: limits.maxBytes["he-input"], reserveUpload: (bytes) => uploadBudget.reserve(bytes),
    onBytesIn: (bytes) => metrics.bytesIn.inc({ route: routeLabel(FIREWALL_PATH_PREFIX) }, bytes), now,
  });
  metrics.observe({ auditEntries: () => options.audit.head().seq, uploadBytesInFlight: () => uploadBudget.inFlightBytes() });
  // Writes being handled, by signer and nonce: a retry that arrives while the original is still
  // running waits for the original's reply instead of doing the work twice.
  const writesInFlight = new Map<string, Promise<Reply>>();
  // Refusals of requests whose signer was never established (bad, expired or replayed signatures)
  // and rate-limited ones: counted here instead of one audit entry each, so junk cannot grow the
  // log per request.
  const aggregateRefusals = { total: 0, byCode: {} as Record<string, number> };

  // Session-mode responses are signed by an Ed25519 key the gateway's Ethereum key certifies
  // (EIP-712 GatewayResponseKey); the certificate is renewed an hour before it lapses.
  let responseKey: { pair: Ed25519KeyPair; notAfter: number; header: string } | undefined;
  function currentResponseKey() {
    const t = now();
    if (!responseKey || responseKey.notAfter - 3600 < t) {
      const pair = generateEd25519();
      const notAfter = t + MAX_SESSION_SECONDS;
      const fields = { gateway: gatewayAddress, responseKey: hexlify(pair.publicKey), notAfter };
      const signature = options.signingKey.sign(responseKeyDigest(options.chainId, fields)).serialized;
      responseKey = { pair, notAfter, header: encodeJsonHeader({ ...fields, signature }) };
    }
    return responseKey;
  }

  const json = (status: number, value: unknown, requestDigest = ZeroHash): Reply => ({
    status,
    body: new TextEncoder().encode(JSON.stringify(value)),
    contentType: "application/json",
    requestDigest,
  });

  /** Verifies the signature, records who asked (so even refusals are signed for their request), rate-limits. */
  async function authenticate(req: IncomingMessage, method: GatewayMethod, blobId: string, state: RequestState): Promise<AuthenticatedRequest> {
    const header = req.headers[HEADER_AUTH];
    const session = req.headers[HEADER_SESSION];
    state.claimed = {};
    const auth = await verifier.verify(Array.isArray(header) ? header[0] : header, method, blobId, Array.isArray(session) ? session[0] : session, state.claimed);
    state.auth = auth;
    const retryAfterMs = rateLimiter.take(auth.signer);
    if (retryAfterMs > 0) throw new RateLimitedError({ signer: auth.signer, retryAfterMs });
    return auth;
  }

  async function handleBlob(req: IncomingMessage, blobId: string, state: RequestState): Promise<Reply> {
    if (!isSha256Hex(blobId)) throw new BadRequestError("Blob id must be 0x-prefixed lowercase SHA-256 hex.", { blobId });
    const id = blobId as Sha256Hex;
    if (req.method === "GET" && req.headers[HEADER_GROUP_ACCESS] !== undefined) return handleGroupRead(req, id, state);
    if (req.method === "GET") {
      const auth = await authenticate(req, "GET", id, state);
      const meta = await options.metadata.get(id);
      if (!meta) throw new BlobNotFoundError(id);
      const grantHeader = singleHeader(req, HEADER_PRIVATE_CONSENT);
      const reason = grantHeader !== undefined
        ? await requirePrivateAccess().authorizeGrantee({ signer: auth.signer, purpose: auth.fields.purpose, meta, grantHeader })
        : await options.policy.authorizeRead({ signer: auth.signer, blobId: id, purpose: auth.fields.purpose, ref: auth.fields.ref, meta });
      const bytes = await options.store.get(id);
      if (!bytes) throw new BlobNotFoundError(id);
      await options.audit.append({ actor: auth.signer, action: "read", blobId: id, owner: meta.owner, purpose: auth.fields.purpose, outcome: "granted", reason });
      return { status: 200, body: bytes, contentType: "application/octet-stream", requestDigest: auth.digest, mode: auth.mode, bodyHash: id };
    }
    if (req.method === "PUT") {
      const auth = await authenticate(req, "PUT", id, state);
      return writeOnce(req, auth, state, () => handlePut(req, id, auth));
    }
    throw new BadRequestError(`Method ${req.method} not allowed on blobs.`);
  }

  /**
   * A signed write, done once per (signer, nonce): a retry of the same signed request gets the
   * original answer (waiting for it while it still runs) instead of doing the work twice.
   */
  async function writeOnce(req: IncomingMessage, auth: AuthenticatedRequest, state: RequestState, write: () => Promise<Reply>): Promise<Reply> {
    const key = `${auth.signer}:${auth.fields.nonce}`;
    if (auth.retry) {
      const original = writesInFlight.get(key);
      const recorded = original ? await original.catch(() => undefined) : await nonces.recordedReply(auth.signer, auth.fields.nonce);
      if (recorded && recorded.status < 500 && recorded.status !== 429) {
        req.resume(); // the original answer does not depend on the re-sent body
        state.replayedReply = true;
        return { ...recorded, requestDigest: auth.digest, bodyHash: undefined };
      }
      // The original never finished (crash, full disk, a 503), or is still running on another
      // replica: do the (idempotent) write now, from this request's body, so it is left unread until here.
    }
    // Stays in flight until handle() has recorded the reply, so a retry never falls in between.
    const pending = write();
    writesInFlight.set(key, pending);
    state.writeKey = key;
    return pending;
  }

  /** `POST /v1/firewall/he-input/:rawId`: the ingestion firewall (gateway/firewall.ts). */
  async function handleFirewall(req: IncomingMessage, rawId: string, state: RequestState): Promise<Reply> {
    if (req.method !== "POST") throw new BadRequestError(`Method ${req.method} not allowed on the firewall (POST).`);
    if (!isSha256Hex(rawId)) throw new BadRequestError("The firewall path ends with the raw body's SHA-256 (0x-prefixed lowercase hex).", { rawId });
    const auth = await authenticate(req, "FIREWALL", rawId, state);
    if (!firewallRoute) throw new FirewallError("GATEWAY_FIREWALL_UNAVAILABLE", "This gateway runs no ingestion firewall: upload the input directly (PUT).");
    return writeOnce(req, auth, state, async () => {
      const { status, reply } = await firewallRoute.handle(req, rawId as Sha256Hex, auth);
      return json(status, reply, auth.digest);
    });
  }

  function requirePrivateAccess(): PrivateAccess {
    if (!options.privateAccess) throw new ForbiddenError("this gateway serves no reads under private or group consent");
    return options.privateAccess;
  }

  /**
   * An anonymous member of a consent group reads a blob: no signer, the proof instead (see
   * gateway/privateAccess.ts). Rate-limited per connection's remote address, as there is no signer.
   */
  async function handleGroupRead(req: IncomingMessage, id: Sha256Hex, state: RequestState): Promise<Reply> {
    const accessHeader = singleHeader(req, HEADER_GROUP_ACCESS)!;
    state.claimed = { digest: groupReadRequestDigest(accessHeader) };
    if (req.headers[HEADER_AUTH] !== undefined) throw new PrivateAccessError("GATEWAY_ZK_PROOF_MALFORMED", "A group read carries a membership proof instead of a signature, not both.");
    const grantHeader = singleHeader(req, HEADER_PRIVATE_CONSENT);
    if (grantHeader === undefined) throw new PrivateAccessError("GATEWAY_PRIVATE_CONSENT_MALFORMED", `A group read needs the ${HEADER_PRIVATE_CONSENT} header.`);
    const retryAfterMs = rateLimiter.take(`anonymous:${req.socket.remoteAddress ?? ""}`);
    if (retryAfterMs > 0) throw new RateLimitedError({ signer: "anonymous", retryAfterMs });
    const access = requirePrivateAccess();
    let meta: BlobMeta | undefined;
    const loadMeta = async () => {
      meta = await options.metadata.get(id);
      if (!meta) throw new BlobNotFoundError(id);
      return meta;
    };
    state.anonymous = {};
    const granted = await access.authorizeGroupMember({
      method: "GET", target: req.url ?? "", bodySha256: sha256Hex(new Uint8Array()), loadMeta, grantHeader, accessHeader, now: now(), established: state.anonymous,
    });
    if (!meta) throw new BlobNotFoundError(id);
    const bytes = await options.store.get(id);
    if (!bytes) throw new BlobNotFoundError(id);
    await options.audit.append({ actor: granted.nullifier, actorKind: "nullifier", group: granted.groupId, action: "read", blobId: id, owner: meta.owner, purpose: granted.purpose, outcome: "granted", reason: "group-consent" });
    return { status: 200, body: bytes, contentType: "application/octet-stream", requestDigest: state.claimed.digest!, bodyHash: id };
  }

  async function handlePut(req: IncomingMessage, id: Sha256Hex, auth: AuthenticatedRequest): Promise<Reply> {
    const { kind, category, purpose, ref } = auth.fields;
    if (!isBlobKind(kind)) throw new BadRequestError(`Unknown blob kind "${kind}".`, { kind });
    const owner = getAddress(auth.fields.owner);
    if (owner === ZeroAddress) throw new BadRequestError("A blob must name its owner (patient).");
    const maxBytes = limits.maxBytes[kind];
    const declared = Number(req.headers["content-length"] ?? NaN);
    if (Number.isFinite(declared) && declared > maxBytes) throw new BlobTooLargeError({ kind, maxBytes, bytes: declared });
    const anonymous = anonymousUploadOf(req);
    const reason = await options.policy.authorizeWrite({ signer: auth.signer, blobId: id, owner, kind, category, purpose, ref, ...(anonymous ? { anonymous } : {}) });
    if (kind === "he-input" && options.firewall?.mode === "required" && reason !== "anonymous") {
      throw new FirewallError("GATEWAY_FIREWALL_REQUIRED", `This gateway re-randomises every prediction input: send it through POST ${FIREWALL_PATH_PREFIX}<its SHA-256> and commit the id it returns.`);
    }
    const wanted = { owner, kind, category, ref };
    const existing = await options.metadata.get(id);
    if (existing && !sameBlob(existing, wanted)) throw new BlobConflictError(id);
    // An upload without a length reserves its kind's limit: the budget bounds what may arrive.
    const reserved = Number.isFinite(declared) ? declared : maxBytes;
    const release = uploadBudget.reserve(reserved);
    let size: number;
    try {
      const received = bodyChunks(req, (bytes) => metrics.bytesIn.inc({ route: "/v1/blobs/:id" }, bytes));
      const body = kind === "record" && options.recordSignatures
        ? options.recordSignatures.check({ blobId: id, signer: auth.signer, owner, category, grantedAs: reason, now: now(), window: recordSignatureWindow }, received)
        : received;
      size = await options.store.putStream(id, kind === "he-keys" ? publicKeysOnly(id, body, { maxBytes, kind }) : body, { maxBytes, kind });
    } finally {
      release();
    }
    // The first upload to create the metadata decides it; a concurrent one with other metadata
    // learns the winner here and is refused (its identical bytes are already stored).
    // Also for a blob stored before: create() then repairs its (owner, ref) index entry, which a
    // crash between the metadata and the entry may have left unwritten.
    const { meta, created } = await options.metadata.create({ blobId: id, ...wanted, size, writer: auth.signer, storedAt: new Date(now() * 1000).toISOString() });
    if (!sameBlob(meta, wanted)) throw new BlobConflictError(id);
    await options.audit.append({ actor: auth.signer, action: "write", blobId: id, owner, purpose, outcome: "granted", reason });
    return json(created ? 201 : 200, { blobId: id, size }, auth.digest);
  }

  async function handleAudit(req: IncomingMessage, url: URL, state: RequestState): Promise<Reply> {
    const auth = await authenticate(req, "AUDIT", ZeroHash, state);
    const ownerParam = url.searchParams.get("owner") ?? auth.fields.owner;
    let owner: string;
    try {
      owner = getAddress(ownerParam);
    } catch {
      throw new BadRequestError("owner must be an address.");
    }
    if (owner !== getAddress(auth.fields.owner)) throw new BadRequestError("The owner query must match the signed owner.");
    await options.policy.authorizeAuditRead(auth.signer, owner);
    const sinceParam = url.searchParams.get("since");
    const since = sinceParam === null ? undefined : Number(sinceParam);
    if (since !== undefined && (!Number.isSafeInteger(since) || since < 0)) throw new BadRequestError("since must be a tree size (a non-negative integer).", { since: sinceParam });
    await options.audit.append({ actor: auth.signer, action: "audit-read", blobId: ZeroHash, owner, purpose: auth.fields.purpose, outcome: "granted", reason: "owner" });
    const size = options.audit.head().seq;
    if (since !== undefined && since > size) throw new BadRequestError("since is beyond the log's size.", { since, size });
    const entries = (await options.audit.entries()).filter((e) => e.seq <= size && (e.owner === owner || e.actor === owner));
    // The patient's own entries with their Merkle inclusion proofs, and the consistency proof from
    // the tree they anchored-checked (`since`): O(log n) hashes each, nobody else's entries.
    const proof: AuditProof = {
      owner,
      tree: { size, root: options.audit.root(size) },
      entries,
      inclusion: entries.map((e) => options.audit.inclusionProof(e.seq, size)),
      consistency: since === undefined ? undefined : { fromSize: since, proof: options.audit.consistencyProof(since, size) },
    };
    return json(200, proof, auth.digest);
  }

  /**
   * The share listing: how a grantee finds the shares a device made for it (delegated sharing,
   * sdk/actions/delegateRecordKey.ts) without asking the patient. Owner, ref and category are
   * signed (method LIST) and the query must repeat them. The signer must be allowed to read a
   * share of that owner, category and ref at all (the read rule, on the listing's own terms)
   * before anything is looked up, so a caller without consent is refused whether or not shares
   * exist: the refusal says nothing about them. Then every listed share passes the same read
   * rule again, on its own metadata (the index is only a pointer to it).
   */
  async function handleShareListing(req: IncomingMessage, url: URL, state: RequestState): Promise<Reply> {
    const auth = await authenticate(req, "LIST", ZeroHash, state);
    const { purpose, kind, category } = auth.fields;
    const owner = getAddress(auth.fields.owner);
    const ref = auth.fields.ref;
    if (kind !== "wrapped-key") throw new BadRequestError('A share listing signs kind "wrapped-key".', { kind });
    if (owner === ZeroAddress || ref === ZeroHash) throw new BadRequestError("A share listing names the patient (owner) and the record id or batch root (ref).");
    const query = { owner: url.searchParams.get("owner"), ref: url.searchParams.get("ref")?.toLowerCase(), category: url.searchParams.get("category") };
    let queryOwner: string | undefined;
    try {
      queryOwner = query.owner === null ? undefined : getAddress(query.owner);
    } catch {
      queryOwner = undefined;
    }
    if (queryOwner !== owner || query.ref !== ref || query.category !== String(category)) {
      throw new BadRequestError("The query's owner, ref and category must be the signed ones.", { owner, ref, category });
    }
    const asking = { signer: auth.signer, purpose, ref: ZeroHash };
    const listing: BlobMeta = { blobId: ZeroHash as Sha256Hex, owner, kind: "wrapped-key", category, ref, size: 0, writer: ZeroAddress, storedAt: "" };
    const reason = await options.policy.authorizeRead({ ...asking, blobId: listing.blobId, meta: listing });
    const shareIds: Sha256Hex[] = [];
    for (const blobId of await options.metadata.listByRef(owner, ref)) {
      const meta = await options.metadata.get(blobId);
      if (!meta || meta.kind !== "wrapped-key" || meta.owner !== owner || meta.ref !== ref || meta.category !== category) continue;
      await options.policy.authorizeRead({ ...asking, blobId, meta });
      shareIds.push(blobId);
    }
    await options.audit.append({ actor: auth.signer, action: "list", blobId: ref, owner, purpose, outcome: "granted", reason });
    const body: ShareListing = { owner, ref, category, shareIds };
    return json(200, body, auth.digest);
  }

  async function route(req: IncomingMessage, state: RequestState): Promise<Reply> {
    const url = parseUrl(req);
    if (!url) throw new BadRequestError("The request target is not a valid URL path.");
    const path = url.pathname;
    if (req.method === "OPTIONS") {
      // A preflight carries no signature: it only asks whether a signed request may follow.
      return { status: 204, body: new Uint8Array(), contentType: "text/plain", requestDigest: ZeroHash, headers: cors.preflight(req.headers) };
    }
    if (path.startsWith("/v1/blobs/")) return handleBlob(req, path.slice("/v1/blobs/".length), state);
    if (path.startsWith(FIREWALL_PATH_PREFIX)) return handleFirewall(req, path.slice(FIREWALL_PATH_PREFIX.length), state);
    if (req.method !== "GET") throw new BadRequestError(`Method ${req.method} not allowed on ${path}.`);
    if (path === "/healthz") return json(200, { ok: true });
    if (path === "/readyz") return handleReadiness();
    if (path === "/metrics") {
      return { status: 200, body: new TextEncoder().encode(await metrics.registry.metrics()), contentType: metrics.registry.contentType, requestDigest: ZeroHash };
    }
    if (path === "/v1/info") return json(200, { gateway: gatewayAddress, chainId: options.chainId, protocol: 1, limits });
    if (path === "/v1/audit/head") {
      // On a shared log, other replicas may have appended since this one last looked.
      await options.audit.refresh();
      return json(200, { ...options.audit.head(), aggregateRefusals });
    }
    if (path === "/v1/audit") return handleAudit(req, url, state);
    if (path === "/v1/shares") return handleShareListing(req, url, state);
    return json(404, { error: { code: "GATEWAY_NOT_FOUND", message: `No route ${path}.` } });
  }

  async function handleReadiness(): Promise<Reply> {
    const report: ReadinessReport = options.readiness
      ? await options.readiness()
      : { ready: false, failing: ["configured"], checks: { configured: { ok: false, error: "no readiness checks are wired to this gateway" } } };
    metrics.ready.set(report.ready ? 1 : 0);
    return json(report.ready ? 200 : 503, report);
  }

  async function recordRefusal(req: IncomingMessage, error: GatewayError, state: RequestState) {
    // Every refused access to a blob by an authenticated signer is audited; refusals with no
    // established signer, and rate-limited ones, are only counted (aggregateRefusals).
    const path = parseUrl(req)?.pathname;
    if (!path) return;
    const firewalled = path.startsWith(FIREWALL_PATH_PREFIX);
    if (!path.startsWith("/v1/blobs/") && path !== "/v1/audit" && path !== "/v1/shares" && !firewalled) return;
    // A refused listing is audited under the ref it asked about, as a granted one is.
    const blobId = path.startsWith("/v1/blobs/") ? path.slice("/v1/blobs/".length)
      : firewalled ? path.slice(FIREWALL_PATH_PREFIX.length)
      : path === "/v1/shares" ? state.auth?.fields.ref ?? ZeroHash : ZeroHash;
    if (!isSha256Hex(blobId)) return;
    const anonymous = state.anonymous;
    if (anonymous?.nullifier && !(error instanceof RateLimitedError)) {
      const meta = await options.metadata.get(blobId).catch(() => undefined);
      await options.audit.append({
        actor: anonymous.nullifier, actorKind: "nullifier", group: anonymous.groupId, action: "read", blobId,
        owner: meta?.owner ?? null, purpose: anonymous.purpose ?? 0, outcome: "refused", reason: error.code,
      });
      return;
    }
    if (!state.auth || error instanceof RateLimitedError) {
      aggregateRefusals.total += 1;
      aggregateRefusals.byCode[error.code] = (aggregateRefusals.byCode[error.code] ?? 0) + 1;
      return;
    }
    const meta = await options.metadata.get(blobId).catch(() => undefined);
    await options.audit.append({
      actor: state.auth.signer,
      action: req.method === "PUT" || firewalled ? "write" : path === "/v1/audit" ? "audit-read" : path === "/v1/shares" ? "list" : "read",
      blobId,
      owner: meta?.owner ?? (state.auth.fields.owner !== ZeroAddress ? getAddress(state.auth.fields.owner) : null),
      purpose: state.auth.fields.purpose,
      outcome: "refused",
      reason: error.code,
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const state: RequestState = {};
    let timer: NodeJS.Timeout | undefined;
    let reply: Reply;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new GatewayTimeoutError(limits.requestTimeoutMs)), limits.requestTimeoutMs);
      });
      reply = await Promise.race([route(req, state), timeout]);
      reply.mode = state.auth?.mode;
    } catch (caught) {
      const error = caught instanceof GatewayError ? caught : isDiskFullError(caught) ? new InsufficientStorageError(caught) : new GatewayInternalError(caught);
      if (error instanceof InsufficientStorageError) logger.error({ err: caught, url: req.url }, "disk full: request refused, nothing stored");
      if (error instanceof GatewayInternalError) logger.error({ err: caught, url: req.url }, "internal error");
      metrics.refusals.inc({ code: error.code });
      await recordRefusal(req, error, state).catch((auditError: unknown) => logger.error({ err: auditError }, "audit append failed"));
      const body: ErrorBody = { error: { code: error.code, message: error.shortMessage, details: error instanceof GatewayInternalError ? undefined : error.details } };
      reply = json(error.httpStatus, body, state.auth?.digest ?? state.claimed?.digest ?? ZeroHash);
      reply.mode = state.auth?.mode;
      if (error instanceof RateLimitedError || error instanceof GatewayBusyError) res.setHeader("retry-after", Math.ceil(error.details.retryAfterMs as number / 1000));
    } finally {
      clearTimeout(timer);
    }
    // Recorded before the answer leaves, so a retry (here or on another replica) finds it.
    await rememberWriteReply(state, reply);
    if (state.writeKey) writesInFlight.delete(state.writeKey);
    send(res, reply, cors.responseHeaders(req.headers));
    const routeName = routeLabel(parseUrl(req)?.pathname);
    metrics.requests.inc({ route: routeName, status: String(reply.status) });
    metrics.requestSeconds.observe({ route: routeName }, (performance.now() - started) / 1000);
    metrics.bytesOut.inc({ route: routeName }, reply.body.length);
    // Scrapes of /metrics and /readyz every few seconds would drown the access lines.
    logger[routeName === "/metrics" || routeName === "/readyz" ? "debug" : "info"]({
      method: req.method,
      path: req.url?.split("?")[0],
      status: reply.status,
      signer: state.auth?.signer,
      ms: Math.round((performance.now() - started) * 10) / 10,
    }, "request");
  }

  /**
   * A write's final answer is what its retries get; not a transient one (429, 5xx), which a
   * retry may turn into success.
   */
  async function rememberWriteReply(state: RequestState, reply: Reply): Promise<void> {
    const auth = state.auth;
    if (!auth || !isWriteMethod(auth.fields.method) || state.replayedReply || reply.status === 429 || reply.status >= 500) return;
    const recorded: RecordedReply = { status: reply.status, contentType: reply.contentType, body: reply.body };
    try {
      await nonces.recordReply(auth.signer, auth.fields.nonce, recorded);
    } catch (error) {
      // A full disk here costs only the exact replay of this answer: a retry redoes the write.
      logger.warn({ err: error }, "could not remember a write's reply for retries");
    }
  }

  function send(res: ServerResponse, reply: Reply, corsHeaders: Record<string, string>) {
    if (res.headersSent || res.destroyed) return;
    const timestamp = now();
    const digest = responseDigest(options.chainId, {
      requestDigest: reply.requestDigest,
      status: reply.status,
      bodyHash: reply.bodyHash ?? sha256Hex(reply.body),
      timestamp,
    });
    const headers: Record<string, string | number> = {
      ...corsHeaders,
      ...reply.headers,
      "content-type": reply.contentType,
      "content-length": reply.body.length,
      [HEADER_RESPONSE_TIMESTAMP]: String(timestamp),
      [HEADER_GATEWAY]: gatewayAddress,
    };
    if (reply.mode === "session") {
      const key = currentResponseKey();
      headers[HEADER_RESPONSE_SIGNATURE] = hexlify(ed25519Sign(key.pair.privateKey, getBytes(digest)));
      headers[HEADER_RESPONSE_KEY] = key.header;
    } else {
      headers[HEADER_RESPONSE_SIGNATURE] = options.signingKey.sign(digest).serialized;
    }
    res.writeHead(reply.status, headers);
    res.end(reply.body);
  }

  const server = createServer({ requestTimeout: limits.requestTimeoutMs, headersTimeout: Math.min(limits.requestTimeoutMs, 60_000) }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: error }, "unhandled");
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  server.keepAliveTimeout = 5_000;

  return {
    server,
    limits,
    metrics,
    listen(port = 0, host = "127.0.0.1") {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          const address = server.address() as AddressInfo;
          resolve(`http://${address.address}:${address.port}`);
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** The request body as chunks; if the consumer stops early (too large, bad hash), the rest is drained, not read. */
async function* bodyChunks(req: IncomingMessage, onBytes: (bytes: number) => void): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of req.iterator({ destroyOnReturn: false })) {
      onBytes((chunk as Buffer).length);
      yield chunk as Buffer;
    }
  } finally {
    if (!req.readableEnded) req.resume();
  }
}

/**
 * An `he-keys` body, passed on only once the whole of it is known to hold public keys only
 * (checkPublicKeysOnly, the check the SDK and the oracle run too): the store sees no byte of a
 * refused key set, so nothing is stored. Held in memory, bounded by the kind's limit (checked here
 * too: an upload without a length is not bounded by the store until it sees the bytes).
 */
async function* publicKeysOnly(blobId: string, chunks: AsyncIterable<Uint8Array>, limit: { maxBytes: number; kind: string }): AsyncGenerator<Uint8Array> {
  const held: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    size += chunk.length;
    if (size > limit.maxBytes) throw new BlobTooLargeError({ kind: limit.kind, maxBytes: limit.maxBytes, bytes: size });
    held.push(chunk);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of held) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  try {
    checkPublicKeysOnly(bytes);
  } catch (error) {
    const e = error as { details?: { reason?: string; engineCode?: string } };
    throw new NotPublicKeysError({ blobId, reason: e.details?.reason ?? "unreadable", ...(e.details?.engineCode ? { engineCode: e.details.engineCode } : {}) });
  }
  yield bytes;
}

/**
 * Same bytes, same blob: owner, kind and category are fixed at the first upload; so is `ref`,
 * except for prediction results. A result's `ref` names the request the oracle was serving when
 * it wrote, an authorisation context, not part of what the blob is: the chain binds a result to
 * its request (the fulfilment carries the result's hash). Re-evaluating the same input gives the
 * same bytes, and after a reorg re-orders requests the same result may be stored under another
 * request id: that is the same blob again (200), not a conflict. Its metadata keeps the first ref.
 */
function sameBlob(meta: BlobMeta, wanted: { owner: string; kind: string; category: number; ref: string }): boolean {
  return meta.owner === wanted.owner && meta.kind === wanted.kind && meta.category === wanted.category &&
    (meta.ref === wanted.ref || wanted.kind === "he-result");
}

/** A request header sent once; undefined when absent (a repeated one is joined by node:http or an array). */
function singleHeader(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The decoded `x-medcipher-anonymous` header (an anonymous request and its proof), if sent; malformed is a 400. */
function anonymousUploadOf(req: IncomingMessage): AnonymousUpload | undefined {
  const header = singleHeader(req, HEADER_ANONYMOUS);
  if (header === undefined) return undefined;
  try {
    return decodeAnonymousUpload(header);
  } catch (error) {
    throw new BadRequestError(`Malformed ${HEADER_ANONYMOUS} header: ${(error as Error).message}.`);
  }
}

/** The request's URL, or undefined when its target is not a valid URL (`GET http://[`). */
function parseUrl(req: IncomingMessage): URL | undefined {
  try {
    return new URL(req.url ?? "/", "http://gateway.invalid");
  } catch {
    return undefined;
  }
}

/** Bytes of uploads in progress, across all connections, against a fixed budget. */
function createByteBudget(budgetBytes: number) {
  let inFlightBytes = 0;
  return {
    inFlightBytes: () => inFlightBytes,
    /** Reserves `bytes` or refuses with GatewayBusyError; returns the release function. */
    reserve(bytes: number): () => void {
      if (inFlightBytes + bytes > budgetBytes) throw new GatewayBusyError({ inFlightBytes, requestedBytes: bytes, budgetBytes, retryAfterMs: 1000 });
      inFlightBytes += bytes;
      let released = false;
      return () => {
        if (!released) inFlightBytes -= bytes;
        released = true;
      };
    },
  };
}
