/**
 * The MedCipher FHE blob: a fixed 96-byte header MedCipher checks before SEAL sees a byte, then
 * a payload. Every blob is named by its SHA-256.
 *
 * ```
 * offset size field
 *      0    4 magic "MCHE"
 *      4    1 format version (1)
 *      5    1 kind: 1 input ciphertext, 2 result ciphertext, 3 evaluation keys, 4 encrypted secret key
 *      6    1 codec: 0 SEAL bytes as saved (compression none), 1 SEAL bytes with coefficients bit-packed
 *      7    1 flags: bit 0 = seeded ciphertext (second polynomial replaced by a PRNG seed)
 *      8   32 parameter-set id, ASCII, zero-padded (a bytes32)
 *     40    1 chain index (level) of the ciphertext; 0 for keys
 *     41    1 ciphertext size (polynomials); 0 for keys
 *     42    1 log2 of the ciphertext scale; 0 for keys
 *     43    1 slot layout: 0 tiled (one ciphertext, tuples side by side), 1 columns (one ciphertext per feature / score)
 *     44    4 readings in the ciphertext (u32 LE); 0 for keys
 *     48   32 binding: input → the model's encodingSpecHash; result → SHA-256 of the input blob; else 0
 *     80    4 payload length (u32 LE)
 *     84   12 reserved, 0
 *     96    … payload
 * ```
 * A ciphertext payload holds one ciphertext (tiled) or several of the same shape back to back
 * (columns); their number follows from the model, so the payload length is exact.
 */
import { MalformedBlobError, BlobTooLargeError, UnsupportedBlobVersionError, WrongBlobKindError } from "./errors.js";

export const HEADER_BYTES = 96;
export const FORMAT_VERSION = 1;
const MAGIC = [0x4d, 0x43, 0x48, 0x45]; // "MCHE"

/** No blob of any kind may exceed this; checked before anything else is read. */
export const ABSOLUTE_MAX_BLOB_BYTES = 64 * 1024 * 1024;

export const BlobKind = { input: 1, result: 2, evaluationKeys: 3, secretKey: 4 } as const;
export type BlobKindName = keyof typeof BlobKind;

export const Codec = { raw: 0, packed: 1 } as const;
export type CodecName = keyof typeof Codec;

export const SlotLayoutKind = { tiled: 0, columns: 1 } as const;
export type SlotLayoutName = keyof typeof SlotLayoutKind;

export type BlobHeader = {
  kind: BlobKindName;
  layout: SlotLayoutName;
  codec: CodecName;
  seeded: boolean;
  paramSetId: string;
  chainIndex: number;
  ciphertextSize: number;
  scaleLog2: number;
  readings: number;
  /** 32 bytes, 0x-hex. */
  binding: `0x${string}`;
  payloadLength: number;
};

const ZERO_BINDING = `0x${"00".repeat(32)}` as const;

export function writeBlob(
  header: Omit<BlobHeader, "payloadLength" | "binding" | "layout"> & { binding?: `0x${string}`; layout?: SlotLayoutName },
  payload: Uint8Array,
): Uint8Array {
  const blob = new Uint8Array(HEADER_BYTES + payload.length);
  const view = new DataView(blob.buffer);
  blob.set(MAGIC, 0);
  blob[4] = FORMAT_VERSION;
  blob[5] = BlobKind[header.kind];
  blob[6] = Codec[header.codec];
  blob[7] = header.seeded ? 1 : 0;
  const id = new TextEncoder().encode(header.paramSetId);
  if (id.length > 32 || /[^\x21-\x7e]/.test(header.paramSetId)) throw new TypeError("paramSetId must be ≤ 32 printable ASCII bytes");
  blob.set(id, 8);
  blob[40] = header.chainIndex;
  blob[41] = header.ciphertextSize;
  blob[42] = header.scaleLog2;
  blob[43] = SlotLayoutKind[header.layout ?? "tiled"];
  view.setUint32(44, header.readings, true);
  blob.set(hexToBytes(header.binding ?? ZERO_BINDING), 48);
  view.setUint32(80, payload.length, true);
  blob.set(payload, HEADER_BYTES);
  return blob;
}

/**
 * Reads and checks the header: size cap, magic, version, kind, reserved bytes, payload length.
 * Pass `expectedKind` to reject other kinds. Never touches the payload.
 */
export function readBlobHeader(blob: Uint8Array, expectedKind?: BlobKindName, maxBytes = ABSOLUTE_MAX_BLOB_BYTES): BlobHeader {
  if (!(blob instanceof Uint8Array)) throw new MalformedBlobError("not a byte array");
  if (blob.length > maxBytes) throw new BlobTooLargeError({ bytes: blob.length, maxBytes, ...(expectedKind ? { kind: expectedKind } : {}) });
  if (blob.length < HEADER_BYTES) throw new MalformedBlobError("shorter than the header", { bytes: blob.length });
  if (MAGIC.some((byte, i) => blob[i] !== byte)) throw new MalformedBlobError("bad magic");
  if (blob[4] !== FORMAT_VERSION) throw new UnsupportedBlobVersionError(blob[4] as number);
  const kind = (Object.keys(BlobKind) as BlobKindName[]).find((name) => BlobKind[name] === blob[5]);
  if (kind === undefined) throw new MalformedBlobError("unknown kind", { kind: blob[5] });
  if (expectedKind !== undefined && kind !== expectedKind) throw new WrongBlobKindError(expectedKind, kind);
  const codec = (Object.keys(Codec) as CodecName[]).find((name) => Codec[name] === blob[6]);
  if (codec === undefined) throw new MalformedBlobError("unknown codec", { codec: blob[6] });
  if ((blob[7] as number) > 1) throw new MalformedBlobError("unknown flags");
  if (blob.subarray(84, 96).some((b) => b !== 0)) throw new MalformedBlobError("reserved bytes set");
  const layout = (Object.keys(SlotLayoutKind) as SlotLayoutName[]).find((name) => SlotLayoutKind[name] === blob[43]);
  if (layout === undefined) throw new MalformedBlobError("unknown slot layout", { layout: blob[43] });
  const idBytes = blob.subarray(8, 40);
  const idLength = idBytes.indexOf(0) === -1 ? 32 : idBytes.indexOf(0);
  if (idBytes.subarray(idLength).some((b) => b !== 0) || idBytes.subarray(0, idLength).some((b) => b < 0x21 || b > 0x7e)) {
    throw new MalformedBlobError("parameter-set id is not zero-padded printable ASCII");
  }
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const payloadLength = view.getUint32(80, true);
  if (payloadLength !== blob.length - HEADER_BYTES) {
    throw new MalformedBlobError("payload length disagrees with the blob size", { declared: payloadLength, actual: blob.length - HEADER_BYTES });
  }
  return {
    kind,
    layout,
    codec,
    seeded: blob[7] === 1,
    paramSetId: new TextDecoder().decode(idBytes.subarray(0, idLength)),
    chainIndex: blob[40] as number,
    ciphertextSize: blob[41] as number,
    scaleLog2: blob[42] as number,
    readings: view.getUint32(44, true),
    binding: bytesToHex(blob.subarray(48, 80)),
    payloadLength,
  };
}

export function payloadOf(blob: Uint8Array): Uint8Array {
  return blob.subarray(HEADER_BYTES);
}

export function hexToBytes(hex: `0x${string}`): Uint8Array {
  if (!/^0x([0-9a-f]{2})*$/.test(hex)) throw new TypeError("expected 0x-prefixed lowercase hex");
  return Uint8Array.from(hex.slice(2).match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

export function bytesToHex(bytes: Uint8Array): `0x${string}` {
  let hex = "0x";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex as `0x${string}`;
}
