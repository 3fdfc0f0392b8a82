/**
 * Size buckets: what MedCipher pads encrypted payloads to, so a blob's size tells an observer
 * (the gateway, its disk, the wire) a bucket and not a count of readings (≈ 975 B per FHIR
 * reading before padding).
 *
 * Buckets: 4 KiB × 4^k (4 KiB, 16 KiB, 64 KiB, 256 KiB, 1 MiB, 4 MiB), then whole multiples of
 * 4 MiB. A bundle of one reading and one of four fill the same 4 KiB; the default 50-reading
 * record fills 64 KiB. Padding costs at most ×4 below 4 MiB (the price of "a few" buckets: each
 * bucket hides a factor of four in the count) and under 4 MiB above it.
 *
 * Form (ISO/IEC 7816-4): `data ‖ 0x80 ‖ 0x00 …` up to the bucket. It is applied to plaintext
 * inside an authenticated encryption (AES-GCM), so it cannot be altered without failing
 * authentication; `unpadFromBucket` still checks it exactly — the length is a bucket, the last
 * non-zero byte is 0x80 — and throws PaddingError for anything else (a buggy or hostile writer
 * that encrypted wrong padding), never returning a guess.
 */
import { BaseError } from "./errors.js";

export const SMALLEST_BUCKET_BYTES = 4 * 1024;
export const BUCKET_GROWTH = 4;
/** Above this, buckets are its multiples (a ×4 step would waste tens of MiB). */
export const LARGEST_GEOMETRIC_BUCKET_BYTES = 4 * 1024 * 1024;

export class PaddingError extends BaseError {
  override name = "PaddingError";
  constructor(reason: string, details: Record<string, unknown> = {}) {
    super(`Bad size-bucket padding: ${reason}`, { code: "CORE_BAD_PADDING", details: { reason, ...details } });
  }
}

/** The bucket a payload of `length` bytes plus its one-byte pad marker is padded to. */
export function bucketLength(length: number): number {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError("length must be a non-negative integer");
  const needed = length + 1;
  let bucket = SMALLEST_BUCKET_BYTES;
  while (bucket < needed && bucket < LARGEST_GEOMETRIC_BUCKET_BYTES) bucket *= BUCKET_GROWTH;
  if (bucket >= needed) return bucket;
  return Math.ceil(needed / LARGEST_GEOMETRIC_BUCKET_BYTES) * LARGEST_GEOMETRIC_BUCKET_BYTES;
}

export function isBucketLength(length: number): boolean {
  return length >= SMALLEST_BUCKET_BYTES && bucketLength(length - 1) === length;
}

/** `data ‖ 0x80 ‖ 0x00 …`, as long as its bucket. */
export function padToBucket(data: Uint8Array): Uint8Array {
  const padded = new Uint8Array(bucketLength(data.length));
  padded.set(data, 0);
  padded[data.length] = 0x80;
  return padded;
}

/** The data inside a padded payload (a view, no copy); PaddingError unless the padding is exact. */
export function unpadFromBucket(padded: Uint8Array): Uint8Array {
  if (!isBucketLength(padded.length)) throw new PaddingError("length is not a size bucket", { length: padded.length });
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (end < 0 || padded[end] !== 0x80) throw new PaddingError("no 0x80 marker before the zero fill");
  // The data must need this bucket: a smaller one would have held it (else the size says more).
  if (bucketLength(end) !== padded.length) throw new PaddingError("padded to a larger bucket than its data needs", { length: padded.length, data: end });
  return padded.subarray(0, end);
}
