/**
 * The patient's CKKS work through the product's own code path, `FheClient` of fhe's client entry
 * (fhe/client-entry.ts, what the SDK's browser entry uses): key generation with the evaluation-key
 * blob, encryption of one reading as `requestPrediction` does, and decryption of the oracle's
 * result as `getPredictionResult` does. The evaluation in between is the oracle's (Node), handed
 * in as `evaluate`, and not timed. Browser-safe: no Node built-in, no DOM.
 */
import { FheClient, type ModelArtifact, type Reading } from "../../fhe/client-entry.js";

import { median } from "./sealBench.js";

export type ClientBenchResult = {
  modelId: string;
  /** The first key set, including SEAL's start-up and the parameter set's context. */
  firstKeygenMs: number;
  keygenMs: number[];
  encryptMs: number[];
  decryptMs: number[];
  inputBytes: number;
  evaluationKeysBytes: number;
  /** The decrypted class probabilities of the last round (checked against the plaintext model by the caller). */
  probabilities: number[];
};

export { median };

export async function runClientBench(model: ModelArtifact, reading: Reading, rounds: number, evaluate: (input: Uint8Array) => Promise<Uint8Array>): Promise<ClientBenchResult> {
  const result: ClientBenchResult = { modelId: model.id, firstKeygenMs: 0, keygenMs: [], encryptMs: [], decryptMs: [], inputBytes: 0, evaluationKeysBytes: 0, probabilities: [] };
  for (let round = 0; round <= rounds; round++) {
    let started = performance.now();
    const fhe = await FheClient.generate(model.paramSetId);
    try {
      const evaluationKeys = fhe.evaluationKeys();
      const keygenMs = performance.now() - started;
      if (round === 0) result.firstKeygenMs = keygenMs;
      else result.keygenMs.push(keygenMs);
      result.evaluationKeysBytes = evaluationKeys.length;

      started = performance.now();
      const input = fhe.encrypt(model, reading);
      if (round > 0) result.encryptMs.push(performance.now() - started);
      result.inputBytes = input.length;

      const output = await evaluate(input);
      started = performance.now();
      const [prediction] = fhe.decrypt(model, output);
      if (round > 0) result.decryptMs.push(performance.now() - started);
      result.probabilities = prediction!.probabilities;
    } finally {
      fhe.dispose();
    }
  }
  return result;
}
