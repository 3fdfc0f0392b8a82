import { hexStringToBytes } from "./bytes.js";

/**
 * `0x`-hex to bytes. Refuses a missing prefix, odd lengths, non-hex characters and, when
 * `length` is given, any other byte length: Buffer's decoder would silently stop at the first
 * bad character. (ethers' `getBytes` is slower and was felt in the gateway's and the oracle's
 * per-request hashing and signing; this one decodes through a table, in browsers too.)
 */
export function hexToBytes(hex: string, length?: number): Uint8Array<ArrayBuffer> {
  if (!hex.startsWith("0x")) throw new TypeError(`Not 0x-prefixed hex bytes: ${hex.slice(0, 20)}`);
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = hexStringToBytes(hex.slice(2));
  } catch {
    throw new TypeError(`Not 0x-prefixed hex bytes: ${hex.slice(0, 20)}`);
  }
  if (length !== undefined && bytes.length !== length) throw new TypeError(`Expected ${length} bytes, got ${bytes.length}.`);
  return bytes;
}
