/**
 * SEAL 4.1 ciphertext bytes, checked and (un)packed without SEAL.
 *
 * A CKKS ciphertext saved with compression "none" is fully predictable from the parameter set,
 * its level and its form (full or seeded): 113 bytes of metadata (SEAL header, parms_id, NTT
 * flag, size, N, modulus count, scale, correction factor, data-array header and count), then
 * 64-bit coefficient words, then — when seeded — an 81-byte PRNG-seed record. The evaluator
 * compares the metadata byte for byte with the only acceptable value before SEAL parses
 * anything, so a crafted length or count never reaches WebAssembly memory.
 *
 * Coefficients are below a prime of at most `bits` bits, so the high 64 − bits bits of each word
 * are zero: the packed codec stores the low 32 bits as is and the remaining `bits − 32` bits
 * bit-packed (54-bit words → 27 KiB instead of 32 KiB at N=2048). Lossless, deterministic, pure JS.
 */
import { MalformedBlobError } from "./errors.js";
import type { ParameterContext } from "./seal.js";

const SEAL_MAGIC = [0x5e, 0xa1, 0x10, 0x04, 0x01, 0x00, 0x00, 0x00]; // magic A15E, header 16 B, SEAL 4.1, compression none
const METADATA_BYTES = 113;
const SEED_RECORD_BYTES = 81;
const PRNG_BLAKE2XB = 1;

export type CiphertextShape = { chainIndex: number; size: number; scaleLog2: number; seeded: boolean };

export type CiphertextLayout = {
  metadata: Uint8Array;
  words: number;
  totalBytes: number;
  suffixBytes: number;
  packedBytes: number;
  bits: number;
};

const layouts = new WeakMap<ParameterContext, Map<string, CiphertextLayout>>();

/** The exact SEAL serialisation layout of a ciphertext of this shape (cached per context). */
export function ciphertextLayout(ctx: ParameterContext, shape: CiphertextShape): CiphertextLayout {
  const key = `${shape.chainIndex}/${shape.size}/${shape.scaleLog2}/${shape.seeded}`;
  let perContext = layouts.get(ctx);
  if (perContext === undefined) layouts.set(ctx, (perContext = new Map()));
  const cached = perContext.get(key);
  if (cached !== undefined) return cached;

  const parmsId = ctx.parmsIdBytes.get(shape.chainIndex);
  if (parmsId === undefined) throw new MalformedBlobError("no such level", { chainIndex: shape.chainIndex });
  const n = ctx.set.polyModulusDegree;
  const moduli = shape.chainIndex + 1; // chain index 0 keeps one prime; each level above adds one
  const { metadata, words, totalBytes, suffixBytes } = sealCiphertextMetadata(parmsId, { n, moduli, size: shape.size, scale: 2 ** shape.scaleLog2, seeded: shape.seeded });
  const bits = ctx.maxDataPrimeBits;
  // The packing loops keep their bit accumulator in 32-bit integers: at most 24 high bits per word.
  if (bits <= 32 || bits > 56) throw new RangeError(`packing supports 33..56-bit primes, not ${bits}`);
  const layout: CiphertextLayout = {
    metadata,
    words,
    totalBytes,
    suffixBytes,
    bits,
    packedBytes: METADATA_BYTES + words * 4 + Math.ceil((words * (bits - 32)) / 8) + suffixBytes,
  };
  perContext.set(key, layout);
  return layout;
}

/**
 * The 113 metadata bytes SEAL writes before a CKKS ciphertext's coefficients (a public key is one
 * such ciphertext too, at the key level with scale 1), with the word count and total size.
 */
export function sealCiphertextMetadata(
  parmsId: Uint8Array,
  shape: { n: number; moduli: number; size: number; scale: number; seeded: boolean },
): { metadata: Uint8Array; words: number; totalBytes: number; suffixBytes: number } {
  const words = shape.n * shape.moduli * (shape.seeded ? 1 : shape.size);
  const suffixBytes = shape.seeded ? SEED_RECORD_BYTES : 0;
  const totalBytes = METADATA_BYTES + words * 8 + suffixBytes;
  const metadata = new Uint8Array(METADATA_BYTES);
  const view = new DataView(metadata.buffer);
  metadata.set(SEAL_MAGIC, 0);
  view.setBigUint64(8, BigInt(totalBytes), true);
  metadata.set(parmsId, 16);
  metadata[48] = 1; // NTT form
  view.setBigUint64(49, BigInt(shape.size), true);
  view.setBigUint64(57, BigInt(shape.n), true);
  view.setBigUint64(65, BigInt(shape.moduli), true);
  view.setFloat64(73, shape.scale, true);
  view.setBigUint64(81, 1n, true); // correction factor (BGV only; 1 in CKKS)
  metadata.set(SEAL_MAGIC, 89);
  view.setBigUint64(97, BigInt(16 + 8 + words * 8), true);
  view.setBigUint64(105, BigInt(words), true);
  return { metadata, words, totalBytes, suffixBytes };
}

/** Checks SEAL ciphertext bytes against the layout (metadata and seed record byte for byte). */
export function checkSealCiphertext(bytes: Uint8Array, layout: CiphertextLayout): void {
  if (bytes.length !== layout.totalBytes) throw new MalformedBlobError("ciphertext length", { expected: layout.totalBytes, actual: bytes.length });
  for (let i = 0; i < METADATA_BYTES; i++) {
    if (bytes[i] !== layout.metadata[i]) throw new MalformedBlobError("ciphertext metadata differs from the expected", { offset: i });
  }
  if (layout.suffixBytes > 0) checkSeedRecord(bytes.subarray(bytes.length - SEED_RECORD_BYTES));
}

export function checkSeedRecord(record: Uint8Array): void {
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  const ok = SEAL_MAGIC.every((b, i) => record[i] === b) && view.getBigUint64(8, true) === BigInt(SEED_RECORD_BYTES) && record[16] === PRNG_BLAKE2XB;
  if (!ok) throw new MalformedBlobError("seed record differs from the expected");
}

/**
 * A fresh, aligned copy of `bytes[start, end)`. Not `bytes.slice()`: on a Node Buffer (a
 * Uint8Array subclass) slice() is a view into a shared pool, so `.buffer` would be the whole pool
 * and the words read from it someone else's bytes — a wrong result with no error.
 */
function copyOf(bytes: Uint8Array, start: number, end: number): Uint8Array {
  const copy = new Uint8Array(end - start);
  copy.set(bytes.subarray(start, end));
  return copy;
}

/** SEAL bytes → packed bytes (the client and the evaluator call this on SEAL's own output). */
export function packCiphertext(bytes: Uint8Array, layout: CiphertextLayout): Uint8Array {
  checkSealCiphertext(bytes, layout);
  const highBits = layout.bits - 32;
  const out = new Uint8Array(layout.packedBytes);
  out.set(bytes.subarray(0, METADATA_BYTES), 0);
  // Aligned copies: the coefficient words start at byte 113 of SEAL's output.
  const words = new Uint32Array(copyOf(bytes, METADATA_BYTES, METADATA_BYTES + layout.words * 8).buffer);
  const low = new Uint32Array(layout.words);
  let position = METADATA_BYTES + layout.words * 4;
  let accumulator = 0;
  let accumulated = 0;
  for (let i = 0; i < layout.words; i++) {
    low[i] = words[2 * i] as number;
    const high = words[2 * i + 1] as number;
    if (high >>> highBits !== 0) throw new MalformedBlobError("coefficient wider than the modulus");
    accumulator |= high << accumulated; // accumulated ≤ 7 and high < 2^24: stays below 2^31
    accumulated += highBits;
    while (accumulated >= 8) {
      out[position++] = accumulator & 0xff;
      accumulator >>>= 8;
      accumulated -= 8;
    }
  }
  if (accumulated > 0) out[position++] = accumulator;
  out.set(new Uint8Array(low.buffer), METADATA_BYTES);
  out.set(bytes.subarray(bytes.length - layout.suffixBytes), position);
  return out;
}

/** Packed bytes → SEAL bytes, checking metadata, padding bits and seed record on the way. */
export function unpackCiphertext(packed: Uint8Array, layout: CiphertextLayout): Uint8Array {
  if (packed.length !== layout.packedBytes) throw new MalformedBlobError("packed ciphertext length", { expected: layout.packedBytes, actual: packed.length });
  for (let i = 0; i < METADATA_BYTES; i++) {
    if (packed[i] !== layout.metadata[i]) throw new MalformedBlobError("ciphertext metadata differs from the expected", { offset: i });
  }
  const highBits = layout.bits - 32;
  const highMask = (1 << highBits) - 1;
  const low = new Uint32Array(copyOf(packed, METADATA_BYTES, METADATA_BYTES + layout.words * 4).buffer);
  const words = new Uint32Array(layout.words * 2);
  let position = METADATA_BYTES + layout.words * 4;
  let accumulator = 0;
  let accumulated = 0;
  for (let i = 0; i < layout.words; i++) {
    while (accumulated < highBits) {
      accumulator |= (packed[position++] as number) << accumulated; // accumulated < 24: below 2^31
      accumulated += 8;
    }
    words[2 * i] = low[i] as number;
    words[2 * i + 1] = accumulator & highMask;
    accumulator >>>= highBits;
    accumulated -= highBits;
  }
  if (accumulator !== 0) throw new MalformedBlobError("non-zero padding bits");
  const suffix = packed.subarray(position);
  if (suffix.length !== layout.suffixBytes) throw new MalformedBlobError("packed ciphertext length");
  if (layout.suffixBytes > 0) checkSeedRecord(suffix);
  const bytes = new Uint8Array(layout.totalBytes);
  bytes.set(layout.metadata, 0);
  bytes.set(new Uint8Array(words.buffer), METADATA_BYTES);
  bytes.set(suffix, METADATA_BYTES + layout.words * 8);
  return bytes;
}
