/**
 * MedCipher's CKKS engine (node-seal), shared by the client (SDK) and the evaluator (oracle):
 * everything in the client entry (fhe/client-entry.ts, browser-safe) plus the Node-only parts —
 * the oracle's evaluator, the private-model mask (node:crypto) and model files from disk.
 * See docs/fhe.md for parameter sets, blob formats, encoding specs and the threat model.
 */
export * from "./client-entry.js";
export { createEvaluator, type EvaluateOptions, type EvaluateTimings, type FheEvaluator } from "./evaluate.js";
export { MASK_KEY_BYTES } from "./mask.js";
export { loadModel } from "./modelFile.js";
