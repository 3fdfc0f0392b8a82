/**
 * Named, versioned CKKS parameter sets. An id is ASCII and at most 32 bytes, so it travels
 * on-chain as a bytes32 and in every blob header. A set never changes once published: a new
 * choice gets a new id.
 *
 * Security: every set stays within the HomomorphicEncryption.org standard's bound on
 * log2(q) for 128-bit classical security with a ternary secret (N=2048: 54 bits, N=4096: 109,
 * N=8192: 218), and SEAL itself enforces it (`SecLevelType.tc128`).
 */
import { BaseError } from "../core/errors.js";

export type ParameterSet = {
  id: string;
  polyModulusDegree: number;
  /** Bit sizes of the coefficient-modulus primes; with more than one, the last is SEAL's special prime. */
  coeffModulusBits: number[];
  /** Scale the client encodes its tuple at. */
  inputScaleLog2: number;
  /** Scale the server encodes weights at (the product carries input + weight scale). */
  weightScaleLog2: number;
  /** Multiplicative depth available after the input (rescales). */
  depth: number;
  /** Whether SEAL can create relinearisation and Galois keys (needs a special prime). */
  keySwitching: boolean;
  /** Largest |value| a result slot may hold before it wraps around the modulus. */
  slotBudget: number;
  /**
   * SEAL's parms_id of the key level (every prime, the special prime included), as it
   * serialises it: the public key carries it. Pinned here so the public-keys-only check
   * (fhe/keys.ts) runs without SEAL (gateway, browser); test/fhe/keys.test.ts checks it against SEAL.
   */
  keyParmsIdHex: string;
  securityBits: 128;
  summary: string;
};

const SETS: readonly ParameterSet[] = [
  {
    id: "ckks-2048-v1",
    polyModulusDegree: 2048,
    coeffModulusBits: [54],
    // Input 2^27 × weights 2^19: the input carries the encryption noise (public-key encryption
    // more than secret-key), so it gets the larger share of the 54-bit prime.
    inputScaleLog2: 27,
    weightScaleLog2: 19,
    depth: 0,
    keySwitching: false,
    // The product lives at scale 2^46 under a 54-bit prime: |slot| < 2^(53−46) = 128.
    slotBudget: 2 ** (53 - 46),
    keyParmsIdHex: "e9095456ca0cdf3f03014aa380668265f838d37d95b763514f04e92bb39716ee",
    securityBits: 128,
    summary:
      "One ciphertext × plaintext product, no rescale, no rotation, no evaluation keys. The client tiles its tuple, " +
      "the server multiplies by the tiled weights, the client sums each tuple-long range of decoded slots.",
  },
  {
    id: "ckks-8192-v1",
    polyModulusDegree: 8192,
    coeffModulusBits: [50, 40, 40, 40, 48],
    inputScaleLog2: 40,
    weightScaleLog2: 40,
    depth: 3,
    keySwitching: true,
    slotBudget: 2 ** (49 - 40),
    keyParmsIdHex: "a3ef7b6517126ed7cf9f9918689961d77eda6ecc1d6ce03f01727db2f3002c8c",
    securityBits: 128,
    summary:
      "Three rescales at scale 2^40: a weighted sum with rotate-and-sum plus a cubic sigmoid on the server " +
      "(the reference circuit of the benchmark). Needs relinearisation and Galois keys.",
  },
];

export class UnknownParameterSetError extends BaseError {
  override name = "UnknownParameterSetError";
  constructor(paramSetId: string) {
    super(`Unknown CKKS parameter set "${paramSetId}"`, { code: "FHE_UNKNOWN_PARAMETER_SET", details: { paramSetId } });
  }
}

export const PARAMETER_SET_IDS: readonly string[] = SETS.map((set) => set.id);

export function getParameterSet(paramSetId: string): ParameterSet {
  const set = SETS.find((candidate) => candidate.id === paramSetId);
  if (set === undefined) throw new UnknownParameterSetError(paramSetId);
  return set;
}

export function slotCount(set: ParameterSet): number {
  return set.polyModulusDegree / 2;
}

/**
 * The smallest |weight| the set's weight scale can carry: a constant encodes to the coefficient
 * round(w · 2^weightScaleLog2), so any |w| below half a step (2^-20 at ckks-2048-v1) encodes to
 * the zero plaintext, and SEAL refuses a product with it ("result ciphertext is transparent").
 */
export function smallestWeight(set: ParameterSet): number {
  return 2 ** -(set.weightScaleLog2 + 1);
}
