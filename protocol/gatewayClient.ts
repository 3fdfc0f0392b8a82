/**
 * The gateway client: the client's half of the wire protocol (protocol/gateway.ts), browser-safe.
 * It signs every request (EIP-712, or an Ed25519 session key), checks every response's signature
 * against the gateway key registered on-chain, and checks every downloaded blob's SHA-256.
 *
 * It lives in protocol/ rather than sdk/ because the oracle is a gateway client too and must not
 * import sdk/: one client, so the signing and checking rules cannot drift between two copies.
 * The SDK re-exports it (sdk/gateway/client.ts).
 */
import { getAddress, hexlify, isAddress, isHexString, randomBytes, recoverAddress, Wallet, ZeroAddress, ZeroHash, type Signer } from "ethers";

import { generateEd25519KeyPair, importEd25519PublicKey, signEd25519, verifyEd25519, type Ed25519SigningKey } from "../core/crypto/ed25519.js";
import { bytesToUtf8 } from "../core/bytes.js";
import { isSha256Hex, sha256Hex, type Sha256Hex } from "../core/hash.js";
import { hexToBytes } from "../core/hex.js";
import { createFetchTransport, type HttpResponse, type HttpTransport } from "../core/http.js";
import type { AuditProof } from "./audit/entries.js";
import { Category } from "./codes.js";
import { GatewayRequestError, GatewaySignatureError, GatewayUnavailableError, IntegrityError, InvalidInputError } from "./errors.js";
import {
  decodeJsonHeader,
  encodeAnonymousUpload,
  encodeAuthHeader,
  encodeJsonHeader,
  FIREWALL_PATH_PREFIX,
  gatewayDomain,
  HEADER_ANONYMOUS,
  HEADER_AUTH,
  HEADER_RESPONSE_KEY,
  HEADER_RESPONSE_SIGNATURE,
  HEADER_RESPONSE_TIMESTAMP,
  HEADER_SESSION,
  isWriteMethod,
  MAX_SESSION_SECONDS,
  REQUEST_TYPES,
  requestDigest,
  responseDigest,
  responseKeyDigest,
  SESSION_TYPES,
  type ResponseKeyHeader,
  type AnonymousUpload,
  type BlobKind,
  type ErrorBody,
  type FirewallReply,
  type GatewayMethod,
  type GatewayRequestFields,
  type ShareListing,
} from "./gateway.js";
import { encodePrivateConsentHeader, HEADER_PRIVATE_CONSENT, type PrivateConsentGrant } from "./privateConsent.js";

/**
 * Anything that can sign the gateway's EIP-712 requests: an ethers v6 `Signer` (a `Wallet`, or a
 * `JsonRpcSigner` from `new BrowserProvider(window.ethereum)` for EIP-1193 wallets).
 */
export type GatewaySigner = Pick<Signer, "getAddress" | "signTypedData"> & {
  /** Present on ethers `Wallet`: lets the client sign the digest directly (no re-encoding). */
  signingKey?: { sign(digest: string): { serialized: string } };
};

export type GatewayClientOptions = {
  url: string;
  signer: GatewaySigner;
  chainId: number;
  /** The gateway key registered on-chain; every response must be signed by it. */
  gatewayAddress: string;
  /**
   * How requests travel. Default: the global `fetch`. Node processes that move many blobs pass
   * `createNodeHttpTransport()` (keep-alive node:http, from the SDK's Node entry); pass
   * `createFetchTransport(myFetch)` (or the `fetch` shorthand) to use another fetch.
   */
  transport?: HttpTransport;
  /** Shorthand for `transport: createFetchTransport(fetch)`. */
  fetch?: typeof fetch;
  /** Abort a request (upload, download) after this many milliseconds: GatewayUnavailableError. Default: none. */
  timeoutMs?: number;
  /**
   * Session mode (default off): the signer authorises a fresh Ed25519 key once (one EIP-712
   * signature, one wallet prompt) for `lifetimeSeconds` (≤ 24 h, default 1 h); every request is
   * then signed by that key and every response checked against the gateway's certified Ed25519
   * key. Same fields signed, same replay protection, ~10× less CPU per request. Ed25519 comes
   * from WebCrypto, so this works in browsers and Node alike.
   */
  session?: boolean | { lifetimeSeconds?: number };
};

/**
 * `ref`: see GatewayRequestFields.ref (record id / batch root, or prediction request id).
 * `anonymous`: the anonymous request and proof an upload before its submission carries
 * (`x-medcipher-anonymous`); see `putAnonymous`, which fills in the rest.
 */
export type PutBlobParameters = { owner: string; kind: BlobKind; category: number; purpose?: number; ref?: string; anonymous?: AnonymousUpload };

/**
 * An upload of an anonymous request's input (`he-input`) or fresh public keys (`he-keys`). The
 * client's signer must be the request's accessKey. `requestId` is the id the request gets
 * (`anonymousRequestIdFor(router, proof.nullifier)`, or `checkAnonymousRequest`'s answer). With
 * `proof` the upload may come before the request is on-chain; without it, only after.
 */
export type PutAnonymousParameters = { kind: "he-input" | "he-keys"; request: AnonymousUpload["request"]; requestId: string; proof?: AnonymousUpload["proof"] };
/**
 * An input sent through the gateway's ingestion firewall. `keysHash`: the key set the input was
 * encrypted under; the gateway refuses it (GATEWAY_FIREWALL_KEY_MISMATCH) unless it is the
 * owner's current one. Omitted: the owner's current key set, whatever it is.
 */
export type PutFirewalledParameters = { owner: string; category: number; purpose?: number; keysHash?: string };

export type GetBlobParameters = {
  purpose: number;
  ref?: string;
  /**
   * Read as the grantee of this private consent (protocol/privateConsent.ts): the grant travels in
   * `x-medcipher-private-consent` beside the usual signature, and the gateway checks it against
   * the chain (ConsentManager.privateConsentAllows) instead of the public consents.
   */
  privateConsent?: PrivateConsentGrant;
};

/** Which shares to list: the patient's, under one record id or batch root, of one category, read for `purpose`. */
export type ListSharesParameters = { owner: string; ref: string; category: number; purpose: number };

export type GatewayClient = {
  readonly url: string;
  readonly gatewayAddress: string;
  /** Uploads `bytes`; returns their SHA-256 id. */
  put(bytes: Uint8Array, parameters: PutBlobParameters): Promise<Sha256Hex>;
  /**
   * Sends a prediction input (`he-input`) through the gateway's ingestion firewall, which
   * re-randomises it under the owner's public key and stores the result: returns the stored
   * blob's id (`blobId`, to commit on-chain; not the SHA-256 of `bytes`, which is `rawBlobId`).
   */
  putFirewalled(bytes: Uint8Array, parameters: PutFirewalledParameters): Promise<FirewallReply & { blobId: Sha256Hex }>;
  /**
   * Uploads an anonymous request's input or public keys, owned by and signed as its accessKey
   * (the client's signer), category PREDICTION, `ref` = the request id. Checks before sending that
   * the signer is the accessKey and that the bytes hash to the request's inputHash / keysHash.
   */
  putAnonymous(bytes: Uint8Array, parameters: PutAnonymousParameters): Promise<Sha256Hex>;
  /** Downloads and verifies a blob (response signature and SHA-256). */
  get(blobId: string, parameters: GetBlobParameters): Promise<Uint8Array>;
  /**
   * The ids of the record shares (`wrapped-key` blobs) `owner` has under `ref` with `category`
   * that the signer may read for `purpose` (`GET /v1/shares`, signed, method LIST): 403
   * GATEWAY_FORBIDDEN without live consent, whether or not there are any.
   */
  listShares(parameters: ListSharesParameters): Promise<Sha256Hex[]>;
  /**
   * The audit entries about `owner` (the signer must be allowed to read them), each with its
   * Merkle inclusion proof; `since` (the anchored tree size) adds the consistency proof from that
   * tree. Check it with `verifyAuditProof(proof, anchored)`.
   */
  audit(owner: string, options?: { since?: number }): Promise<AuditProof>;
  /** The public tree head (`seq` entries, Merkle root `head`) of the gateway's audit log. */
  auditHead(): Promise<{ seq: number; head: string }>;
  /** Closes pooled connections (idle keep-alive connections do not keep a Node process alive). */
  close(): void;
};

/**
 * @example
 * const gateway = createGatewayClient({ url: "http://127.0.0.1:8787", signer: wallet, chainId: 31337, gatewayAddress });
 * const id = await gateway.put(ciphertext, { owner: patient, kind: "record", category: Category.VITAL_SIGNS });
 * const bytes = await gateway.get(id, { purpose: Purpose.TREAT });
 */
export function createGatewayClient(options: GatewayClientOptions): GatewayClient {
  const base = options.url.replace(/\/+$/, "");
  const gatewayAddress = getAddress(options.gatewayAddress);
  const transport = options.transport ?? createFetchTransport(options.fetch);
  let signerAddress: string | undefined;
  const sessionLifetime = options.session ? Math.min(MAX_SESSION_SECONDS, (typeof options.session === "object" ? options.session.lifetimeSeconds : undefined) ?? 3600) : 0;
  type Session = { pair: Ed25519SigningKey; notAfter: number; header: string };
  let session: Promise<Session> | undefined;
  let sessionNotAfter = 0;
  const responseKeys = new Map<string, { key: CryptoKey; notAfter: number }>();

  /** The live session, signed once (concurrent first requests share one signature / wallet prompt). */
  function currentSession(): Promise<Session> {
    const t = Math.floor(Date.now() / 1000);
    if (!session || sessionNotAfter - 60 < t) {
      const notAfter = t + sessionLifetime;
      sessionNotAfter = notAfter;
      const pending = (async (): Promise<Session> => {
        const pair = await generateEd25519KeyPair();
        const fields = { signer: signerAddress!, sessionKey: hexlify(pair.publicKey), notAfter, gateway: gatewayAddress };
        const signature = await options.signer.signTypedData(gatewayDomain(options.chainId), SESSION_TYPES, fields);
        return { pair, notAfter, header: encodeJsonHeader({ ...fields, signature }) };
      })();
      // A refused signature (wallet prompt dismissed) is not cached: the next request asks again.
      pending.catch(() => { if (session === pending) session = undefined; });
      session = pending;
    }
    return session;
  }

  /** The gateway's Ed25519 response key, once its certificate is checked against the registered address. */
  async function certifiedResponseKey(header: string): Promise<CryptoKey | undefined> {
    const cached = responseKeys.get(header);
    const t = Math.floor(Date.now() / 1000);
    if (cached) return cached.notAfter >= t ? cached.key : undefined;
    try {
      const cert = decodeJsonHeader(header) as ResponseKeyHeader;
      if (getAddress(cert.gateway) !== gatewayAddress || cert.notAfter < t) return undefined;
      const signer = recoverAddress(responseKeyDigest(options.chainId, { gateway: gatewayAddress, responseKey: cert.responseKey, notAfter: cert.notAfter }), cert.signature);
      if (signer !== gatewayAddress) return undefined;
      const key = await importEd25519PublicKey(hexToBytes(cert.responseKey, 32));
      if (responseKeys.size > 16) responseKeys.clear();
      responseKeys.set(header, { key, notAfter: cert.notAfter });
      return key;
    } catch {
      return undefined;
    }
  }

  type SignedFields = Omit<GatewayRequestFields, "timestamp" | "nonce" | "gateway" | "method">;

  /**
   * A read or audit request the gateway calls a replay although its nonce was fresh: the
   * transport's re-send after a dropped connection delivered it twice and the first copy was
   * served. The gateway answers re-sent reads with 401 (a captured read must never yield data
   * twice) and re-sent writes with their original answer, so reads are signed again, once, with
   * a new nonce.
   */
  async function signedRequest(method: GatewayMethod, path: string, fields: SignedFields, body?: Uint8Array, extraHeaders: Record<string, string> = {}) {
    try {
      return await signAndSend(method, path, fields, body, extraHeaders);
    } catch (error) {
      if (isWriteMethod(method) || !(error instanceof GatewayRequestError) || error.code !== "GATEWAY_AUTH_REPLAY") throw error;
      return signAndSend(method, path, fields, body, extraHeaders);
    }
  }

  async function signAndSend(method: GatewayMethod, path: string, fields: SignedFields, body: Uint8Array | undefined, extraHeaders: Record<string, string>) {
    signerAddress ??= getAddress(await options.signer.getAddress());
    const full: GatewayRequestFields = {
      ...fields,
      method,
      timestamp: Math.floor(Date.now() / 1000),
      nonce: hexlify(randomBytes(32)),
      gateway: gatewayAddress,
    };
    const digest = requestDigest(options.chainId, full);
    const activeSession = sessionLifetime > 0 ? await currentSession() : undefined;
    const signature = activeSession
      ? hexlify(await signEd25519(activeSession.pair.privateKey, hexToBytes(digest, 32)))
      : options.signer.signingKey
        ? options.signer.signingKey.sign(digest).serialized
        : await options.signer.signTypedData(gatewayDomain(options.chainId), REQUEST_TYPES, full);
    const header = encodeAuthHeader({
      signer: signerAddress,
      chainId: options.chainId,
      gateway: gatewayAddress,
      purpose: full.purpose,
      owner: full.owner,
      kind: full.kind,
      category: full.category,
      ref: full.ref,
      timestamp: full.timestamp,
      nonce: full.nonce,
      signature,
    });
    const headers: Record<string, string> = { ...extraHeaders, [HEADER_AUTH]: header };
    if (activeSession) headers[HEADER_SESSION] = activeSession.header;
    return exchange(path, HTTP_METHODS[method], digest, headers, body);
  }

  async function exchange(path: string, httpMethod: string, digest: string, headers: Record<string, string>, body?: Uint8Array) {
    const url = `${base}${path}`;
    let response: HttpResponse;
    try {
      response = await transport.send({
        url,
        method: httpMethod,
        headers: body ? { ...headers, "content-type": "application/octet-stream" } : headers,
        body,
        timeoutMs: options.timeoutMs,
      });
    } catch (error) {
      throw new GatewayUnavailableError(url, error);
    }
    const bytes = response.body;
    const signature = response.header(HEADER_RESPONSE_SIGNATURE);
    const timestamp = Number(response.header(HEADER_RESPONSE_TIMESTAMP));
    let recovered: string | undefined;
    const bodyHash = sha256Hex(bytes);
    if (signature && Number.isSafeInteger(timestamp)) {
      const signed = responseDigest(options.chainId, { requestDigest: digest, status: response.status, bodyHash, timestamp });
      const certificate = response.header(HEADER_RESPONSE_KEY);
      try {
        if (certificate) {
          const key = await certifiedResponseKey(certificate);
          if (key && (await verifyEd25519(key, hexToBytes(signed, 32), hexToBytes(signature)))) recovered = gatewayAddress;
        } else {
          recovered = recoverAddress(signed, signature);
        }
      } catch {
        recovered = undefined;
      }
    }
    if (recovered !== gatewayAddress) throw new GatewaySignatureError({ expected: gatewayAddress, recovered, url });
    if (response.status >= 400) {
      let parsed: ErrorBody | undefined;
      try {
        parsed = JSON.parse(bytesToUtf8(bytes)) as ErrorBody;
      } catch {
        parsed = undefined;
      }
      const error = parsed?.error;
      throw new GatewayRequestError(response.status, error?.code ?? "GATEWAY_HTTP_ERROR", error?.message ?? `Gateway answered ${response.status}.`, error?.details);
    }
    return { status: response.status, bytes, bodyHash };
  }

  // Checked before anything is signed or sent, so a typo is an input error, not a signing failure.
  const refOf = (ref: string | undefined): string => {
    if (ref === undefined) return ZeroHash;
    if (!isHexString(ref, 32)) throw new InvalidInputError("ref must be a 32-byte hex value (a record id, batch root or prediction request id).", { ref });
    return ref;
  };
  const ownerOf = (owner: string): string => {
    if (!isAddress(owner)) throw new InvalidInputError("owner must be the patient's address.", { owner });
    return getAddress(owner);
  };

  const parseJson = <T>(bytes: Uint8Array): T => JSON.parse(bytesToUtf8(bytes)) as T;

  async function put(bytes: Uint8Array, parameters: PutBlobParameters): Promise<Sha256Hex> {
    const blobId = sha256Hex(bytes);
    const extraHeaders: Record<string, string> = parameters.anonymous ? { [HEADER_ANONYMOUS]: encodeAnonymousUpload(parameters.anonymous) } : {};
    await signedRequest("PUT", `/v1/blobs/${blobId}`, {
      blobId,
      purpose: parameters.purpose ?? 0,
      owner: ownerOf(parameters.owner),
      kind: parameters.kind,
      category: parameters.category,
      ref: refOf(parameters.ref),
    }, bytes, extraHeaders);
    return blobId;
  }

  async function putFirewalled(bytes: Uint8Array, parameters: PutFirewalledParameters): Promise<FirewallReply & { blobId: Sha256Hex }> {
    const rawBlobId = sha256Hex(bytes);
    const { bytes: body } = await signedRequest("FIREWALL", `${FIREWALL_PATH_PREFIX}${rawBlobId}`, {
      blobId: rawBlobId,
      purpose: parameters.purpose ?? 0,
      owner: ownerOf(parameters.owner),
      kind: "he-input",
      category: parameters.category,
      ref: refOf(parameters.keysHash),
    }, bytes);
    const reply = parseJson<Partial<FirewallReply>>(body);
    const blobId = typeof reply.blobId === "string" ? reply.blobId.toLowerCase() : "";
    // The answer is signed by the gateway; still, an id that is no SHA-256, or the raw bytes' own, is no firewalled blob.
    if (!isSha256Hex(blobId) || blobId === rawBlobId || reply.rawBlobId !== rawBlobId) throw new IntegrityError("Firewall reply", { rawBlobId, blobId: reply.blobId });
    return { blobId, rawBlobId, keysHash: String(reply.keysHash), size: Number(reply.size) };
  }

  return {
    url: base,
    gatewayAddress,
    put,
    putFirewalled,
    async putAnonymous(bytes, parameters) {
      const { request, kind } = parameters;
      const accessKey = ownerOf(request.accessKey);
      signerAddress ??= getAddress(await options.signer.getAddress());
      if (signerAddress !== accessKey) throw new InvalidInputError("An anonymous request's blobs are uploaded by its accessKey: sign with the accessKey's wallet.", { signer: signerAddress, accessKey });
      const expected = (kind === "he-input" ? request.inputHash : request.keysHash).toLowerCase();
      const blobId = sha256Hex(bytes);
      if (blobId !== expected) throw new InvalidInputError(`The bytes are not the request's ${kind === "he-input" ? "input" : "public keys"} (their SHA-256 differs from the request's).`, { kind, blobId, expected });
      return put(bytes, {
        owner: accessKey,
        kind,
        category: Category.PREDICTION,
        ref: refOf(parameters.requestId),
        anonymous: parameters.proof ? { request, proof: parameters.proof } : undefined,
      });
    },
    async get(requestedId, parameters) {
      const blobId = requestedId.toLowerCase();
      if (!isSha256Hex(blobId)) throw new InvalidInputError("A blob id is 0x followed by the 64 hex digits of the blob's SHA-256.", { blobId: requestedId });
      const grantHeaders: Record<string, string> = parameters.privateConsent ? { [HEADER_PRIVATE_CONSENT]: encodePrivateConsentHeader(parameters.privateConsent) } : {};
      const { bytes, bodyHash } = await signedRequest("GET", `/v1/blobs/${blobId}`, { blobId, purpose: parameters.purpose, owner: ZeroAddress, kind: "", category: 0, ref: refOf(parameters.ref) }, undefined, grantHeaders);
      if (bodyHash !== blobId) throw new IntegrityError("Blob from gateway", { blobId, actual: bodyHash });
      return bytes;
    },
    async listShares(parameters) {
      const owner = ownerOf(parameters.owner);
      const ref = refOf(parameters.ref).toLowerCase();
      if (ref === ZeroHash) throw new InvalidInputError("A share listing needs the record id or batch root (ref).");
      const path = `/v1/shares?owner=${owner}&ref=${ref}&category=${parameters.category}`;
      const { bytes } = await signedRequest("LIST", path, { blobId: ZeroHash, purpose: parameters.purpose, owner, kind: "wrapped-key", category: parameters.category, ref });
      const listing = parseJson<ShareListing>(bytes);
      const shareIds = Array.isArray(listing.shareIds) ? listing.shareIds : [];
      if (!Array.isArray(listing.shareIds) || !shareIds.every((id) => typeof id === "string" && isSha256Hex(id)) || listing.ref !== ref || getAddress(listing.owner) !== owner) {
        throw new GatewayUnavailableError(`${base}${path}`, new Error("the share listing is not the one asked for, or malformed"));
      }
      return shareIds as Sha256Hex[];
    },
    async audit(owner, auditOptions = {}) {
      const address = getAddress(owner);
      const since = auditOptions.since === undefined ? "" : `&since=${auditOptions.since}`;
      const { bytes } = await signedRequest("AUDIT", `/v1/audit?owner=${address}${since}`, { blobId: ZeroHash, purpose: 0, owner: address, kind: "", category: 0, ref: ZeroHash });
      return parseJson(bytes);
    },
    async auditHead() {
      const { bytes } = await exchange("/v1/audit/head", "GET", ZeroHash, {});
      return parseJson(bytes);
    },
    close() {
      transport.close();
    },
  };
}

/** The HTTP method each signed operation travels as. */
const HTTP_METHODS: Record<GatewayMethod, string> = { GET: "GET", AUDIT: "GET", LIST: "GET", PUT: "PUT", FIREWALL: "POST" };

/**
 * A fresh one-time accessKey for an anonymous request: an ordinary secp256k1 wallet that is
 * nobody's account. Pass it as `signer` of a gateway client (its own, not the patient's: the
 * gateway must see only the accessKey) and as `request.accessKey` (its address).
 */
export function newAccessKey(): Wallet {
  return new Wallet(hexlify(randomBytes(32)));
}
