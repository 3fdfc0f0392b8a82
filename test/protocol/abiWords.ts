/**
 * A second, hand-written ABI encoder for the formula tests: head words and tails as the Solidity
 * ABI spec lays them out, hashed with @noble/hashes' keccak. The code under test encodes with
 * ethers' AbiCoder; agreeing with this one means both read the spec the same way, not that one
 * function agrees with itself. (The contracts' own views are the final word: see the EDR test.)
 */
import { keccak_256 } from "@noble/hashes/sha3.js";

import { bytesToHexString, concatBytes, hexStringToBytes, utf8ToBytes } from "../../core/bytes.js";

export type AbiArg = ["uint", bigint | number] | ["address", string] | ["bytes32", string] | ["string", string];

function word(value: bigint): Uint8Array {
  return hexStringToBytes(value.toString(16).padStart(64, "0"));
}

/** abi.encode(args…). */
export function abiEncode(args: readonly AbiArg[]): Uint8Array {
  const heads: Uint8Array[] = [];
  const tails: Uint8Array[] = [];
  let tailOffset = 32 * args.length;
  for (const [type, value] of args) {
    if (type === "string") {
      const bytes = utf8ToBytes(value as string);
      const padded = new Uint8Array(Math.ceil(bytes.length / 32) * 32);
      padded.set(bytes);
      heads.push(word(BigInt(tailOffset)));
      const tail = concatBytes(word(BigInt(bytes.length)), padded);
      tails.push(tail);
      tailOffset += tail.length;
    } else if (type === "uint") {
      heads.push(word(BigInt(value)));
    } else {
      heads.push(word(BigInt(value as string)));
    }
  }
  return concatBytes(...heads, ...tails);
}

/** abi.encodePacked(address, uint256). */
export function packedAddressUint(address: string, value: bigint): Uint8Array {
  return concatBytes(hexStringToBytes(address.slice(2).toLowerCase()), word(value));
}

export function keccakHex(bytes: Uint8Array): string {
  return `0x${bytesToHexString(keccak_256(bytes))}`;
}

export function keccakBig(bytes: Uint8Array): bigint {
  return BigInt(keccakHex(bytes));
}
