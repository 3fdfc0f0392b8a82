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

/**
 * Gateway requests run in the workers too: each costs two ECDSA operations (signing the request,
 * recovering the signer of the response, ~6 ms on this machine), which would otherwise serialise
 * every job on the main thread. The worker signs with the oracle's own account key.
 */
export type GatewayWorkerConfig = { url: string; chainId: number; gatewayAddress: string; privateKey: string; timeoutMs: number };

/** An EIP-1559 transaction to sign, numbers as decimal strings (structured-clone friendly). */
export type UnsignedTx = { chainId: string; nonce: number; to: string; data: string; gasLimit: string; maxFeePerGas: string; maxPriorityFeePerGas: string };
export type SignedTx = { raw: string; hash: string };

export type WorkerTask =
  | { kind: "evaluate"; task: EvalTask }
  | { kind: "signTransactions"; txs: UnsignedTx[] }
  | { kind: "gatewayGet"; blobId: string; purpose: number; ref?: string }
  | { kind: "gatewayPut"; bytes: Uint8Array; owner: string; blobKind: "he-result"; category: number; purpose?: number; ref?: string };

/** A failure carried across the thread boundary with what callers classify by. */
export type WorkerError = { name: string; message: string; code?: string; status?: number; details?: Record<string, unknown> };

export type WorkerReply =
  | { ok: true; outcome?: EvalOutcome; bytes?: Uint8Array; blobId?: string; signed?: SignedTx[] }
  | { ok: false; error: WorkerError };
