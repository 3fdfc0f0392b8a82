import { sha256Hex } from "../../core/hash.js";
import { readBlobHeader } from "../../fhe/blob.js";
import { createEvaluator as createFheEvaluator, type FheEvaluator } from "../../fhe/evaluate.js";
import { MODEL_IDS, type ModelArtifact } from "../../fhe/model.js";
import { loadModel } from "../../fhe/modelFile.js";
import { parameterContext } from "../../fhe/seal.js";
import { BadRequestInputError, FailureReason } from "../errors.js";
import type { EvalOutcome, EvalTask, Evaluator } from "./types.js";

/**
 * The evaluator the workers load by default: MedCipher's CKKS engine (fhe/). It resolves the
 * on-chain model (name, version, weights hash) to an artifact in models/, refusing one whose
 * weights differ from what the chain registered, and maps every engine rejection to the
 * on-chain failure code that explains it.
 */
export type FheEvaluatorOptions = {
  /** 32-byte hex secret shared by the oracles serving private models (fhe/mask.ts). */
  maskKeyHex?: string;
};

const ENGINE_REASONS: Record<string, FailureReason> = {
  WrongParameterSetError: FailureReason.ParameterSetMismatch,
  UnknownParameterSetError: FailureReason.ParameterSetMismatch,
  KeysHashMismatchError: FailureReason.KeysHashMismatch,
  MissingEvaluationKeysError: FailureReason.KeysUnavailable,
  NotPublicKeysError: FailureReason.KeysUnavailable,
  UnknownModelError: FailureReason.ModelUnavailable,
  ModelIntegrityError: FailureReason.ModelUnavailable,
  MaskKeyRequiredError: FailureReason.ModelUnavailable,
  BlobTooLargeError: FailureReason.EvaluationFailed,
  MalformedBlobError: FailureReason.EvaluationFailed,
  UnsupportedBlobVersionError: FailureReason.EvaluationFailed,
  WrongBlobKindError: FailureReason.EvaluationFailed,
  WrongCiphertextShapeError: FailureReason.EvaluationFailed,
  WrongModelError: FailureReason.EvaluationFailed,
  SealOperationError: FailureReason.EvaluationFailed,
};

/** The on-chain failure code for an engine error (undefined: not the input's fault). */
export function reasonForEngineError(error: unknown): FailureReason | undefined {
  const name = (error as { name?: string }).name;
  return name === undefined ? undefined : ENGINE_REASONS[name];
}

const artifacts = new Map<string, ModelArtifact>();

/** The artifact registered on-chain as (name, version) with exactly these weights. */
export function resolveModel(model: EvalTask["model"]): ModelArtifact {
  const key = `${model.name}\0${model.version}\0${model.weightsHash}`;
  const cached = artifacts.get(key);
  if (cached) return cached;
  let artifact: ModelArtifact | undefined;
  for (const id of [model.name, `${model.name}-${model.version}`]) {
    try {
      artifact = loadModel(id);
      break;
    } catch {
      // try the next naming
    }
  }
  if (!artifact) throw new BadRequestInputError(FailureReason.ModelUnavailable, "no model artifact for the registered model", { details: { name: model.name, version: model.version } });
  if (artifact.weightsHash.toLowerCase() !== model.weightsHash.toLowerCase()) {
    throw new BadRequestInputError(FailureReason.ModelUnavailable, "the local model artifact's weights differ from the registered weightsHash", {
      details: { name: model.name, registered: model.weightsHash, local: artifact.weightsHash },
    });
  }
  artifacts.set(key, artifact);
  return artifact;
}

/**
 * Main-thread checks before a worker sees the task: headers only (no SEAL), so a crafted blob is
 * turned away cheaply. The worker checks everything again, in depth.
 */
export function validateTask(task: EvalTask): void {
  const artifact = resolveModel(task.model);
  if (artifact.paramSetId !== task.paramSetId) {
    throw new BadRequestInputError(FailureReason.ParameterSetMismatch, "model artifact and registry name different parameter sets");
  }
  let input;
  try {
    input = readBlobHeader(task.input, "input");
  } catch (error) {
    throw new BadRequestInputError(reasonForEngineError(error) ?? FailureReason.EvaluationFailed, "input is not an MedCipher input ciphertext", { cause: error });
  }
  if (input.paramSetId !== task.paramSetId) {
    throw new BadRequestInputError(FailureReason.ParameterSetMismatch, "input ciphertext uses another parameter set", { details: { expected: task.paramSetId, actual: input.paramSetId } });
  }
  if (task.evaluationKeys !== undefined) {
    let keys;
    try {
      keys = readBlobHeader(task.evaluationKeys, "evaluationKeys");
    } catch (error) {
      throw new BadRequestInputError(FailureReason.KeysUnavailable, "keys blob is not an evaluation-keys blob", { cause: error });
    }
    if (keys.paramSetId !== task.paramSetId) {
      throw new BadRequestInputError(FailureReason.ParameterSetMismatch, "evaluation keys use another parameter set", { details: { expected: task.paramSetId, actual: keys.paramSetId } });
    }
  }
}

export async function createEvaluator(options: FheEvaluatorOptions = {}): Promise<Evaluator> {
  const engine: FheEvaluator = await createFheEvaluator();
  // Build the SEAL contexts of the shipped models now, not on the first request.
  for (const id of MODEL_IDS) {
    try {
      await parameterContext(loadModel(id).paramSetId);
    } catch {
      // an unusable artifact is reported when a request names it
    }
  }
  const maskKey = options.maskKeyHex ? Uint8Array.from(Buffer.from(options.maskKeyHex.replace(/^0x/, ""), "hex")) : undefined;
  return {
    async evaluate(task: EvalTask): Promise<EvalOutcome> {
      const started = performance.now();
      try {
        const artifact = resolveModel(task.model);
        const result = await engine.evaluate(artifact, task.input, {
          ...(task.evaluationKeys ? { evaluationKeys: task.evaluationKeys, expectedKeysHash: sha256Hex(task.evaluationKeys) } : {}),
          ...(maskKey ? { maskKey } : {}),
        });
        return { ok: true, result, evalMs: performance.now() - started };
      } catch (error) {
        const e = error as { code?: string; shortMessage?: string; message?: string; reason?: number };
        const reason = error instanceof BadRequestInputError ? error.reason : reasonForEngineError(error);
        return { ok: false, code: e.code ?? "ORACLE_EVAL_ERROR", message: e.shortMessage ?? e.message ?? String(error), reason: reason ?? null };
      }
    },
  };
}
