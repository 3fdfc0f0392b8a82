/**
 * The gateway's wire protocol, shared by the server (gateway/) and its client (sdk/gateway/).
 *
 * Requests are authenticated with an EIP-712 signature over `GatewayRequest`; responses carry the
 * gateway's EIP-712 signature over `GatewayResponse`, which binds the status and the SHA-256 of the
 * body to the exact request it answers (so a response can be neither forged nor replayed).
 */
import { concat, keccak256, TypedDataEncoder, ZeroAddress, ZeroHash } from "ethers";

export const PROTOCOL_VERSION = "1";
export const DOMAIN_NAME = "MedCipher Gateway";

/** What a blob holds. Each kind has its own size limit. */
export const BLOB_KINDS = ["record", "wrapped-key", "he-input", "he-keys", "he-result", "other"] as const;
export type BlobKind = (typeof BLOB_KINDS)[number];

export function isBlobKind(value: string): value is BlobKind {
  return (BLOB_KINDS as readonly string[]).includes(value);
}

/** The operations a request can sign for. */
export type GatewayMethod = "GET" | "PUT" | "AUDIT";

/** Headers. Names are lowercase, as node:http delivers them. */
export const HEADER_AUTH = "x-medcipher-auth";
export const HEADER_RESPONSE_SIGNATURE = "x-medcipher-response-signature";
export const HEADER_RESPONSE_TIMESTAMP = "x-medcipher-response-timestamp";
export const HEADER_BLOB_OWNER = "x-medcipher-owner";
export const HEADER_BLOB_KIND = "x-medcipher-kind";
export const HEADER_BLOB_CATEGORY = "x-medcipher-category";
export const HEADER_GATEWAY = "x-medcipher-gateway";

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

export type GatewayRequestFields = {
  method: GatewayMethod;
  /** SHA-256 of the blob (0x-hex); zero for requests about no blob (AUDIT). */
  blobId: string;
  /** Purpose-of-use code (contracts/libraries/ConsentCodes.sol `Purpose`); 0 for writes by the owner. */
  purpose: number;
  /** Writes: the patient who owns the blob. Reads: zero address. */
  owner: string;
  /** Writes: the blob kind. Reads: "". */
  kind: string;
  /** Writes: the record category code. Reads: 0. */
  category: number;
  /**
   * What the access is about on-chain: for a record write, the record id or batch root it will be
   * anchored under; for an oracle, the prediction request id (reads of its input and keys, the
   * write of its result); for a grantee's read, optionally a record id covered by a record-scoped
   * consent. Zero otherwise.
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
const domainSeparators = new Map<string, string>();

function domainSeparator(chainId: number | bigint): string {
  const key = chainId.toString();
  let separator = domainSeparators.get(key);
  if (separator === undefined) {
    separator = TypedDataEncoder.hashDomain(gatewayDomain(chainId));
    domainSeparators.set(key, separator);
  }
  return separator;
}

function typedDigest(chainId: number | bigint, structHash: string): string {
  return keccak256(concat(["0x1901", domainSeparator(chainId), structHash]));
}

/** The EIP-712 digest of a request (what the client signs and the gateway recovers from). */
export function requestDigest(chainId: number | bigint, fields: GatewayRequestFields): string {
  return typedDigest(chainId, requestEncoder.hash(fields));
}

export type GatewayResponseFields = { requestDigest: string; status: number; bodyHash: string; timestamp: number };

/** The EIP-712 digest of a response (what the gateway signs and the SDK checks). */
export function responseDigest(chainId: number | bigint, fields: GatewayResponseFields): string {
  return typedDigest(chainId, responseEncoder.hash(fields));
}

export function encodeAuthHeader(auth: AuthHeader): string {
  return Buffer.from(JSON.stringify(auth)).toString("base64url");
}

export function decodeAuthHeader(value: string): unknown {
  return JSON.parse(Buffer.from(value, "base64url").toString("utf8"));
}

export const ZERO_BLOB_ID = ZeroHash;
export const ZERO_ADDRESS = ZeroAddress;

/** JSON error body of every refused request. */
export type ErrorBody = { error: { code: string; message: string; details?: Record<string, unknown> } };

