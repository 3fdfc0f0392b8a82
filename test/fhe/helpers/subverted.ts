/**
 * A subverted encryptor for the reverse-firewall tests: rejection-sampling kleptography (an
 * algorithm-substitution attack, Bellare–Paterson–Rogaway 2014). It encrypts honestly, but draws
 * fresh randomness again until a public function of the ciphertext equals the next bit of a
 * secret it wants to leak; anyone who sees the stored ciphertexts reads the secret off them. Its
 * ciphertexts decrypt correctly and look like any others (the bit of a fresh encryption is a
 * fair coin), so no test of the output alone can tell it from an honest encryptor.
 */
import { sha256Hex } from "../../../core/hash.js";
import { hexToBytes } from "../../../fhe/blob.js";
import { inputExpectation, openCiphertextBlob } from "../../../fhe/ciphertext-blob.js";
import type { ParameterContext } from "../../../fhe/seal.js";

/** A public function of an input blob's bytes to one bit: what the attacker computes on the stored ciphertext. */
export type LeakChannel = (blob: Uint8Array) => number;

/** Bit 0 of SHA-256 of the whole blob (its on-chain inputHash). */
export const inputHashBit: LeakChannel = (blob) => (hexToBytes(sha256Hex(blob))[0] as number) & 1;

/** Bit 0 of c0's first coefficient (of the first ciphertext), read from the SEAL bytes. */
export function firstCoefficientBit(ctx: ParameterContext): LeakChannel {
  return (blob) => ((openCiphertextBlob(ctx, blob, inputExpectation(ctx)).ciphertexts[0] as Uint8Array)[113] as number) & 1;
}

/** The first `count` bits of `secret`, most significant first. */
export function bitsOf(secret: Uint8Array, count: number): number[] {
  return Array.from({ length: count }, (_, i) => ((secret[i >> 3] as number) >> (7 - (i & 7))) & 1);
}

/**
 * One blob per secret bit: `encrypt()` again (fresh randomness each call) until `channel` says the
 * bit. Expected two encryptions per bit; gives up after `maxTries` (a channel that never varies).
 */
export function subvertedEncryptions(encrypt: () => Uint8Array, bits: readonly number[], channel: LeakChannel, maxTries = 64): Uint8Array[] {
  return bits.map((bit, i) => {
    for (let attempt = 0; attempt < maxTries; attempt++) {
      const blob = encrypt();
      if (channel(blob) === bit) return blob;
    }
    throw new Error(`the channel did not yield bit ${i} in ${maxTries} encryptions`);
  });
}

/** What the attacker recovers: the channel's bit of each stored blob. */
export function recoverBits(blobs: readonly Uint8Array[], channel: LeakChannel): number[] {
  return blobs.map(channel);
}

/** How many of `recovered` equal `secret`, bit by bit. */
export function agreement(recovered: readonly number[], secret: readonly number[]): number {
  return recovered.filter((bit, i) => bit === secret[i]).length;
}
