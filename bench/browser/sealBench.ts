/**
 * The CKKS client work of one patient, timed the same way in a page and in Node so the two can
 * be compared: key generation (what `FheClient.generate` + `evaluationKeys()` do), encryption
 * of one tiled tuple (encode + seeded secret-key encryption + serialise, as `FheClient.encrypt`)
 * and decryption (load + decrypt + decode, as `FheClient.decrypt`).
 *
 * It drives node-seal directly with the parameter set of fhe/params.ts: until the fhe client
 * bundles for browsers (its key export imports node:crypto today) this is the client side that
 * does. Browser-safe: no Node built-in, no DOM.
 */
import type { MainModule } from "node-seal";

import { getParameterSet } from "../../fhe/params.js";

export type SealBenchResult = {
  paramSetId: string;
  /** Context and encoder for the parameter set: once per page (FheClient caches them). */
  contextMs: number;
  keygenMs: number[];
  encryptMs: number[];
  decryptMs: number[];
  ciphertextBytes: number;
  publicKeyBytes: number;
  /** Largest |decrypted − encoded| over the slots: the work was real. */
  maxError: number;
};

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function runSealBench(seal: MainModule, paramSetId: string, rounds: number): SealBenchResult {
  const set = getParameterSet(paramSetId);
  const contextStarted = performance.now();
  const parms = new seal.EncryptionParameters(seal.SchemeType.ckks);
  parms.setPolyModulusDegree(set.polyModulusDegree);
  parms.setCoeffModulus(seal.CoeffModulus.Create(set.polyModulusDegree, Int32Array.from(set.coeffModulusBits)));
  const context = new seal.SEALContext(parms, true, seal.SecLevelType.tc128);
  const encoder = new seal.CKKSEncoder(context);
  const slots = set.polyModulusDegree / 2;
  const values = Float64Array.from({ length: slots }, (_, i) => Math.sin(i) * 0.9);
  const contextMs = performance.now() - contextStarted;
  const result: SealBenchResult = { paramSetId, contextMs, keygenMs: [], encryptMs: [], decryptMs: [], ciphertextBytes: 0, publicKeyBytes: 0, maxError: 0 };

  for (let round = 0; round < rounds; round++) {
    let started = performance.now();
    const keygen = new seal.KeyGenerator(context);
    const secretKey = keygen.secretKey();
    const publicKey = keygen.createPublicKey();
    const encryptor = new seal.Encryptor(context, publicKey, secretKey);
    const decryptor = new seal.Decryptor(context, secretKey);
    const publishable = keygen.createPublicKeySerializable();
    const publicKeyBytes = publishable.saveToArray(seal.ComprModeType.none);
    result.keygenMs.push(performance.now() - started);
    result.publicKeyBytes = publicKeyBytes.length;

    started = performance.now();
    const plaintext = new seal.Plaintext();
    encoder.encode(values, 2 ** set.inputScaleLog2, plaintext);
    const serializable = encryptor.encryptSymmetricSerializable(plaintext);
    const bytes = serializable.saveToArray(seal.ComprModeType.none);
    result.encryptMs.push(performance.now() - started);
    result.ciphertextBytes = bytes.length;

    started = performance.now();
    const ciphertext = new seal.Ciphertext();
    ciphertext.loadFromArray(context, bytes);
    const decrypted = new seal.Plaintext();
    decryptor.decrypt(ciphertext, decrypted);
    const decoded = encoder.decodeFloat64(decrypted) as Float64Array;
    result.decryptMs.push(performance.now() - started);
    for (let i = 0; i < slots; i++) result.maxError = Math.max(result.maxError, Math.abs(decoded[i]! - values[i]!));

    for (const object of [decrypted, ciphertext, serializable, plaintext, publishable, decryptor, encryptor, publicKey, secretKey, keygen]) object.delete();
  }
  for (const object of [encoder, context, parms]) object.delete();
  return result;
}
