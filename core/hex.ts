/**
 * `0x`-hex to bytes, decoded natively (ethers' `getBytes` parses in JavaScript, which the
 * gateway's and the oracle's per-request hashing and signing felt). Refuses odd lengths, non-hex
 * characters and, when `length` is given, any other byte length: Buffer's own decoder would
 * silently stop at the first bad character.
 */
export function hexToBytes(hex: string, length?: number): Uint8Array {
  if (!/^0x([0-9a-fA-F]{2})*$/.test(hex)) throw new TypeError(`Not 0x-prefixed hex bytes: ${hex.slice(0, 20)}`);
  const bytes = Buffer.from(hex.slice(2), "hex");
  if (length !== undefined && bytes.length !== length) throw new TypeError(`Expected ${length} bytes, got ${bytes.length}.`);
  return bytes;
}
