/**
 * Decryption hygiene (IND-CPA-D): what a decrypted prediction must go through before it leaves
 * the patient's client. CKKS decryptions are approximate: the low-order digits of a decrypted
 * value carry the ciphertext's noise, and whoever holds the ciphertext and exact decryptions can
 * solve for the secret key (Li–Micciancio, EUROCRYPT 2021). Inside the client that is harmless;
 * a shared result is released as:
 *
 *   score' = round(score + e + η, scoreDecimals),   η ~ N(0, σ²),   σ = 10^−scoreDecimals
 *
 * — flooded with Gaussian noise of one unit of the model's stated precision, then rounded to it;
 * probabilities and the class follow from score' only. docs/fhe.md ("Decryption hygiene") gives
 * the bound and why it suffices.
 *
 * The noise is deterministic per (patient, result): η_i = σ·BoxMuller(HMAC-SHA256(K, resultHash ‖ i)),
 * K = HMAC-SHA256(the patient's X25519 private key, "medcipher/result-flooding-key/v1"). Sharing
 * the same result twice, with one grantee or several who pool what they got, releases the same
 * values: averaging repeated releases cannot strip the noise. Browser-safe (@noble/hashes).
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";

import { utf8ToBytes } from "../../core/bytes.js";

const KEY_DOMAIN = utf8ToBytes("medcipher/result-flooding-key/v1");

/** The flooding noise's standard deviation for a model: one unit of its stated score precision. */
export function floodingSigma(output: { scoreDecimals: number }): number {
  return 10 ** -output.scoreDecimals;
}

/** The patient's flooding key, from their X25519 private key (never leaves the client). */
export function floodingKey(privateKey: Uint8Array): Uint8Array {
  return hmac(sha256, privateKey, KEY_DOMAIN);
}

/** η_i for result `resultHash`: a Gaussian of standard deviation `sigma`, the same for the same (key, result, i). */
export function floodingNoise(key: Uint8Array, resultHash: string, sigma: number): (index: number) => number {
  return (index) => {
    const block = hmac(sha256, key, utf8ToBytes(`${resultHash.toLowerCase()}:${index}`));
    const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
    // Two uniforms from 53 random bits each; u1 in (0, 1] so its logarithm is finite.
    const uniform = (offset: number) => (view.getUint32(offset) * 2 ** 21 + (view.getUint32(offset + 4) >>> 11)) / 2 ** 53;
    const u1 = 1 - uniform(0);
    const u2 = uniform(8);
    block.fill(0);
    return sigma * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  };
}
