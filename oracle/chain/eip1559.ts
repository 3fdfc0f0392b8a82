import { keccak256, type SigningKey } from "ethers";

import { hexToBytes } from "../../core/hex.js";

/** The fields of a fulfilment transaction (EIP-1559, no value, empty access list). */
export type Eip1559Fields = {
  chainId: bigint;
  nonce: number;
  maxPriorityFeePerGas: bigint;
  maxFeePerGas: bigint;
  gasLimit: bigint;
  /** 0x-prefixed 20-byte address. */
  to: string;
  /** 0x-prefixed calldata. */
  data: string;
};

/**
 * Signs an EIP-1559 transaction by encoding its RLP directly: ethers' `Transaction` costs about
 * 1.3 ms of object building, hex parsing and re-encoding per transaction on top of the 0.7 ms of
 * ECDSA, and a burst signs hundreds. The output is byte-for-byte what ethers produces (a test
 * parses it back with `Transaction.from`).
 */
export function signEip1559(fields: Eip1559Fields, signingKey: SigningKey): { raw: string; hash: string } {
  const body = [
    uintBytes(fields.chainId), uintBytes(BigInt(fields.nonce)), uintBytes(fields.maxPriorityFeePerGas), uintBytes(fields.maxFeePerGas),
    uintBytes(fields.gasLimit), hexToBytes(fields.to, 20), EMPTY, hexToBytes(fields.data),
  ];
  const encodedBody = [...body.map(rlpString), EMPTY_LIST];
  const unsigned = typed(rlpList(encodedBody));
  const signature = signingKey.sign(keccak256(unsigned));
  const signedTx = typed(rlpList([
    ...encodedBody,
    rlpString(uintBytes(BigInt(signature.yParity))), rlpString(trimmed(hexToBytes(signature.r))), rlpString(trimmed(hexToBytes(signature.s))),
  ]));
  return { raw: `0x${Buffer.from(signedTx).toString("hex")}`, hash: keccak256(signedTx) };
}

const EMPTY = new Uint8Array(0);
/** RLP of an empty list (the access list). */
const EMPTY_LIST = Uint8Array.of(0xc0);

/** Big-endian, no leading zeros (RLP integers); zero is the empty string. */
function uintBytes(value: bigint): Uint8Array {
  if (value < 0n) throw new RangeError("negative integer");
  if (value === 0n) return EMPTY;
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  return Buffer.from(hex, "hex");
}

function trimmed(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length && bytes[start] === 0) start++;
  return bytes.subarray(start);
}

function lengthPrefix(length: number, short: number, long: number): Uint8Array {
  if (length < 56) return Uint8Array.of(short + length);
  const size = uintBytes(BigInt(length));
  return Uint8Array.of(long + size.length, ...size);
}

function rlpString(bytes: Uint8Array): Uint8Array {
  if (bytes.length === 1 && bytes[0]! < 0x80) return bytes;
  return concatBytes([lengthPrefix(bytes.length, 0x80, 0xb7), bytes]);
}

function rlpList(items: Uint8Array[]): Uint8Array {
  const payload = concatBytes(items);
  return concatBytes([lengthPrefix(payload.length, 0xc0, 0xf7), payload]);
}

/** 0x02 ‖ payload: the EIP-2718 envelope of an EIP-1559 transaction. */
function typed(payload: Uint8Array): Uint8Array {
  return concatBytes([Uint8Array.of(2), payload]);
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
