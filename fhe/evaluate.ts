/**
 * The server side: evaluate a model on an input ciphertext blob, return a result ciphertext blob.
 *
 * @example
 * const evaluator = await createEvaluator();
 * const model = loadModel("maternal-risk-v1");
 * const result = await evaluator.evaluate(model, inputBlob, { evaluationKeys, expectedKeysHash });
 * // sha256Hex(result) is what the oracle posts on-chain
 * evaluator.dispose();
 */
import { sha256Hex, type Sha256Hex } from "../core/hash.js";
import { openCiphertextBlob, writeCiphertextBlob } from "./ciphertext-blob.js";
import { layWeights } from "./encoding.js";
import { KeysHashMismatchError, MaskKeyRequiredError, MissingEvaluationKeysError, WrongModelError } from "./errors.js";
import { readEvaluationKeysBlob } from "./keys.js";
import { MASK_KEY_BYTES, maskSeed, maskSlots } from "./mask.js";
import type { ModelArtifact } from "./model.js";
import { slotCount } from "./params.js";
import { ownedBytes, parameterContext, sealCall, type ParameterContext } from "./seal.js";
import type { Plaintext } from "node-seal";

export type EvaluateOptions = {
  /** The patient's evaluation-key blob; checked against `expectedKeysHash` and the parameter set. */
  evaluationKeys?: Uint8Array;
  /** The on-chain commitment to the patient's evaluation keys; when set, the keys must hash to it. */
  expectedKeysHash?: Sha256Hex;
  /** 32-byte secret shared by the oracles serving a private model (see fhe/mask.ts). */
  maskKey?: Uint8Array;
  /** When given, filled with the phase durations of this call in milliseconds (for metrics). */
  timings?: EvaluateTimings;
};

export type EvaluateTimings = { checkMs: number; loadMs: number; evalMs: number; saveMs: number };

export type FheEvaluator = {
  /**
   * Checks `input` (size, header, parameter set, model binding, level, scale, size, SEAL
   * metadata) before SEAL parses it, multiplies it by the model's tiled weights, adds the
   * private-model mask, and returns the result blob. Same inputs → byte-identical output.
   */
  evaluate(model: ModelArtifact, input: Uint8Array, options?: EvaluateOptions): Promise<Uint8Array>;
  /** Frees the cached weight plaintexts. */
  dispose(): void;
};

/** Fraction of the slot budget the mask may use (the model itself must stay within a quarter). */
const MASK_AMPLITUDE_OF_BUDGET = 1 / 8;

export async function createEvaluator(): Promise<FheEvaluator> {
  const weights = new Map<string, { ctx: ParameterContext; plaintext: Plaintext }>();

  const weightsPlaintext = async (model: ModelArtifact) => {
    const key = `${model.id}\0${model.weightsHash}`;
    const cached = weights.get(key);
    if (cached !== undefined) return cached;
    const ctx = await parameterContext(model.paramSetId);
    const plaintext = new ctx.seal.Plaintext();
    sealCall("weight encoding", () =>
      ctx.encoder.encode(layWeights(model.encodingSpec.layout, model.weights, slotCount(ctx.set)), 2 ** ctx.set.weightScaleLog2, plaintext),
    );
    const entry = { ctx, plaintext };
    weights.set(key, entry);
    return entry;
  };

  return {
    async evaluate(model, input, options = {}) {
      const { ctx, plaintext } = await weightsPlaintext(model);
      const started = performance.now();
      const set = ctx.set;
      const { header, sealBytes } = openCiphertextBlob(ctx, input, {
        kind: "input",
        chainIndex: ctx.firstChainIndex,
        size: 2,
        scaleLog2: set.inputScaleLog2,
        maxReadings: model.encodingSpec.layout.readingsPerCiphertext,
      });
      if (header.binding !== model.encodingSpecHash) {
        throw new WrongModelError({ modelId: model.id, expected: model.encodingSpecHash, actual: header.binding });
      }
      checkEvaluationKeys(set.id, options);
      if (model.isPrivate && (options.maskKey === undefined || options.maskKey.length !== MASK_KEY_BYTES)) throw new MaskKeyRequiredError(model.id);

      const inputHash = sha256Hex(input);
      const checked = performance.now();
      const { seal, context, encoder, evaluator } = ctx;
      const product = new seal.Ciphertext();
      const mask = model.isPrivate ? new seal.Plaintext() : undefined;
      try {
        sealCall("input load", () => product.loadFromArray(context, sealBytes));
        const loaded = performance.now();
        sealCall("evaluation", () => evaluator.multiplyPlainInplace(product, plaintext));
        if (mask !== undefined) {
          const seed = maskSeed(options.maskKey as Uint8Array, model.id, model.weightsHash, inputHash);
          const slots = maskSlots(seed, model.encodingSpec.layout, slotCount(set), set.slotBudget * MASK_AMPLITUDE_OF_BUDGET);
          seed.fill(0);
          sealCall("mask", () => {
            encoder.encode(slots, product.scale(), mask);
            evaluator.addPlainInplace(product, mask);
          });
        }
        const evaluated = performance.now();
        const resultBytes = sealCall("result save", () => ownedBytes(product.saveToArray(seal.ComprModeType.none)));
        const result = writeCiphertextBlob(
          ctx,
          "result",
          resultBytes,
          { chainIndex: ctx.firstChainIndex, size: 2, scaleLog2: set.inputScaleLog2 + set.weightScaleLog2, seeded: false },
          // The result keeps the input's codec: packed (≤ 32 KiB) for requests, raw (faster) for batch uploads.
          { codec: header.codec, readings: header.readings, binding: inputHash },
        );
        if (options.timings !== undefined) {
          Object.assign(options.timings, { checkMs: checked - started, loadMs: loaded - checked, evalMs: evaluated - loaded, saveMs: performance.now() - evaluated });
        }
        return result;
      } finally {
        product.delete();
        mask?.delete();
      }
    },
    dispose() {
      for (const { plaintext } of weights.values()) plaintext.delete();
      weights.clear();
    },
  };
}

function checkEvaluationKeys(paramSetId: string, options: EvaluateOptions): void {
  if (options.expectedKeysHash !== undefined) {
    if (options.evaluationKeys === undefined) throw new MissingEvaluationKeysError("a key commitment was given but no keys");
    const actual = sha256Hex(options.evaluationKeys);
    if (actual !== options.expectedKeysHash) throw new KeysHashMismatchError(options.expectedKeysHash, actual);
  }
  // The tiled circuit needs no key: the blob is checked (it names the patient's parameter set) but not loaded.
  if (options.evaluationKeys !== undefined) readEvaluationKeysBlob(options.evaluationKeys, paramSetId);
}
