/**
 * What crosses the worker boundary. A task holds ciphertext and public evaluation material
 * only: there is no field for a secret key or a plaintext, and the worker has no way to decrypt.
 */
export type EvalTask = {
  /** The model as registered on-chain; the evaluator checks its artifact's weights hash. */
  model: { name: string; version: string; weightsHash: string; isPrivate: boolean };
  /** Parameter-set id the chain says the model and the patient's keys use. */
  paramSetId: string;
  /** Serialized input ciphertext, already verified against its on-chain hash. */
  input: Uint8Array;
  /** Serialized evaluation keys (relinearisation / Galois), when the model needs them. */
  evaluationKeys?: Uint8Array;
};

export type EvalOutcome =
  | { ok: true; result: Uint8Array; evalMs: number }
  | { ok: false; code: string; message: string; reason: number | null };

/** A module the worker loads: `export async function createEvaluator(): Promise<Evaluator>`. */
export type Evaluator = {
  evaluate(task: EvalTask): EvalOutcome | Promise<EvalOutcome>;
};
