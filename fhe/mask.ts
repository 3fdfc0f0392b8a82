/**
 * The zero-sum mask of private models.
 *
 * In the tiled design the client decrypts one partial product `w_f · x_f` per slot and sums
 * them; knowing its own `x_f`, it would read the weights off a single result. For a private
 * model the evaluator adds a plaintext mask that is uniform in [−A, A] per slot, centred so that
 * each tuple-long range sums to exactly zero: the range sums (the scores) are unchanged, each
 * slot alone is swamped (A = budget/8 = 16 at ckks-2048-v1, against |w_f · x_f| ≤ `slotBound`).
 *
 * Determinism: the mask is a pure function of a secret mask key, the model and the input blob:
 * `seed = HMAC-SHA256(maskKey, "MedCipher/fhe/mask/v1" ‖ 0 ‖ modelId ‖ 0 ‖ weightsHash ‖ 0 ‖ inputHash)`,
 * expanded with AES-256-CTR (seed as key, zero IV). Oracles that hold the same mask key produce
 * byte-identical results; the patient, who knows everything but the key, cannot recompute it.
 * Limits (docs/fhe.md): masks are fresh per input, so averaging many results of many fresh
 * encryptions of the same reading converges to the partial products; and a linear model's
 * weights follow from `tupleLength` scores anyway. The mask stops a one-look read-out of the
 * weights; rate limits and payment per request bound the rest.
 */
import { createCipheriv, createHmac } from "node:crypto";

import type { SlotLayout } from "./encoding.js";

export const MASK_KEY_BYTES = 32;
const DOMAIN = "MedCipher/fhe/mask/v1";

export function maskSeed(maskKey: Uint8Array, modelId: string, weightsHash: string, inputHash: string): Buffer {
  return createHmac("sha256", maskKey).update(`${DOMAIN}\0${modelId}\0${weightsHash}\0${inputHash}`).digest();
}

/** Slot values of the mask: zero-sum over each score range of each block, zero elsewhere. */
export function maskSlots(seed: Uint8Array, layout: SlotLayout, slotCount: number, amplitude: number): Float64Array {
  const used = layout.readingsPerCiphertext * layout.blockWidth;
  const cipher = createCipheriv("aes-256-ctr", seed, Buffer.alloc(16));
  const stream = cipher.update(Buffer.alloc(used * 4));
  cipher.final();
  const words = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  const slots = new Float64Array(slotCount);
  for (let start = 0; start < used; start += layout.tupleLength) {
    let sum = 0;
    for (let f = 0; f < layout.tupleLength; f++) {
      const value = ((words.getUint32((start + f) * 4, true) / 2 ** 32) * 2 - 1) * amplitude;
      slots[start + f] = value;
      sum += value;
    }
    const mean = sum / layout.tupleLength;
    for (let f = 0; f < layout.tupleLength; f++) slots[start + f]! -= mean;
  }
  return slots;
}
