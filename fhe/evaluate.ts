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
import { inputExpectation, openCiphertextBlob, writeCiphertextBlob } from "./ciphertext-blob.js";
import { columnFeatureIndices, constantOffsets, layWeights } from "./encoding.js";
import { KeysHashMismatchError, MaskKeyRequiredError, MissingEvaluationKeysError, WrongModelError } from "./errors.js";
import { checkPublicKeysOnly, readEvaluationKeysBlob } from "./keys.js";
import { MASK_KEY_BYTES, maskSeed, maskSlots } from "./mask.js";
import type { ModelArtifact } from "./model.js";
import { slotCount } from "./params.js";
import { ownedBytes, parameterContext, sealCall, type ParameterContext } from "./seal.js";
import type { Ciphertext, Plaintext } from "node-seal";

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
   * Checks `input` (size, header, parameter set, model binding, slot layout, level, scale, size,
   * count, SEAL metadata) before SEAL parses it, evaluates the model's linear scores and returns
   * the result blob. Same inputs → byte-identical output.
   * - tiled input (one ciphertext): one ct × pt product with the tiled weights; a private model's
   *   partial products get the zero-sum mask; the client sums each range.
   * - columns input (batch mode: one ciphertext per feature and group of 1,024 readings): per
   *   score Σ_f w_f · ct_f + bias, one result ciphertext per score and group holding scores only
   *   (no partial products, no mask needed).
   */
  evaluate(model: ModelArtifact, input: Uint8Array, options?: EvaluateOptions): Promise<Uint8Array>;
  /** Frees the cached weight plaintexts. */
  dispose(): void;
};

/** Fraction of the slot budget the mask may use (the model itself must stay within a quarter). */
const MASK_AMPLITUDE_OF_BUDGET = 1 / 8;

type PreparedModel = {
  ctx: ParameterContext;
  /** Weight rows tiled over every block, at the weight scale. */
  tiled: Plaintext;
  /**
   * columns[k]: the terms of score k, one per travelling feature j whose weight does not encode to
   * zero (SEAL refuses a product with the zero plaintext: "result ciphertext is transparent").
   */
  columns: { j: number; weight: Plaintext }[][];
  /** Per score, the constant features' contribution, at the product scale. */
  offsets: Plaintext[];
  /** 1 in every slot at the weight scale: carries a columns input's encrypted count into the result. */
  one: Plaintext;
  columnCount: number;
};

/**
 * One evaluator per thread (it borrows the thread's SEAL runtime). Models must come from
 * `loadModel` or `verifyModel`: their weights are encoded once, on first use, and cached by id
 * and weightsHash.
 */
export async function createEvaluator(): Promise<FheEvaluator> {
  const prepared = new Map<string, Promise<PreparedModel>>();
  const created: PreparedModel[] = [];

  const prepare = async (model: ModelArtifact): Promise<PreparedModel> => {
    const ctx = await parameterContext(model.paramSetId);
    const { seal, encoder, set } = ctx;
    const slots = slotCount(set);
    const constant = (value: number, scale: number) => {
      const pt = new seal.Plaintext();
      sealCall("weight encoding", () => encoder.encode(new Float64Array(slots).fill(value), scale, pt));
      return pt;
    };
    const spec = model.encodingSpec;
    const tiled = new seal.Plaintext();
    sealCall("weight encoding", () => encoder.encode(layWeights(spec.layout, model.weights, slots), 2 ** set.weightScaleLog2, tiled));
    const travelling = columnFeatureIndices(spec);
    const entry: PreparedModel = {
      ctx,
      tiled,
      columns: model.weights.map((row) => columnTerms(travelling.map((f) => constant(row[f] as number, 2 ** set.weightScaleLog2)))),
      offsets: constantOffsets(spec, model.weights).map((offset) => constant(offset, 2 ** (set.inputScaleLog2 + set.weightScaleLog2))),
      one: constant(1, 2 ** set.weightScaleLog2),
      columnCount: travelling.length,
    };
    created.push(entry);
    return entry;
  };
  // Cache the promise, so concurrent first calls for a model encode its weights once.
  const preparedModel = (model: ModelArtifact): Promise<PreparedModel> => {
    const key = `${model.id}\0${model.weightsHash}`;
    let entry = prepared.get(key);
    if (entry === undefined) prepared.set(key, (entry = prepare(model)));
    return entry;
  };

  return {
    async evaluate(model, input, options = {}) {
      const entry = await preparedModel(model);
      const { ctx } = entry;
      const started = performance.now();
      const set = ctx.set;
      const { header, ciphertexts } = openCiphertextBlob(ctx, input, inputExpectation(ctx, model));
      if (header.binding !== model.encodingSpecHash) {
        throw new WrongModelError({ modelId: model.id, expected: model.encodingSpecHash, actual: header.binding });
      }
      checkEvaluationKeys(set.id, options);
      const masked = model.isPrivate && header.layout === "tiled";
      if (masked && (options.maskKey === undefined || options.maskKey.length !== MASK_KEY_BYTES)) throw new MaskKeyRequiredError(model.id);

      const inputHash = sha256Hex(input);
      const checked = performance.now();
      const { seal, context, encoder, evaluator } = ctx;
      const loadedCts = ciphertexts.map(() => new seal.Ciphertext());
      const outputs: Ciphertext[] = [];
      const scratch = new seal.Ciphertext();
      const mask = masked ? new seal.Plaintext() : undefined;
      try {
        sealCall("input load", () => loadedCts.forEach((ct, i) => ct.loadFromArray(context, ciphertexts[i] as Uint8Array)));
        const loaded = performance.now();
        sealCall("evaluation", () => {
          if (header.layout === "tiled") {
            const product = loadedCts[0] as Ciphertext;
            evaluator.multiplyPlainInplace(product, entry.tiled);
            outputs.push(product);
            loadedCts.length = 0;
            return;
          }
          // Group g's feature j is input g × columnCount + j; its score k is output g × scores + k.
          // The current form ends with the encrypted count: it leaves as the last output, × 1.
          const countCt = header.readings === 0 ? loadedCts[loadedCts.length - 1] : undefined;
          const groupCts = countCt === undefined ? loadedCts.length : loadedCts.length - 1;
          for (let g = 0; g * entry.columnCount < groupCts; g++) {
            const group = loadedCts.slice(g * entry.columnCount, (g + 1) * entry.columnCount);
            entry.columns.forEach((row, k) => {
              const sum = new seal.Ciphertext();
              outputs.push(sum);
              row.forEach(({ j, weight }, term) => {
                if (term === 0) evaluator.multiplyPlain(group[j] as Ciphertext, weight, sum);
                else {
                  evaluator.multiplyPlain(group[j] as Ciphertext, weight, scratch);
                  evaluator.addInplace(sum, scratch);
                }
              });
              evaluator.addPlainInplace(sum, entry.offsets[k] as Plaintext);
            });
          }
          if (countCt !== undefined) {
            const count = new seal.Ciphertext();
            outputs.push(count);
            evaluator.multiplyPlain(countCt, entry.one, count);
          }
        });
        if (mask !== undefined) {
          const product = outputs[0] as Ciphertext;
          const seed = maskSeed(options.maskKey as Uint8Array, model.id, model.weightsHash, inputHash);
          const slots = maskSlots(seed, model.encodingSpec.layout, slotCount(set), set.slotBudget * MASK_AMPLITUDE_OF_BUDGET);
          seed.fill(0);
          sealCall("mask", () => {
            encoder.encode(slots, product.scale(), mask);
            evaluator.addPlainInplace(product, mask);
          });
        }
        const evaluated = performance.now();
        const resultBytes = sealCall("result save", () => outputs.map((ct) => ownedBytes(ct.saveToArray(seal.ComprModeType.none))));
        const result = writeCiphertextBlob(
          ctx,
          "result",
          resultBytes,
          { chainIndex: ctx.firstChainIndex, size: 2, scaleLog2: set.inputScaleLog2 + set.weightScaleLog2, seeded: false },
          // The result keeps the input's codec: packed (≤ 32 KiB) for requests, raw (faster) for batch uploads.
          { codec: header.codec, readings: header.readings, binding: inputHash, layout: header.layout },
        );
        if (options.timings !== undefined) {
          Object.assign(options.timings, { checkMs: checked - started, loadMs: loaded - checked, evalMs: evaluated - loaded, saveMs: performance.now() - evaluated });
        }
        return result;
      } finally {
        for (const ct of [...loadedCts, ...outputs, scratch]) ct.delete();
        mask?.delete();
      }
    },
    dispose() {
      for (const entry of created) {
        entry.tiled.delete();
        for (const pt of [...entry.columns.flat().map((term) => term.weight), ...entry.offsets, entry.one]) pt.delete();
      }
      created.length = 0;
      prepared.clear();
    },
  };
}

/** Keeps the weights that encode to a non-zero plaintext (a zero term adds nothing) and frees the rest. */
function columnTerms(weights: Plaintext[]): { j: number; weight: Plaintext }[] {
  const terms: { j: number; weight: Plaintext }[] = [];
  weights.forEach((weight, j) => {
    if (weight.isZero()) weight.delete();
    else terms.push({ j, weight });
  });
  return terms;
}

function checkEvaluationKeys(paramSetId: string, options: EvaluateOptions): void {
  if (options.expectedKeysHash !== undefined) {
    if (options.evaluationKeys === undefined) throw new MissingEvaluationKeysError("a key commitment was given but no keys");
    const actual = sha256Hex(options.evaluationKeys);
    if (actual !== options.expectedKeysHash) throw new KeysHashMismatchError(options.expectedKeysHash, actual);
  }
  // The linear circuits need no key: the blob is checked (well formed, of the patient's parameter
  // set — the precise engine errors — then public keys only) but not loaded.
  if (options.evaluationKeys !== undefined) {
    readEvaluationKeysBlob(options.evaluationKeys, paramSetId);
    checkPublicKeysOnly(options.evaluationKeys, paramSetId);
  }
}
