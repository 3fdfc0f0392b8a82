/**
 * Ciphertext blobs (input and result): the header of fhe/blob.ts around one or more SEAL
 * ciphertexts of the same shape, checked in a fixed order — size cap, header, parameter set,
 * shape, count, SEAL metadata — before SEAL parses anything.
 */
import { HEADER_BYTES, payloadOf, readBlobHeader, writeBlob, type BlobHeader, type CodecName, type SlotLayoutName } from "./blob.js";
import { ciphertextLayout, checkSealCiphertext, packCiphertext, unpackCiphertext, type CiphertextShape } from "./ciphertext-codec.js";
import { MalformedBlobError, WrongCiphertextShapeError, WrongParameterSetError } from "./errors.js";
import type { ParameterContext } from "./seal.js";

export type CiphertextBlobKind = "input" | "result";

/** Largest accepted blob holding `count` ciphertexts: two polynomials each, fresh level, raw codec. */
export function maxCiphertextBlobBytes(ctx: ParameterContext, count = 1): number {
  return HEADER_BYTES + count * ciphertextLayout(ctx, { chainIndex: ctx.firstChainIndex, size: 2, scaleLog2: 0, seeded: false }).totalBytes;
}

export function writeCiphertextBlob(
  ctx: ParameterContext,
  kind: CiphertextBlobKind,
  ciphertexts: readonly Uint8Array[],
  shape: CiphertextShape,
  options: { codec: CodecName; readings: number; binding: `0x${string}`; layout?: SlotLayoutName },
): Uint8Array {
  const layout = ciphertextLayout(ctx, shape);
  const encoded = ciphertexts.map((bytes) => (options.codec === "packed" ? packCiphertext(bytes, layout) : (checkSealCiphertext(bytes, layout), bytes)));
  const payload = new Uint8Array(encoded.reduce((n, e) => n + e.length, 0));
  let offset = 0;
  for (const part of encoded) {
    payload.set(part, offset);
    offset += part.length;
  }
  return writeBlob(
    {
      kind,
      layout: options.layout ?? "tiled",
      codec: options.codec,
      seeded: shape.seeded,
      paramSetId: ctx.set.id,
      chainIndex: shape.chainIndex,
      ciphertextSize: shape.size,
      scaleLog2: shape.scaleLog2,
      readings: options.readings,
      binding: options.binding,
    },
    payload,
  );
}

export type OpenedCiphertexts = { header: BlobHeader; ciphertexts: Uint8Array[] };

/**
 * What a caller accepts, per slot layout: how many readings at most, and how many ciphertexts a
 * blob with a given number of readings holds (`maxCount` bounds the blob before its header is read).
 * A header with `readings` 0 is the current form: the count travels encrypted (fhe/encoding.ts),
 * and the blob holds one of the `encryptedCount` numbers of ciphertexts (its size bucket).
 * A non-zero `readings` is the older form with the count in clear, still read.
 */
export type LayoutExpectation = { maxReadings: number; count: (readings: number) => number; maxCount: number; encryptedCount: readonly number[] };

export type CiphertextExpectation = {
  kind: CiphertextBlobKind;
  chainIndex: number;
  size: number;
  scaleLog2: number;
  layouts: Partial<Record<SlotLayoutName, LayoutExpectation>>;
};

/** A layout that always holds `count` ciphertexts. */
export function fixedCount(count: number, maxReadings: number): LayoutExpectation {
  return { maxReadings, count: () => count, maxCount: count, encryptedCount: [count] };
}

/** Checks a ciphertext blob against what the caller expects and returns SEAL bytes safe to load. */
export function openCiphertextBlob(ctx: ParameterContext, blob: Uint8Array, expected: CiphertextExpectation): OpenedCiphertexts {
  const maxCount = Math.max(...Object.values(expected.layouts).map((l) => l.maxCount));
  const header = readBlobHeader(blob, expected.kind, maxCiphertextBlobBytes(ctx, maxCount));
  if (header.paramSetId !== ctx.set.id) throw new WrongParameterSetError(ctx.set.id, header.paramSetId);
  const accepted = expected.layouts[header.layout];
  if (accepted === undefined) throw new WrongCiphertextShapeError("slot layout", Object.keys(expected.layouts).join(" or "), header.layout);
  if (header.chainIndex !== expected.chainIndex) throw new WrongCiphertextShapeError("level", expected.chainIndex, header.chainIndex);
  if (header.ciphertextSize !== expected.size) throw new WrongCiphertextShapeError("size", expected.size, header.ciphertextSize);
  if (header.scaleLog2 !== expected.scaleLog2) throw new WrongCiphertextShapeError("scale", `2^${expected.scaleLog2}`, `2^${header.scaleLog2}`);
  if (header.readings > accepted.maxReadings) {
    throw new WrongCiphertextShapeError("readings", `0 (encrypted) or 1..${accepted.maxReadings}`, header.readings);
  }
  const layout = ciphertextLayout(ctx, { chainIndex: header.chainIndex, size: header.ciphertextSize, scaleLog2: header.scaleLog2, seeded: header.seeded });
  const each = header.codec === "packed" ? layout.packedBytes : layout.totalBytes;
  const payload = payloadOf(blob);
  let count: number;
  if (header.readings === 0) {
    count = payload.length / each;
    if (!accepted.encryptedCount.includes(count)) {
      throw new MalformedBlobError("payload is not one of the accepted numbers of ciphertexts", { accepted: accepted.encryptedCount, bytes: payload.length, each });
    }
  } else count = accepted.count(header.readings);
  if (payload.length !== each * count) {
    throw new MalformedBlobError("payload is not the expected number of ciphertexts", { expected: each * count, actual: payload.length });
  }
  const ciphertexts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const part = payload.subarray(i * each, (i + 1) * each);
    if (header.codec === "packed") ciphertexts.push(unpackCiphertext(part, layout));
    else {
      checkSealCiphertext(part, layout);
      ciphertexts.push(part);
    }
  }
  return { header, ciphertexts };
}
