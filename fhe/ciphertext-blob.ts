/**
 * Ciphertext blobs (input and result): the header of fhe/blob.ts around SEAL ciphertext bytes,
 * checked in a fixed order — size cap, header, parameter set, binding, shape, SEAL metadata —
 * before SEAL parses anything.
 */
import { HEADER_BYTES, payloadOf, readBlobHeader, writeBlob, type BlobHeader, type CodecName } from "./blob.js";
import { ciphertextLayout, checkSealCiphertext, packCiphertext, unpackCiphertext, type CiphertextShape } from "./ciphertext-codec.js";
import { WrongCiphertextShapeError, WrongParameterSetError } from "./errors.js";
import type { ParameterContext } from "./seal.js";

export type CiphertextBlobKind = "input" | "result";

/** The largest ciphertext blob accepted for a parameter set: two polynomials, fresh level, raw codec. */
export function maxCiphertextBlobBytes(ctx: ParameterContext): number {
  return HEADER_BYTES + ciphertextLayout(ctx, { chainIndex: ctx.firstChainIndex, size: 2, scaleLog2: 0, seeded: false }).totalBytes;
}

export function writeCiphertextBlob(
  ctx: ParameterContext,
  kind: CiphertextBlobKind,
  sealBytes: Uint8Array,
  shape: CiphertextShape,
  options: { codec: CodecName; readings: number; binding: `0x${string}` },
): Uint8Array {
  const layout = ciphertextLayout(ctx, shape);
  const payload = options.codec === "packed" ? packCiphertext(sealBytes, layout) : (checkSealCiphertext(sealBytes, layout), sealBytes);
  return writeBlob(
    {
      kind,
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

export type OpenedCiphertext = { header: BlobHeader; sealBytes: Uint8Array };

/**
 * Checks a ciphertext blob against what the caller expects and returns SEAL bytes safe to load.
 * `seeded` undefined accepts both forms.
 */
export function openCiphertextBlob(
  ctx: ParameterContext,
  blob: Uint8Array,
  expected: { kind: CiphertextBlobKind; chainIndex: number; size: number; scaleLog2: number; maxReadings: number },
): OpenedCiphertext {
  const header = readBlobHeader(blob, expected.kind, maxCiphertextBlobBytes(ctx));
  if (header.paramSetId !== ctx.set.id) throw new WrongParameterSetError(ctx.set.id, header.paramSetId);
  if (header.chainIndex !== expected.chainIndex) throw new WrongCiphertextShapeError("level", expected.chainIndex, header.chainIndex);
  if (header.ciphertextSize !== expected.size) throw new WrongCiphertextShapeError("size", expected.size, header.ciphertextSize);
  if (header.scaleLog2 !== expected.scaleLog2) throw new WrongCiphertextShapeError("scale", `2^${expected.scaleLog2}`, `2^${header.scaleLog2}`);
  if (header.readings < 1 || header.readings > expected.maxReadings) {
    throw new WrongCiphertextShapeError("readings", `1..${expected.maxReadings}`, header.readings);
  }
  const layout = ciphertextLayout(ctx, { chainIndex: header.chainIndex, size: header.ciphertextSize, scaleLog2: header.scaleLog2, seeded: header.seeded });
  const payload = payloadOf(blob);
  if (header.codec === "packed") return { header, sealBytes: unpackCiphertext(payload, layout) };
  checkSealCiphertext(payload, layout);
  return { header, sealBytes: payload };
}
