import { createHash } from "node:crypto";

/**
 * Every stored object (ciphertext, evaluation keys, record, result) is named by the SHA-256 of
 * its bytes. SHA-256 costs under 1 ms per MiB here; ethers' keccak256 costs ~68 ms, so keccak is
 * kept for small EVM-facing values only.
 */
export type Sha256Hex = `0x${string}`;

export function sha256Hex(bytes: Uint8Array): Sha256Hex {
  return `0x${createHash("sha256").update(bytes).digest("hex")}`;
}

export function isSha256Hex(value: string): value is Sha256Hex {
  return /^0x[0-9a-f]{64}$/.test(value);
}
