/**
 * Device signatures on records, checked at ingestion (issue 13). A record blob is either a plain
 * sealed envelope ("MCE…") or a signed record ("MCS1…", protocol/signedRecord.ts): the envelope
 * wrapped with the device's ML-DSA-65 signature over a header that names the device, its key,
 * the patient, the deployment, the category, the signing time and the envelope's SHA-256.
 *
 * A signed record is stored only if
 * - it parses strictly and its signature verifies over its header;
 * - the header names this chain and IdentityRegistry, the upload's owner and category, and — when
 *   a device uploads — that device;
 * - it was signed within the freshness window (`maxAgeSeconds` back, `maxSkewSeconds` ahead);
 * - the device is bound to the owner now (IdentityRegistry.deviceOwner) and its binding commits
 *   to this key (`deviceOf(device).pqKeyHash == keccak256(publicKey)`), bound no later than it
 *   signed (`pqKeyBoundSince`, give or take RECORD_SIGNATURE_CLOCK_SKEW_SECONDS), as readers check;
 * - the envelope that follows is exactly the one the header names (length and SHA-256).
 * A device whose binding commits to an ML-DSA key may upload signed records only.
 *
 * The header and signature come first, so they are checked before any body byte is passed on;
 * the body is then hashed as it streams to the store and checked at its end. Throwing there makes
 * the store drop its temporary file (BlobStore.putStream), so a refused record leaves no file and
 * no metadata (handlePut creates metadata only after the store returns). Memory: the wrapper
 * (≤ MAX_SIGNED_RECORD_OVERHEAD_BYTES) plus one chunk, whatever the record's size.
 *
 * Replays. Content addressing makes a byte-identical re-upload the same blob (idempotent, nothing
 * new stored). Everything else a replay could be is refused: the same signature on other bytes
 * (BODY_MISMATCH) or with an edited header (INVALID); under another patient, category, chain,
 * registry or uploading device (WRONG_CONTEXT); after the device was unbound or re-keyed
 * (DEVICE_NOT_BOUND, WRONG_KEY); or later than the freshness window — a copy kept and re-sent
 * after the blob was deleted, or to another gateway of the deployment (STALE).
 */
import { createHash } from "node:crypto";

import { ZeroHash } from "ethers";

import { MlDsaKeyError } from "../core/crypto/mldsa.js";
import {
  checkRecordSignatureContext,
  checkRecordSignatureFresh,
  checkSealedBody,
  isSealedEnvelope,
  isSignedRecord,
  parseSignedRecordPrefix,
  RECORD_SIGNATURE_CLOCK_SKEW_SECONDS,
  RecordSignatureError,
  signedRecordPrefixLength,
  verifySignedRecordPrefix,
  type RecordSignatureCode,
} from "../protocol/signedRecord.js";
import { checksumAddress as getAddress } from "./address.js";
import { RecordSignatureRefusedError } from "./errors.js";
import type { GrantReason } from "./policy.js";

/** The chain views the check needs, memoised per block (the chain policy's `devices`). */
export type DeviceViews = {
  /** IdentityRegistry.deviceOwner: the patient the device may act for now (checksummed), or the zero address. */
  deviceOwner(device: string): Promise<string>;
  /** deviceOf(device).pqKeyHash, lowercase 0x-hex (ZeroHash for a binding without an ML-DSA key). */
  devicePqKeyHash(device: string): Promise<string>;
  /** IdentityRegistry.pqKeyBoundSince: the key's first binding to the device for the patient (unix seconds, 0 if never). */
  pqKeyBoundSince(device: string, patient: string, pqKeyHash: string): Promise<number>;
};

export type RecordSignatureCheckOptions = {
  chainId: number;
  identityRegistry: string;
  devices: DeviceViews;
};

export type RecordUpload = {
  blobId: string;
  signer: string;
  owner: string;
  category: number;
  /** Why the policy let the signer write (a "device" must sign if its binding has an ML-DSA key). */
  grantedAs: GrantReason;
  /** The gateway's clock, unix seconds. */
  now: number;
  window: { maxAgeSeconds: number; maxSkewSeconds: number };
};

export type RecordSignatures = {
  /**
   * The upload's body, passed on once it is known to be acceptable (see the module comment); a
   * refusal is a RecordSignatureRefusedError thrown by the iteration.
   */
  check(upload: RecordUpload, chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array>;
};

export function createRecordSignatureCheck(options: RecordSignatureCheckOptions): RecordSignatures {
  const identityRegistry = getAddress(options.identityRegistry);
  const { devices } = options;

  /** A device uploading under a binding that commits to an ML-DSA key must sign. */
  async function mustSign(upload: RecordUpload): Promise<boolean> {
    return upload.grantedAs === "device" && (await devices.devicePqKeyHash(upload.signer)) !== ZeroHash;
  }

  async function* check(upload: RecordUpload, source: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
    const signerMustSign = await mustSign(upload);
    let start = await readAtLeast(source, new Uint8Array(0), 8);
    if (!isSignedRecord(start.bytes)) {
      if (signerMustSign) throw missingSignature(upload);
      yield* passThrough(start.bytes, source, start.done);
      return;
    }
    const prefixLength = signedRecordPrefixLength(start.bytes);
    start = await readAtLeast(source, start.bytes, prefixLength);
    const prefix = parseSignedRecordPrefix(start.bytes);
    const { header } = prefix;
    await verifySignedRecordPrefix(prefix);
    checkRecordSignatureContext(header, {
      chainId: options.chainId,
      identityRegistry,
      patient: upload.owner,
      category: upload.category,
      ...(upload.grantedAs === "device" ? { device: upload.signer } : {}),
    });
    checkRecordSignatureFresh(header, upload.now, upload.window);
    const boundTo = await devices.deviceOwner(header.device);
    if (boundTo !== getAddress(upload.owner)) {
      throw new RecordSignatureError("RECORD_SIGNATURE_DEVICE_NOT_BOUND", `${header.device} is not bound to ${getAddress(upload.owner)} now`, { device: header.device, boundTo });
    }
    const boundKey = await devices.devicePqKeyHash(header.device);
    if (boundKey !== prefix.publicKeyHash) {
      throw new RecordSignatureError("RECORD_SIGNATURE_WRONG_KEY", boundKey === ZeroHash ? "the device's binding commits to no ML-DSA key" : "the device's binding commits to another ML-DSA key", {
        device: header.device, boundKeyHash: boundKey, publicKeyHash: prefix.publicKeyHash,
      });
    }
    // What readers check too (sdk/actions/verifyRecordSignature.ts): never store a record they would refuse.
    const boundSince = await devices.pqKeyBoundSince(header.device, header.patient, prefix.publicKeyHash);
    if (header.signedAt + RECORD_SIGNATURE_CLOCK_SKEW_SECONDS < boundSince) {
      throw new RecordSignatureError("RECORD_SIGNATURE_WRONG_KEY", "signed before the key was bound to the device for the patient", { device: header.device, signedAt: header.signedAt, boundSince });
    }

    // Accepted so far: pass everything on, hashing the envelope after the prefix.
    const hash = createHash("sha256");
    let sealedBytes = 0;
    let envelopeStart: Uint8Array = new Uint8Array(0);
    const sealedPart = (chunk: Uint8Array) => {
      hash.update(chunk);
      sealedBytes += chunk.length;
      if (envelopeStart.length < 8) envelopeStart = concat(envelopeStart, chunk.subarray(0, 8 - envelopeStart.length));
    };
    sealedPart(start.bytes.subarray(prefixLength));
    yield start.bytes;
    if (!start.done) {
      for (let next = await source.next(); !next.done; next = await source.next()) {
        sealedPart(next.value);
        yield next.value;
      }
    }
    checkSealedBody(header, `0x${hash.digest("hex")}`, sealedBytes);
    if (!isSealedEnvelope(envelopeStart)) throw new RecordSignatureError("RECORD_SIGNATURE_MALFORMED", "what follows the signature is not a sealed envelope (MCE…)");
  }

  return {
    async *check(upload, chunks) {
      const source = chunks[Symbol.asyncIterator]();
      try {
        yield* check(upload, source);
      } catch (error) {
        throw asRefusal(error, upload);
      } finally {
        // Stopped early (refused, or the store gave up): let the body's own iterator drain the rest.
        await source.return?.();
      }
    },
  };
}

function missingSignature(upload: RecordUpload): RecordSignatureError {
  return new RecordSignatureError("RECORD_SIGNATURE_MISSING", `${getAddress(upload.signer)} is bound with an ML-DSA-65 key: upload its records signed (MCS1)`, { device: getAddress(upload.signer) });
}

/** The protocol's refusal as the gateway's (GATEWAY_<code>, with its HTTP status); other errors unchanged. */
function asRefusal(error: unknown, upload: RecordUpload): unknown {
  if (error instanceof MlDsaKeyError) error = new RecordSignatureError("RECORD_SIGNATURE_MALFORMED", "the header's public key is not an ML-DSA-65 key", { cause: error.shortMessage });
  if (!(error instanceof RecordSignatureError)) return error;
  return new RecordSignatureRefusedError(`GATEWAY_${error.code satisfies RecordSignatureCode}`, error.shortMessage, { blobId: upload.blobId, ...error.details });
}

/** Reads chunks onto `held` until it has `length` bytes or the body ends. */
async function readAtLeast(source: AsyncIterator<Uint8Array>, held: Uint8Array, length: number): Promise<{ bytes: Uint8Array; done: boolean }> {
  let bytes = held;
  while (bytes.length < length) {
    const next = await source.next();
    if (next.done) return { bytes, done: true };
    bytes = concat(bytes, next.value);
  }
  return { bytes, done: false };
}

async function* passThrough(first: Uint8Array, source: AsyncIterator<Uint8Array>, done: boolean): AsyncGenerator<Uint8Array> {
  if (first.length > 0) yield first;
  if (done) return;
  for (let next = await source.next(); !next.done; next = await source.next()) yield next.value;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
