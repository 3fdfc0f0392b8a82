/**
 * Byte helpers on plain `Uint8Array`, identical in browsers and Node: UTF-8, base64, base64url,
 * hex and concatenation. Node's `Buffer` is not available in a browser, and a polyfill of it is
 * what the SDK's browser bundle must not need (issue 11). Decoders are strict: a character
 * outside the alphabet, or a length no encoder produces, throws a TypeError instead of being
 * skipped as Buffer's decoders do.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function utf8ToBytes(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(text);
}

/** Throws a TypeError on bytes that are not UTF-8 (Buffer would substitute U+FFFD silently). */
export function bytesToUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const HEX_DIGITS = "0123456789abcdef";
const BYTE_HEX = Array.from({ length: 256 }, (_, b) => HEX_DIGITS[b >> 4]! + HEX_DIGITS[b & 15]!);

/** Lower-case hex, no prefix. */
export function bytesToHexString(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += BYTE_HEX[bytes[i]!]!;
  return out;
}

/** Value of one hex digit's char code, or -1. */
function nibble(code: number): number {
  if (code >= 48 && code <= 57) return code - 48; // 0-9
  if (code >= 97 && code <= 102) return code - 87; // a-f
  if (code >= 65 && code <= 70) return code - 55; // A-F
  return -1;
}

/** Hex digits (no prefix, either case) to bytes; TypeError on an odd length or a non-hex digit. */
export function hexStringToBytes(digits: string): Uint8Array<ArrayBuffer> {
  if (digits.length % 2 !== 0) throw new TypeError(`Odd number of hex digits (${digits.length}).`);
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) {
    const high = nibble(digits.charCodeAt(2 * i));
    const low = nibble(digits.charCodeAt(2 * i + 1));
    if (high < 0 || low < 0) throw new TypeError(`Not a hex digit at position ${high < 0 ? 2 * i : 2 * i + 1}.`);
    out[i] = high * 16 + low;
  }
  return out;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const decodeTable = (alphabet: string) => {
  const table = new Int16Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
};
const B64_TABLE = decodeTable(B64);
const B64URL_TABLE = decodeTable(B64URL);

function encode(bytes: Uint8Array, alphabet: string, pad: boolean): string {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + alphabet[(n >> 6) & 63]! + alphabet[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + (pad ? "==" : "");
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + alphabet[(n >> 6) & 63]! + (pad ? "=" : "");
  }
  return out;
}

function decode(text: string, table: Int16Array, name: string): Uint8Array<ArrayBuffer> {
  const body = text.replace(/={1,2}$/, "");
  if (body.length % 4 === 1 || (body.length !== text.length && text.length % 4 !== 0)) throw new TypeError(`Not ${name}: impossible length ${text.length}.`);
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let o = 0;
  for (let i = 0; i < body.length; i++) {
    const code = body.charCodeAt(i);
    const digit = code < 128 ? table[code]! : -1;
    if (digit < 0) throw new TypeError(`Not ${name}: unexpected character at position ${i}.`);
    value = (value << 6) | digit;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (value >> bits) & 0xff;
    }
  }
  return out;
}

/** Standard base64 with padding (RFC 4648 §4), as Buffer's "base64" writes it. */
export function bytesToBase64(bytes: Uint8Array): string {
  return encode(bytes, B64, true);
}

/** Standard base64, padding optional. */
export function base64ToBytes(text: string): Uint8Array<ArrayBuffer> {
  return decode(text, B64_TABLE, "base64");
}

/** URL-safe base64 without padding (RFC 4648 §5), as Buffer's "base64url" writes it. */
export function bytesToBase64Url(bytes: Uint8Array): string {
  return encode(bytes, B64URL, false);
}

/** URL-safe base64, padding optional. */
export function base64UrlToBytes(text: string): Uint8Array<ArrayBuffer> {
  return decode(text, B64URL_TABLE, "base64url");
}
