/**
 * The gateway's wire protocol, shared by the server (gateway/) and its client (sdk/gateway/).
 *
 * Requests are authenticated with an EIP-712 signature over `GatewayRequest`; responses carry the
 * gateway's EIP-712 signature over `GatewayResponse`, which binds the status and the SHA-256 of the
 * body to the exact request it answers (so a response can be neither forged nor replayed).
 */
import { getAddress, getBytes, id as keccakUtf8, keccak256, toUtf8Bytes, TypedDataEncoder, ZeroAddress, ZeroHash } from "ethers";

import { base64UrlToBytes, bytesToBase64Url, bytesToUtf8, utf8ToBytes } from "../core/bytes.js";
import { hexToBytes } from "../core/hex.js";
import type { AnonymousRequest } from "./zk/predict.js";
import type { SemaphoreProof } from "./zk/prove.js";

export const PROTOCOL_VERSION = "1";
export const DOMAIN_NAME = "MedCipher Gateway";

/** What a blob holds. Each kind has its own size limit. */
export const BLOB_KINDS = ["record", "wrapped-key", "he-input", "he-keys", "he-result", "other"] as const;
export type BlobKind = (typeof BLOB_KINDS)[number];

export function isBlobKind(value: string): value is BlobKind {
  return (BLOB_KINDS as readonly string[]).includes(value);
}

/**
 * The operations a request can sign for. `LIST`: the share listing (`GET /v1/shares`).
 * `FIREWALL`: an input ciphertext sent through the gateway's ingestion firewall
 * (`POST /v1/firewall/he-input/:rawId`), which stores the re-randomised blob under its own id;
 * signed apart from PUT so a firewall request cannot be replayed as a direct upload of the raw bytes.
 */
export type GatewayMethod = "GET" | "PUT" | "AUDIT" | "LIST" | "FIREWALL";

/**
 * The answer of `GET /v1/shares?owner=…&ref=…&category=…`: the ids of the `wrapped-key` blobs
 * (record shares) `owner` has under `ref` with that category, each of which the signer may read
 * now. A grantee finds delegated shares of records uploaded after its consent with it.
 */
export type ShareListing = { owner: string; ref: string; category: number; shareIds: string[] };

/** Writes: a re-sent write (same signed request) gets its original answer; a re-sent read is a replay. */
export function isWriteMethod(method: GatewayMethod): boolean {
  return method === "PUT" || method === "FIREWALL";
}

/** Where `FIREWALL` requests go: this prefix, then the SHA-256 of the raw body. */
export const FIREWALL_PATH_PREFIX = "/v1/firewall/he-input/";

/**
 * The firewall's answer (201): the stored, re-randomised blob's id — what the client commits
 * on-chain — the id of the raw bytes it was sent, the key set it re-randomised under, and the size.
 */
export type FirewallReply = { blobId: string; rawBlobId: string; keysHash: string; size: number };

/** Headers. Names are lowercase, as node:http delivers them. */
export const HEADER_AUTH = "x-medcipher-auth";
export const HEADER_RESPONSE_SIGNATURE = "x-medcipher-response-signature";
export const HEADER_RESPONSE_TIMESTAMP = "x-medcipher-response-timestamp";
export const HEADER_BLOB_OWNER = "x-medcipher-owner";
export const HEADER_BLOB_KIND = "x-medcipher-kind";
export const HEADER_BLOB_CATEGORY = "x-medcipher-category";
export const HEADER_GATEWAY = "x-medcipher-gateway";
/** Session mode: the EIP-712 authorisation of the request's Ed25519 session key (base64url JSON). */
export const HEADER_SESSION = "x-medcipher-session";
/** Session mode: the gateway's EIP-712 certificate of its Ed25519 response key (base64url JSON). */
export const HEADER_RESPONSE_KEY = "x-medcipher-response-key";

/** The EIP-712 struct a client signs for every request. */
export const REQUEST_TYPES = {
  GatewayRequest: [
    { name: "method", type: "string" },
    { name: "blobId", type: "bytes32" },
    { name: "purpose", type: "uint8" },
    { name: "owner", type: "address" },
    { name: "kind", type: "string" },
    { name: "category", type: "uint8" },
    { name: "ref", type: "bytes32" },
    { name: "timestamp", type: "uint64" },
    { name: "nonce", type: "bytes32" },
    { name: "gateway", type: "address" },
  ],
};

/** The EIP-712 struct the gateway signs for every response. */
export const RESPONSE_TYPES = {
  GatewayResponse: [
    { name: "requestDigest", type: "bytes32" },
    { name: "status", type: "uint16" },
    { name: "bodyHash", type: "bytes32" },
    { name: "timestamp", type: "uint64" },
  ],
};

/**
 * Sessions. Signing every request with secp256k1 costs a wallet prompt (browsers) and ~4 ms of
 * recovery per request on each side (pure-JS ECDSA). In session mode the Ethereum key signs, once,
 * an EIP-712 `GatewaySession` naming a fresh Ed25519 key, this gateway, the chain (domain) and an
 * expiry; each request is then signed — over the very same `GatewayRequest` digest — by that
 * Ed25519 key. The gateway does the same for its responses: its Ethereum key (registered with
 * GATEWAY_ROLE) certifies an Ed25519 response key with `GatewayResponseKey`. The SDK checks the
 * certificate once and each response's Ed25519 signature.
 */
export const SESSION_TYPES = {
  GatewaySession: [
    { name: "signer", type: "address" },
    { name: "sessionKey", type: "bytes32" },
    { name: "notAfter", type: "uint64" },
    { name: "gateway", type: "address" },
  ],
};

export const RESPONSE_KEY_TYPES = {
  GatewayResponseKey: [
    { name: "gateway", type: "address" },
    { name: "responseKey", type: "bytes32" },
    { name: "notAfter", type: "uint64" },
  ],
};

/** What travels in `x-medcipher-session`. */
export type SessionHeader = { signer: string; sessionKey: string; notAfter: number; gateway: string; signature: string };
/** What travels in `x-medcipher-response-key`. */
export type ResponseKeyHeader = { gateway: string; responseKey: string; notAfter: number; signature: string };

/** Longest session the gateway accepts. */
export const MAX_SESSION_SECONDS = 24 * 3600;

export type GatewayRequestFields = {
  method: GatewayMethod;
  /** SHA-256 of the blob (0x-hex); zero for requests about no blob (AUDIT). */
  blobId: string;
  /** Purpose-of-use code (contracts/libraries/ConsentCodes.sol `Purpose`); 0 for writes by the owner. */
  purpose: number;
  /** Writes and LIST: the patient who owns the blob(s). Reads: zero address. */
  owner: string;
  /** Writes: the blob kind; LIST: "wrapped-key". Reads: "". */
  kind: string;
  /** Writes and LIST: the record category code. Reads: 0. */
  category: number;
  /**
   * What the access is about on-chain: for a record write, the record id or batch root it will be
   * anchored under; for an oracle, the prediction request id (reads of its input and keys, the
   * write of its result); for a grantee's read, optionally a record id covered by a record-scoped
   * consent; for LIST, the record id or batch root whose shares are listed; for a FIREWALL
   * request, the keysHash the input was encrypted under (zero: the owner's current key set).
   * Zero otherwise.
   */
  ref: string;
  /** Unix seconds. */
  timestamp: number;
  /** 32 random bytes, never reused by a signer. */
  nonce: string;
  /** The gateway's address: a signature for one gateway is useless at another. */
  gateway: string;
};

/** What travels in the `x-medcipher-auth` header (base64url JSON). */
export type AuthHeader = Omit<GatewayRequestFields, "method" | "blobId" | "gateway"> & {
  signer: string;
  chainId: number;
  gateway: string;
  signature: string;
};

export function gatewayDomain(chainId: number | bigint) {
  return { name: DOMAIN_NAME, version: PROTOCOL_VERSION, chainId };
}

const requestEncoder = TypedDataEncoder.from(REQUEST_TYPES);
const responseEncoder = TypedDataEncoder.from(RESPONSE_TYPES);
/** 0x1901 ‖ domain separator, per chain: the fixed first 34 bytes of every digest. */
const digestPrefixes = new Map<string, Uint8Array>();

/** The EIP-712 digest of a struct hash (0x-hex) under this gateway's domain on `chainId`. */
function typedDigest(chainId: number | bigint, structHash: string): string {
  const key = chainId.toString();
  let prefix = digestPrefixes.get(key);
  if (!prefix) {
    prefix = new Uint8Array(34);
    prefix.set([0x19, 0x01], 0);
    prefix.set(hexToBytes(TypedDataEncoder.hashDomain(gatewayDomain(chainId)), 32), 2);
    digestPrefixes.set(key, prefix);
  }
  const message = new Uint8Array(66);
  message.set(prefix, 0);
  message.set(hexToBytes(structHash, 32), 34);
  return keccak256(message);
}

/**
 * Hand-rolled EIP-712 hashing for the two structs hashed on every request and every response
 * (ethers' TypedDataEncoder costs ~0.5 ms a call; this ~0.03 ms): fields go straight into one
 * buffer and hex is converted natively. A test checks both agree with ethers.
 */
const REQUEST_TYPEHASH = getBytes(keccakUtf8(requestEncoder.encodeType("GatewayRequest")));
const RESPONSE_TYPEHASH = getBytes(keccakUtf8(responseEncoder.encodeType("GatewayResponse")));

function wordUint(out: Uint8Array, offset: number, value: number) {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a uint: ${value}`);
  for (let i = 31, v = value; i >= 0 && v > 0; i--) {
    out[offset + i] = v % 256;
    v = Math.floor(v / 256);
  }
}

function wordBytes(out: Uint8Array, offset: number, hex: string, length: number) {
  out.set(hexToBytes(hex, length), offset + 32 - length);
}

/** keccak256 of the few short strings that recur (methods, kinds), memoised. */
const stringHashes = new Map<string, Uint8Array>();
function hashedString(value: string): Uint8Array {
  let hash = stringHashes.get(value);
  if (!hash) {
    hash = getBytes(keccak256(toUtf8Bytes(value)));
    if (stringHashes.size < 64) stringHashes.set(value, hash);
  }
  return hash;
}

function requestStruct(f: GatewayRequestFields): Uint8Array {
  const out = new Uint8Array(32 * 11);
  out.set(REQUEST_TYPEHASH, 0);
  out.set(hashedString(f.method), 32);
  wordBytes(out, 64, f.blobId, 32);
  wordUint(out, 96, f.purpose);
  wordBytes(out, 128, f.owner, 20);
  out.set(hashedString(f.kind), 160);
  wordUint(out, 192, f.category);
  wordBytes(out, 224, f.ref, 32);
  wordUint(out, 256, f.timestamp);
  wordBytes(out, 288, f.nonce, 32);
  wordBytes(out, 320, f.gateway, 20);
  return out;
}

function responseStruct(f: GatewayResponseFields): Uint8Array {
  const out = new Uint8Array(32 * 5);
  out.set(RESPONSE_TYPEHASH, 0);
  wordBytes(out, 32, f.requestDigest, 32);
  wordUint(out, 64, f.status);
  wordBytes(out, 96, f.bodyHash, 32);
  wordUint(out, 128, f.timestamp);
  return out;
}

/** The EIP-712 digest of a request (what the client signs and the gateway recovers from). */
export function requestDigest(chainId: number | bigint, fields: GatewayRequestFields): string {
  if (fields.purpose > 255 || fields.category > 255) throw new RangeError("purpose and category are uint8");
  return typedDigest(chainId, keccak256(requestStruct(fields)));
}

/** The same digest through ethers' generic encoder (reference for tests). */
export function requestDigestReference(chainId: number | bigint, fields: GatewayRequestFields): string {
  return typedDigest(chainId, requestEncoder.hash(fields));
}

export type GatewayResponseFields = { requestDigest: string; status: number; bodyHash: string; timestamp: number };

/** The EIP-712 digest of a response (what the gateway signs and the SDK checks). */
export function responseDigest(chainId: number | bigint, fields: GatewayResponseFields): string {
  if (fields.status > 0xffff) throw new RangeError("status is uint16");
  return typedDigest(chainId, keccak256(responseStruct(fields)));
}

export function responseDigestReference(chainId: number | bigint, fields: GatewayResponseFields): string {
  return typedDigest(chainId, responseEncoder.hash(fields));
}

const sessionEncoder = TypedDataEncoder.from(SESSION_TYPES);
const responseKeyEncoder = TypedDataEncoder.from(RESPONSE_KEY_TYPES);

export function sessionDigest(chainId: number | bigint, fields: Omit<SessionHeader, "signature">): string {
  return typedDigest(chainId, sessionEncoder.hash(fields));
}

export function responseKeyDigest(chainId: number | bigint, fields: Omit<ResponseKeyHeader, "signature">): string {
  return typedDigest(chainId, responseKeyEncoder.hash(fields));
}

/** base64url (no padding) of the value's JSON in UTF-8: what the session and response-key headers carry. */
export function encodeJsonHeader(value: unknown): string {
  return bytesToBase64Url(utf8ToBytes(JSON.stringify(value)));
}

export function encodeAuthHeader(auth: AuthHeader): string {
  return encodeJsonHeader(auth);
}

/** Throws (TypeError or SyntaxError) on anything that is not base64url of UTF-8 JSON. */
export function decodeJsonHeader(value: string): unknown {
  return JSON.parse(bytesToUtf8(base64UrlToBytes(value)));
}

export function decodeAuthHeader(value: string): unknown {
  return decodeJsonHeader(value);
}

export const ZERO_BLOB_ID = ZeroHash;
export const ZERO_ADDRESS = ZeroAddress;

/** JSON error body of every refused request. */
export type ErrorBody = { error: { code: string; message: string; details?: Record<string, unknown> } };


/**
 * Anonymous prediction requests (IPredictionRouter.requestPredictionAnonymous). The request's
 * one-time `accessKey` is an ordinary secp256k1 key held by the patient's client: every blob of the
 * request is stored with owner = accessKey (an address that is nobody's account) and every gateway
 * request about them is signed by it, so the gateway never learns which patient asks.
 *
 * Before the request is on-chain the gateway cannot look it up, so an upload of its input or keys
 * carries the request and its Semaphore proof in `x-medcipher-anonymous` (base64url JSON
 * `{ request, proof }`); the gateway asks `router.checkAnonymousRequest(request, proof)` by eth_call
 * (the very checks the transaction makes) and compares the blob's hash with the request's. The
 * header is not signed: the proof's message commits to the whole request, and the request names the
 * accessKey, which must be the request's signer.
 */
export const HEADER_ANONYMOUS = "x-medcipher-anonymous";
/** Longest header accepted before parsing (a depth-20 proof with a short URI encodes to ~1.6 KB). */
export const ANONYMOUS_HEADER_MAX_CHARS = 8192;
/** Longest `inputUri` the header may carry (characters). */
export const ANONYMOUS_INPUT_URI_MAX_CHARS = 2048;

/** What `x-medcipher-anonymous` carries: IPredictionRouter.AnonymousRequest and its proof (decimal strings, as Semaphore gives them). */
export type AnonymousUpload = { request: AnonymousRequest; proof: SemaphoreProof };

/** The header is not exactly what encodeAnonymousUpload writes. */
export class AnonymousHeaderError extends TypeError {
  override name = "AnonymousHeaderError";
}

/** BN254's scalar field (public signals) and base field (proof coordinates). */
const BN254_SCALAR_FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;
const BN254_BASE_FIELD = 21888242871839275222246405745257275088696311157297823662689037894645226208583n;

export function encodeAnonymousUpload(upload: AnonymousUpload): string {
  const { request, proof } = upload;
  return encodeJsonHeader({
    request: {
      modelId: request.modelId,
      epoch: request.epoch,
      slot: request.slot,
      accessKey: getAddress(request.accessKey),
      inputHash: request.inputHash.toLowerCase(),
      keysHash: request.keysHash.toLowerCase(),
      inputUri: request.inputUri,
    },
    proof: {
      merkleTreeDepth: proof.merkleTreeDepth,
      merkleTreeRoot: BigInt(proof.merkleTreeRoot).toString(),
      nullifier: BigInt(proof.nullifier).toString(),
      message: BigInt(proof.message).toString(),
      scope: BigInt(proof.scope).toString(),
      points: proof.points.map((point) => BigInt(point).toString()),
    },
  });
}

/**
 * Parses `x-medcipher-anonymous`, refusing (AnonymousHeaderError) anything but what
 * encodeAnonymousUpload writes: unknown or missing keys, numbers out of their Solidity type's range,
 * hashes that are not 0x + 64 lower-case hex, non-canonical decimals, values outside BN254's fields.
 */
export function decodeAnonymousUpload(header: string): AnonymousUpload {
  if (header.length > ANONYMOUS_HEADER_MAX_CHARS) throw new AnonymousHeaderError(`header longer than ${ANONYMOUS_HEADER_MAX_CHARS} characters`);
  let json: unknown;
  try {
    json = decodeJsonHeader(header);
  } catch {
    throw new AnonymousHeaderError("not base64url JSON");
  }
  const top = exactObject(json, ["request", "proof"], "header");
  const r = exactObject(top.request, ["modelId", "epoch", "slot", "accessKey", "inputHash", "keysHash", "inputUri"], "request");
  const p = exactObject(top.proof, ["merkleTreeDepth", "merkleTreeRoot", "nullifier", "message", "scope", "points"], "proof");
  if (typeof r.accessKey !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(r.accessKey)) throw new AnonymousHeaderError("request.accessKey is not an address");
  let accessKey: string;
  try {
    accessKey = getAddress(r.accessKey);
  } catch {
    throw new AnonymousHeaderError("request.accessKey has a wrong checksum");
  }
  if (typeof r.inputUri !== "string" || r.inputUri.length > ANONYMOUS_INPUT_URI_MAX_CHARS) throw new AnonymousHeaderError(`request.inputUri is not a string of at most ${ANONYMOUS_INPUT_URI_MAX_CHARS} characters`);
  if (!Array.isArray(p.points) || p.points.length !== 8) throw new AnonymousHeaderError("proof.points are not 8 numbers");
  const depth = uintField(p.merkleTreeDepth, "proof.merkleTreeDepth", 32);
  if (depth < 1) throw new AnonymousHeaderError("proof.merkleTreeDepth is not 1-32");
  return {
    request: {
      modelId: uintField(r.modelId, "request.modelId", 0xffffffff),
      epoch: uintField(r.epoch, "request.epoch", 0xffffffff),
      slot: uintField(r.slot, "request.slot", 0xffff),
      accessKey,
      inputHash: hashField(r.inputHash, "request.inputHash"),
      keysHash: hashField(r.keysHash, "request.keysHash"),
      inputUri: r.inputUri,
    },
    proof: {
      merkleTreeDepth: depth,
      merkleTreeRoot: decimalField(p.merkleTreeRoot, "proof.merkleTreeRoot", BN254_SCALAR_FIELD),
      nullifier: decimalField(p.nullifier, "proof.nullifier", BN254_SCALAR_FIELD),
      message: decimalField(p.message, "proof.message", BN254_SCALAR_FIELD),
      scope: decimalField(p.scope, "proof.scope", BN254_SCALAR_FIELD),
      points: p.points.map((point: unknown, i: number) => decimalField(point, `proof.points[${i}]`, BN254_BASE_FIELD)) as SemaphoreProof["points"],
    },
  };
}

function exactObject(value: unknown, keys: readonly string[], what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new AnonymousHeaderError(`${what} is not an object`);
  const actual = Object.keys(value).sort();
  const wanted = [...keys].sort();
  if (actual.length !== wanted.length || actual.some((key, i) => key !== wanted[i])) throw new AnonymousHeaderError(`${what} has keys ${actual.join(",")}, expected ${wanted.join(",")}`);
  return value as Record<string, unknown>;
}

function uintField(value: unknown, name: string, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > max) throw new AnonymousHeaderError(`${name} is not an integer 0-${max}`);
  return value;
}

function hashField(value: unknown, name: string): string {
  if (typeof value !== "string" || !/^0x[0-9a-f]{64}$/.test(value)) throw new AnonymousHeaderError(`${name} is not 0x and 64 lower-case hex digits`);
  return value;
}

function decimalField(value: unknown, name: string, bound: bigint): string {
  if (typeof value !== "string" || !/^(0|[1-9][0-9]{0,77})$/.test(value)) throw new AnonymousHeaderError(`${name} is not a canonical decimal string`);
  if (BigInt(value) >= bound) throw new AnonymousHeaderError(`${name} is not below BN254's field`);
  return value;
}
