/**
 * Signed records ("MCS1"): a sealed envelope (sdk/crypto/envelope.ts, "MCE…") wrapped with the
 * device's ML-DSA-65 signature, so the gateway can check a record's origin at ingestion without
 * reading it, and every reader can check it again later.
 *
 * Layout (all lengths fixed or declared, nothing optional):
 *
 *   "MCS1" ‖ u32 big-endian header length ‖ header JSON ‖ ML-DSA-65 signature (3309 B) ‖ sealed envelope
 *
 * The header names everything the signature vouches for: the device and its public key, the
 * patient, the deployment (chain id and IdentityRegistry), the record category, when it was
 * signed, and the SHA-256 and length of the sealed envelope that follows. The signature is
 * ML-DSA-65 over the header bytes under the FIPS 204 context string RECORD_SIGNATURE_CONTEXT
 * (domain separation: no other MedCipher signature verifies as a record's). Signing the header
 * rather than the whole blob lets the gateway verify before it stores one byte of the body, then
 * hash the body as it streams.
 *
 * The header is canonical JSON: exactly these fields in this order, checksummed addresses,
 * canonical base64url; any other spelling is refused, so one signed content has one encoding.
 * The blob's SHA-256 (its gateway id) and the on-chain record commitment cover the wrapper, the
 * signature included: a reader who verifies the commitment knows no signature was stripped.
 *
 * Each way a signature can be wrong has its own code (RecordSignatureError); the gateway sends
 * them as GATEWAY_<code> (gateway/recordSignatures.ts).
 */
import { getAddress, isAddress } from "ethers";

import { base64UrlToBytes, bytesToBase64Url, bytesToUtf8, utf8ToBytes } from "../core/bytes.js";
import { BaseError } from "../core/errors.js";
import { isSha256Hex, sha256Hex, type Sha256Hex } from "../core/hash.js";
import { ML_DSA_65, mlDsaPublicKeyHash, mlDsaVerify, type MlDsaSigner } from "../core/crypto/mldsa.js";

export const SIGNED_RECORD_MAGIC = utf8ToBytes("MCS1");
/** The FIPS 204 context string every record signature is made under. */
export const RECORD_SIGNATURE_CONTEXT = utf8ToBytes("medcipher/signed-record/v1");
/** A header is ~2.9 KB (the public key is 2603 base64url characters); anything past this is refused unread. */
export const MAX_SIGNED_RECORD_HEADER_BYTES = 4096;
/** The most a wrapper adds to the sealed envelope it carries (the gateway's record limit allows for it). */
export const MAX_SIGNED_RECORD_OVERHEAD_BYTES = 8 + MAX_SIGNED_RECORD_HEADER_BYTES + ML_DSA_65.signatureBytes;

/**
 * `signedAt` is the device's clock, a binding's time (`pqKeyBoundSince`) a block's timestamp: a
 * record signed right after its binding may carry a time a little before the block's. This much
 * is tolerated, by the gateway and by readers alike.
 */
export const RECORD_SIGNATURE_CLOCK_SKEW_SECONDS = 300;

/** The sealed envelope's magic prefix ("MCE" and a version digit): the only thing a signed record carries. */
const ENVELOPE_MAGIC_PREFIX = utf8ToBytes("MCE");
/** An envelope's magic plus its header-length field: the least a sealed envelope is. */
const MIN_SEALED_BYTES = 8;

export type SignedRecordHeader = {
  v: 1;
  alg: "ML-DSA-65";
  /** The device's Ethereum address (checksummed): its binding on-chain commits to `publicKey`. */
  device: string;
  patient: string;
  chainId: number;
  identityRegistry: string;
  category: number;
  /** Unix seconds when the device signed; the gateway accepts it only while fresh. */
  signedAt: number;
  /** SHA-256 of the sealed envelope that follows the signature. */
  sealedSha256: Sha256Hex;
  /** Its length: a truncated blob is told apart from other bytes. */
  sealedBytes: number;
  /** The raw ML-DSA-65 public key, base64url (keccak256 of the raw key is the on-chain `pqKeyHash`). */
  publicKey: string;
};

/** What a record signature binds besides the bytes: the deployment, the device, the patient and the category. */
export type RecordSignatureContext = { device: string; patient: string; chainId: number; identityRegistry: string; category: number };

const HEADER_FIELDS = ["v", "alg", "device", "patient", "chainId", "identityRegistry", "category", "signedAt", "sealedSha256", "sealedBytes", "publicKey"] as const;

/**
 * Every way a record signature is refused, with what it means. The gateway prefixes them with
 * GATEWAY_ (and maps each to an HTTP status); readers see them as they are.
 */
export const RECORD_SIGNATURE_CODES = {
  /** Not the layout: bad magic or version, truncated, a header that is not canonical, a field out of range. */
  RECORD_SIGNATURE_MALFORMED: "the signed record is malformed",
  /** The signature does not verify under the header's key: forged or altered. */
  RECORD_SIGNATURE_INVALID: "the signature does not verify",
  /** A valid header and signature on other bytes than it names: a signature lifted onto another record. */
  RECORD_SIGNATURE_BODY_MISMATCH: "the signature is for other bytes",
  /** The signing key is not the one the chain binds for this device and patient. */
  RECORD_SIGNATURE_WRONG_KEY: "the signing key is not the device's bound key",
  /** The device is not bound to the patient (now, for the gateway). */
  RECORD_SIGNATURE_DEVICE_NOT_BOUND: "the device is not bound to the patient",
  /** Made for another deployment, patient, category or device than the upload or read. */
  RECORD_SIGNATURE_WRONG_CONTEXT: "the signature was made for another context",
  /** `signedAt` outside the gateway's freshness window: an old signed record replayed, or a clock far off. */
  RECORD_SIGNATURE_STALE: "the signature is not fresh",
  /** A device bound with an ML-DSA key uploaded a record without its signature. */
  RECORD_SIGNATURE_MISSING: "the record carries no signature from its post-quantum device",
} as const;

export type RecordSignatureCode = keyof typeof RECORD_SIGNATURE_CODES;

export class RecordSignatureError extends BaseError {
  override name = "RecordSignatureError";
  override readonly code: RecordSignatureCode;
  constructor(code: RecordSignatureCode, reason: string, details: Record<string, unknown> = {}) {
    super(`Record signature refused: ${RECORD_SIGNATURE_CODES[code]} (${reason}).`, { code, details: { reason, ...details } });
    this.code = code;
  }
}

const malformed = (reason: string, details?: Record<string, unknown>) => new RecordSignatureError("RECORD_SIGNATURE_MALFORMED", reason, details);

/** Whether `blob` starts like a signed record (it may still be malformed). */
export function isSignedRecord(blob: Uint8Array): boolean {
  return startsWith(blob, SIGNED_RECORD_MAGIC);
}

/**
 * Wraps a sealed envelope with the device's signature. `signedAt` defaults to now (the gateway
 * checks it is fresh, so sign right before uploading).
 */
export async function signRecord(sealed: Uint8Array, signer: MlDsaSigner, context: RecordSignatureContext & { signedAt?: number }): Promise<Uint8Array> {
  if (!isSealedEnvelope(sealed)) throw malformed("only a sealed envelope (MCE…) is signed", { bytes: sealed.length });
  const header: SignedRecordHeader = {
    v: 1,
    alg: "ML-DSA-65",
    device: getAddress(context.device),
    patient: getAddress(context.patient),
    chainId: context.chainId,
    identityRegistry: getAddress(context.identityRegistry),
    category: context.category,
    signedAt: context.signedAt ?? Math.floor(Date.now() / 1000),
    sealedSha256: sha256Hex(sealed),
    sealedBytes: sealed.length,
    publicKey: bytesToBase64Url(signer.publicKey),
  };
  const headerBytes = utf8ToBytes(canonicalHeader(checkHeader(header)));
  const signature = await signer.sign(headerBytes, RECORD_SIGNATURE_CONTEXT);
  const blob = new Uint8Array(8 + headerBytes.length + signature.length + sealed.length);
  blob.set(SIGNED_RECORD_MAGIC, 0);
  new DataView(blob.buffer).setUint32(4, headerBytes.length);
  blob.set(headerBytes, 8);
  blob.set(signature, 8 + headerBytes.length);
  blob.set(sealed, 8 + headerBytes.length + signature.length);
  return blob;
}

/** The header and signature of a signed record, parsed: what the gateway checks before the body arrives. */
export type SignedRecordPrefix = {
  header: SignedRecordHeader;
  headerBytes: Uint8Array;
  signature: Uint8Array;
  publicKey: Uint8Array;
  /** keccak256(publicKey): compare with the chain's `pqKeyHash`. */
  publicKeyHash: string;
  /** Bytes of the wrapper before the sealed envelope. */
  length: number;
};

/**
 * The wrapper's length (magic, header length, header, signature) from the blob's first 8 bytes;
 * MALFORMED for a header length out of range. The gateway reads this much before anything else.
 */
export function signedRecordPrefixLength(start: Uint8Array): number {
  if (start.length < 8) throw malformed("truncated: shorter than its magic and header length", { bytes: start.length });
  if (!isSignedRecord(start)) throw malformed("not a signed record (bad magic)");
  const headerLength = new DataView(start.buffer, start.byteOffset, start.byteLength).getUint32(4);
  if (headerLength === 0 || headerLength > MAX_SIGNED_RECORD_HEADER_BYTES) {
    throw malformed(`header length ${headerLength} outside 1…${MAX_SIGNED_RECORD_HEADER_BYTES}`, { headerLength });
  }
  return 8 + headerLength + ML_DSA_65.signatureBytes;
}

/** Parses the wrapper strictly from `bytes` (at least signedRecordPrefixLength of them). */
export function parseSignedRecordPrefix(bytes: Uint8Array): SignedRecordPrefix {
  const length = signedRecordPrefixLength(bytes);
  if (bytes.length < length) throw malformed("truncated inside the header or signature", { bytes: bytes.length, needed: length });
  const headerBytes = bytes.subarray(8, length - ML_DSA_65.signatureBytes);
  const header = parseHeader(headerBytes);
  const publicKey = base64UrlToBytes(header.publicKey);
  return { header, headerBytes, signature: bytes.subarray(length - ML_DSA_65.signatureBytes, length), publicKey, publicKeyHash: mlDsaPublicKeyHash(publicKey), length };
}

/** INVALID unless the signature verifies over the header under its own key. */
export async function verifySignedRecordPrefix(prefix: SignedRecordPrefix): Promise<void> {
  const valid = await mlDsaVerify(prefix.publicKey, prefix.signature, prefix.headerBytes, RECORD_SIGNATURE_CONTEXT);
  if (!valid) throw new RecordSignatureError("RECORD_SIGNATURE_INVALID", "ML-DSA-65 verification failed", { device: prefix.header.device, publicKeyHash: prefix.publicKeyHash });
}

/** BODY_MISMATCH unless `sealedSha256` (of `sealedBytes` bytes) is what the header names. */
export function checkSealedBody(header: SignedRecordHeader, sealedSha256: string, sealedBytes: number): void {
  if (sealedBytes !== header.sealedBytes) {
    throw malformed(`truncated or extended: the sealed envelope is ${sealedBytes} bytes, the header says ${header.sealedBytes}`, { bytes: sealedBytes, expected: header.sealedBytes });
  }
  if (sealedSha256 !== header.sealedSha256) {
    throw new RecordSignatureError("RECORD_SIGNATURE_BODY_MISMATCH", "the sealed envelope's SHA-256 is not the one signed", { expected: header.sealedSha256, actual: sealedSha256 });
  }
}

/** WRONG_CONTEXT unless every field of `expected` given is the header's. */
export function checkRecordSignatureContext(header: SignedRecordHeader, expected: Partial<RecordSignatureContext>): void {
  for (const field of ["device", "patient", "identityRegistry"] as const) {
    const want = expected[field];
    if (want !== undefined && getAddress(want) !== header[field]) {
      throw new RecordSignatureError("RECORD_SIGNATURE_WRONG_CONTEXT", `signed for ${field} ${header[field]}, not ${getAddress(want)}`, { field, signed: header[field], expected: getAddress(want) });
    }
  }
  for (const field of ["chainId", "category"] as const) {
    const want = expected[field];
    if (want !== undefined && want !== header[field]) {
      throw new RecordSignatureError("RECORD_SIGNATURE_WRONG_CONTEXT", `signed for ${field} ${header[field]}, not ${want}`, { field, signed: header[field], expected: want });
    }
  }
}

/** STALE unless `signedAt` lies within [now − maxAgeSeconds, now + maxSkewSeconds]. */
export function checkRecordSignatureFresh(header: SignedRecordHeader, now: number, window: { maxAgeSeconds: number; maxSkewSeconds: number }): void {
  const age = now - header.signedAt;
  if (age > window.maxAgeSeconds || -age > window.maxSkewSeconds) {
    throw new RecordSignatureError("RECORD_SIGNATURE_STALE", age > 0 ? `signed ${age} s ago, more than ${window.maxAgeSeconds} s` : `signed ${-age} s in the future`, {
      signedAt: header.signedAt, now, ...window,
    });
  }
}

export type VerifiedSignedRecord = {
  header: SignedRecordHeader;
  /** keccak256 of the signing key (the chain's `pqKeyHash` for the binding). */
  publicKeyHash: string;
  /** The sealed envelope inside (open it with sdk/crypto/envelope.ts). */
  sealed: Uint8Array;
};

/**
 * Parses a whole signed record and checks everything that needs no chain: layout, signature,
 * that it signs exactly these sealed bytes, and `expected` context. Whether the key is the
 * device's bound key is the caller's chain check (the gateway's and sdk/actions/verifyRecordSignature.ts).
 */
export async function verifySignedRecord(blob: Uint8Array, expected: Partial<RecordSignatureContext> = {}): Promise<VerifiedSignedRecord> {
  const prefix = parseSignedRecordPrefix(blob);
  const sealed = blob.subarray(prefix.length);
  await verifySignedRecordPrefix(prefix);
  checkSealedBody(prefix.header, sha256Hex(sealed), sealed.length);
  // Only a hand-made signer gets here with anything else: signRecord signs envelopes only.
  if (!isSealedEnvelope(sealed)) throw malformed("what follows the signature is not a sealed envelope (MCE…)");
  checkRecordSignatureContext(prefix.header, expected);
  return { header: prefix.header, publicKeyHash: prefix.publicKeyHash, sealed };
}

/** Whether `bytes` start like a sealed envelope ("MCE" and a version digit, then a header length). */
export function isSealedEnvelope(bytes: Uint8Array): boolean {
  const version = bytes[ENVELOPE_MAGIC_PREFIX.length];
  return bytes.length >= MIN_SEALED_BYTES && startsWith(bytes, ENVELOPE_MAGIC_PREFIX) && version !== undefined && version >= 0x30 && version <= 0x39;
}

function parseHeader(headerBytes: Uint8Array): SignedRecordHeader {
  let text: string;
  let value: unknown;
  try {
    text = bytesToUtf8(headerBytes);
    value = JSON.parse(text);
  } catch (error) {
    throw malformed(`the header is not UTF-8 JSON (${(error as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw malformed("the header is not a JSON object");
  const fields = Object.keys(value);
  const unknown = fields.filter((f) => !(HEADER_FIELDS as readonly string[]).includes(f));
  const missing = HEADER_FIELDS.filter((f) => !fields.includes(f));
  if (unknown.length > 0 || missing.length > 0) throw malformed("the header's fields are not the format's", { unknown, missing });
  const header = checkHeader(value as SignedRecordHeader);
  if (canonicalHeader(header) !== text) throw malformed("the header is not in canonical form (field order, spacing, address checksums or base64url)");
  return header;
}

/** Each field's type and range; throws MALFORMED naming the first field out of line. */
function checkHeader(header: SignedRecordHeader): SignedRecordHeader {
  const bad = (field: string, why: string) => malformed(`header field ${field} ${why}`, { field });
  if (header.v !== 1) throw malformed(`unknown signed-record version ${JSON.stringify(header.v)}`, { v: header.v });
  if (header.alg !== "ML-DSA-65") throw malformed(`unknown signature algorithm ${JSON.stringify(header.alg)}`, { alg: header.alg });
  for (const field of ["device", "patient", "identityRegistry"] as const) {
    if (typeof header[field] !== "string" || !isAddress(header[field])) throw bad(field, "is not an address");
  }
  if (!isUint(header.chainId, Number.MAX_SAFE_INTEGER) || header.chainId === 0) throw bad("chainId", "is not a chain id");
  if (!isUint(header.category, 255)) throw bad("category", "is not a category code (0–255)");
  if (!isUint(header.signedAt, 2 ** 40 - 1)) throw bad("signedAt", "is not unix seconds");
  if (typeof header.sealedSha256 !== "string" || !isSha256Hex(header.sealedSha256)) throw bad("sealedSha256", "is not lowercase 0x SHA-256 hex");
  if (!isUint(header.sealedBytes, Number.MAX_SAFE_INTEGER) || header.sealedBytes < MIN_SEALED_BYTES) throw bad("sealedBytes", `is not a length ≥ ${MIN_SEALED_BYTES}`);
  let publicKey: Uint8Array;
  try {
    publicKey = base64UrlToBytes(typeof header.publicKey === "string" ? header.publicKey : "!");
  } catch {
    throw bad("publicKey", "is not base64url");
  }
  if (publicKey.length !== ML_DSA_65.publicKeyBytes) throw bad("publicKey", `is ${publicKey.length} bytes, not ${ML_DSA_65.publicKeyBytes}`);
  return header;
}

/** The one spelling of a header: fields in HEADER_FIELDS order, checksummed addresses, canonical base64url. */
function canonicalHeader(header: SignedRecordHeader): string {
  const canonical: SignedRecordHeader = {
    v: header.v,
    alg: header.alg,
    device: getAddress(header.device),
    patient: getAddress(header.patient),
    chainId: header.chainId,
    identityRegistry: getAddress(header.identityRegistry),
    category: header.category,
    signedAt: header.signedAt,
    sealedSha256: header.sealedSha256,
    sealedBytes: header.sealedBytes,
    publicKey: bytesToBase64Url(base64UrlToBytes(header.publicKey)),
  };
  return JSON.stringify(canonical);
}

function isUint(value: unknown, max: number): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 && value <= max;
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.length >= prefix.length && prefix.every((byte, i) => bytes[i] === byte);
}
