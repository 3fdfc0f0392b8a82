/**
 * Ciphertext blobs (input and result): the header of fhe/blob.ts around one or more SEAL
 * ciphertexts of the same shape, checked in a fixed order — size cap, header, parameter set,
 * shape, count, SEAL metadata — before SEAL parses anything.
 */
import { HEADER_BYTES, payloadOf, readBlobHeader, writeBlob, type BlobHeader, type CodecName, type SlotLayoutName } from "./blob.js";
import { ciphertextLayout, checkSealCiphertext, packCiphertext, unpackCiphertext, type CiphertextShape } from "./ciphertext-codec.js";
import { COLUMN_GROUP_BUCKETS, columnFeatureIndices, columnGroups, MAX_COLUMN_GROUPS } from "./encoding.js";
import { MalformedBlobError, WrongCiphertextShapeError, WrongParameterSetError } from "./errors.js";
import type { ModelArtifact } from "./model.js";
import { slotCount } from "./params.js";
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

/**
 * What an input blob must be: a fresh ciphertext (top level, size 2, the set's input scale) in
 * either slot layout. With the model, exactly what its evaluator accepts (tiled: one ciphertext of
 * at most `readingsPerCiphertext` readings; columns: groups × its travelling features, plus the
 * count ciphertext). Without it (the ingestion firewall, which may not know the model), what any
 * model of the set could send: tiled one ciphertext; columns only the current form (count
 * encrypted, header `readings` 0), groups × f + 1 ciphertexts for any f up to the slot count.
 */
export function inputExpectation(ctx: ParameterContext, model?: Pick<ModelArtifact, "encodingSpec">): CiphertextExpectation {
  const slots = slotCount(ctx.set);
  const shape = { kind: "input", chainIndex: ctx.firstChainIndex, size: 2, scaleLog2: ctx.set.inputScaleLog2 } as const;
  if (model !== undefined) {
    const features = columnFeatureIndices(model.encodingSpec).length;
    return {
      ...shape,
      layouts: {
        tiled: fixedCount(1, model.encodingSpec.layout.readingsPerCiphertext),
        columns: {
          maxReadings: MAX_COLUMN_GROUPS * slots,
          count: (readings) => columnGroups(readings, slots) * features,
          // Current form: a power-of-two number of groups, then the encrypted count.
          maxCount: MAX_COLUMN_GROUPS * features + 1,
          encryptedCount: COLUMN_GROUP_BUCKETS.map((groups) => groups * features + 1),
        },
      },
    };
  }
  const anyFeatures = Array.from({ length: slots }, (_, f) => f + 1);
  return {
    ...shape,
    layouts: {
      tiled: fixedCount(1, slots),
      columns: {
        // The older clear-count form needs the model to know its count: refused here.
        maxReadings: 0,
        count: () => 0,
        maxCount: MAX_COLUMN_GROUPS * slots + 1,
        encryptedCount: COLUMN_GROUP_BUCKETS.flatMap((groups) => anyFeatures.map((features) => groups * features + 1)),
      },
    },
  };
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
    throw new WrongCiphertextShapeError("readings", accepted.maxReadings === 0 ? "0 (encrypted)" : `0 (encrypted) or 1..${accepted.maxReadings}`, header.readings);
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
