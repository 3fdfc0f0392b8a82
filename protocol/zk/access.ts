/**
 * Anonymous group access at the gateway: a member of a consent group proves membership of the
 * group the consent names, once per request, without saying which member.
 *
 *   scope   = uint256(keccak256(abi.encode("medcipher.access.v1", uint256 chainId, address privacyGroups,
 *             bytes32 consentCommitment, bytes32 nonce))) >> 8
 *   message = uint256(keccak256(abi.encode("medcipher.access.v1", address gateway, string method,
 *             string path, bytes32 bodySha256, uint64 timestamp))) >> 8
 *
 * Scope: fresh per access (a random 32-byte nonce), so one member's accesses share no nullifier
 * and cannot be linked to each other; naming the consent's commitment makes a proof useless for
 * any other consent, and the chain and PrivacyGroups make it useless on another deployment. The
 * gateway refuses a nullifier it has seen (a replay) and audits the access by nullifier.
 * Message: binds the one HTTP request — method, request target (path and query as sent), SHA-256 of
 * the body (of zero bytes when there is none), time — and the gateway's address, as the signed
 * gateway requests do (protocol/gateway.ts), so a gateway cannot replay a proof at another.
 *
 * The proof travels in one header, `x-medcipher-group-access`: base64url of JSON
 * { v: 1, nonce, timestamp, proof } with every uint256 as 0x + 64 hex digits. The gateway
 * decodes it strictly (decodeGroupAccess), checks the binding (checkGroupAccessBinding), then
 * asks PrivacyGroups.verifyMembership(consent.groupId, proof) by eth_call.
 */
import { AbiCoder, getAddress, keccak256 } from "ethers";

import { base64UrlToBytes, bytesToBase64Url, bytesToHexString, bytesToUtf8, utf8ToBytes } from "../../core/bytes.js";
import type { SemaphoreArtifacts } from "./artifacts.js";
import { ZkBindingError, ZkMalformedProofError } from "./errors.js";
import { proveMembership, type ProveMembershipParameters, type SemaphoreProof } from "./prove.js";

export const ACCESS_DOMAIN = "medcipher.access.v1";
export const HEADER_GROUP_ACCESS = "x-medcipher-group-access";
/** How far a proof's timestamp may be from the gateway's clock (seconds), as for signed requests. */
export const GROUP_ACCESS_MAX_SKEW_SECONDS = 300;
/** Longest header accepted before parsing (a depth-20 proof encodes to ~1.1 KB). */
export const GROUP_ACCESS_MAX_HEADER_CHARS = 4096;

/** BN254's scalar field: every public signal and proof coordinate is below it. */
export const SNARK_SCALAR_FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;

const abi = AbiCoder.defaultAbiCoder();

export type GroupAccessScopeFields = {
  chainId: bigint | number;
  privacyGroups: string;
  /** The private consent's on-chain commitment (privateConsent.ts). */
  consentCommitment: string;
  /** 32 random bytes (0x-hex), new for every access. */
  nonce: string;
};

export type GroupAccessRequest = {
  /** The gateway's address (its GATEWAY_ROLE signing key). */
  gateway: string;
  /** Upper-case HTTP method. */
  method: string;
  /** The request target exactly as sent: path, and "?query" if any. */
  path: string;
  /** SHA-256 of the request body (0x-hex). */
  bodySha256: string;
  /** Unix seconds. */
  timestamp: number;
};

export function groupAccessScope(fields: GroupAccessScopeFields): bigint {
  const encoded = abi.encode(["string", "uint256", "address", "bytes32", "bytes32"], [ACCESS_DOMAIN, fields.chainId, getAddress(fields.privacyGroups), fields.consentCommitment, fields.nonce]);
  return BigInt(keccak256(encoded)) >> 8n;
}

export function groupAccessMessage(request: GroupAccessRequest): bigint {
  if (request.method !== request.method.toUpperCase()) throw new TypeError(`HTTP method must be upper-case: ${request.method}`);
  const encoded = abi.encode(["string", "address", "string", "string", "bytes32", "uint64"], [ACCESS_DOMAIN, getAddress(request.gateway), request.method, request.path, request.bodySha256, request.timestamp]);
  return BigInt(keccak256(encoded)) >> 8n;
}

/** What the header carries. */
export type GroupAccess = { nonce: string; timestamp: number; proof: SemaphoreProof };

const WORD = /^0x[0-9a-f]{64}$/;
const word = (value: bigint | string) => `0x${BigInt(value).toString(16).padStart(64, "0")}`;

export function encodeGroupAccess(access: GroupAccess): string {
  const { proof } = access;
  const json = {
    v: 1,
    nonce: access.nonce.toLowerCase(),
    timestamp: access.timestamp,
    proof: {
      depth: proof.merkleTreeDepth,
      root: word(proof.merkleTreeRoot),
      nullifier: word(proof.nullifier),
      message: word(proof.message),
      scope: word(proof.scope),
      points: proof.points.map(word),
    },
  };
  return bytesToBase64Url(utf8ToBytes(JSON.stringify(json)));
}

/**
 * Parses the header, refusing (ZK_PROOF_MALFORMED) anything but exactly what encodeGroupAccess
 * writes: unknown or missing keys, other versions, non-canonical numbers, values outside the field.
 */
export function decodeGroupAccess(header: string): GroupAccess {
  if (header.length > GROUP_ACCESS_MAX_HEADER_CHARS) throw new ZkMalformedProofError("header too long", { length: header.length });
  let json: unknown;
  try {
    json = JSON.parse(bytesToUtf8(base64UrlToBytes(header)));
  } catch {
    throw new ZkMalformedProofError("not base64url JSON");
  }
  const top = exactObject(json, ["v", "nonce", "timestamp", "proof"], "header");
  if (top.v !== 1) throw new ZkMalformedProofError("unknown version", { v: top.v });
  const nonce = wordField(top.nonce, "nonce");
  if (typeof top.timestamp !== "number" || !Number.isSafeInteger(top.timestamp) || top.timestamp < 0) throw new ZkMalformedProofError("timestamp is not unix seconds");
  const p = exactObject(top.proof, ["depth", "root", "nullifier", "message", "scope", "points"], "proof");
  if (typeof p.depth !== "number" || !Number.isInteger(p.depth) || p.depth < 1 || p.depth > 32) throw new ZkMalformedProofError("depth is not 1-32", { depth: p.depth });
  if (!Array.isArray(p.points) || p.points.length !== 8) throw new ZkMalformedProofError("points are not 8 words");
  const field = (value: unknown, name: string) => {
    const parsed = BigInt(wordField(value, name));
    if (parsed >= SNARK_SCALAR_FIELD) throw new ZkMalformedProofError(`${name} is not below the SNARK scalar field`);
    return parsed.toString();
  };
  return {
    nonce,
    timestamp: top.timestamp,
    proof: {
      merkleTreeDepth: p.depth,
      merkleTreeRoot: field(p.root, "root"),
      nullifier: field(p.nullifier, "nullifier"),
      message: field(p.message, "message"),
      scope: field(p.scope, "scope"),
      points: p.points.map((point: unknown, i: number) => field(point, `points[${i}]`)) as SemaphoreProof["points"],
    },
  };
}

export type GroupAccessExpectation = Omit<GroupAccessScopeFields, "nonce"> & Omit<GroupAccessRequest, "timestamp"> & {
  /** The gateway's clock, unix seconds. */
  now: number;
  maxSkewSeconds?: number;
};

/**
 * The gateway's binding check: the proof's scope is this deployment's scope for this consent and
 * the header's nonce, its message is this request's, its timestamp is near `now`. Throws
 * ZK_STALE, ZK_SCOPE_MISMATCH or ZK_MESSAGE_MISMATCH; membership itself is then PrivacyGroups'.
 */
export function checkGroupAccessBinding(access: GroupAccess, expected: GroupAccessExpectation): void {
  const skew = expected.maxSkewSeconds ?? GROUP_ACCESS_MAX_SKEW_SECONDS;
  if (Math.abs(expected.now - access.timestamp) > skew) {
    throw new ZkBindingError("ZK_STALE", "The access proof's timestamp is too far from the gateway's clock.", { timestamp: access.timestamp, now: expected.now, maxSkewSeconds: skew });
  }
  const scope = groupAccessScope({ chainId: expected.chainId, privacyGroups: expected.privacyGroups, consentCommitment: expected.consentCommitment, nonce: access.nonce });
  if (BigInt(access.proof.scope) !== scope) {
    throw new ZkBindingError("ZK_SCOPE_MISMATCH", "The access proof is for another consent, nonce or deployment.", { scope: access.proof.scope, expected: scope.toString() });
  }
  const message = groupAccessMessage({ gateway: expected.gateway, method: expected.method, path: expected.path, bodySha256: expected.bodySha256, timestamp: access.timestamp });
  if (BigInt(access.proof.message) !== message) {
    throw new ZkBindingError("ZK_MESSAGE_MISMATCH", "The access proof is bound to another request (method, path, body, time or gateway).", { message: access.proof.message, expected: message.toString() });
  }
}

export type ProveGroupAccessParameters = Pick<ProveMembershipParameters, "identity" | "group"> & Omit<GroupAccessScopeFields, "nonce"> & {
  request: GroupAccessRequest;
  artifacts: SemaphoreArtifacts;
  /** Defaults to 32 fresh random bytes; pass one only in tests. */
  nonce?: string;
};

/**
 * The member's side: proves membership for one request and returns the header value.
 *
 * @example
 * const header = await proveGroupAccess({ identity, group, artifacts, chainId, privacyGroups, consentCommitment,
 *   request: { gateway, method: "GET", path: `/blobs/${id}`, bodySha256: sha256Hex(new Uint8Array()), timestamp: nowSeconds() } });
 * await fetch(url, { headers: { [HEADER_GROUP_ACCESS]: header } });
 */
export async function proveGroupAccess(parameters: ProveGroupAccessParameters): Promise<string> {
  const nonce = parameters.nonce ?? newGroupAccessNonce();
  const scope = groupAccessScope({ chainId: parameters.chainId, privacyGroups: parameters.privacyGroups, consentCommitment: parameters.consentCommitment, nonce });
  const message = groupAccessMessage(parameters.request);
  const proof = await proveMembership({ identity: parameters.identity, group: parameters.group, message, scope, artifacts: parameters.artifacts });
  return encodeGroupAccess({ nonce, timestamp: parameters.request.timestamp, proof });
}

export function newGroupAccessNonce(): string {
  return `0x${bytesToHexString(globalThis.crypto.getRandomValues(new Uint8Array(32)))}`;
}

function exactObject(value: unknown, keys: readonly string[], what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ZkMalformedProofError(`${what} is not an object`);
  const actual = Object.keys(value).sort();
  const wanted = [...keys].sort();
  if (actual.length !== wanted.length || actual.some((key, i) => key !== wanted[i])) throw new ZkMalformedProofError(`${what} has keys ${actual.join(",")}, expected ${wanted.join(",")}`);
  return value as Record<string, unknown>;
}

function wordField(value: unknown, name: string): string {
  if (typeof value !== "string" || !WORD.test(value)) throw new ZkMalformedProofError(`${name} is not 0x and 64 lower-case hex digits`);
  return value;
}
