/**
 * The client side (patient device; also usable by a clinician the patient shares a key with):
 * key generation, encrypted key export, evaluation-key blob, encoding + encryption of readings,
 * decryption of results with rounding. The secret key never leaves this object unencrypted.
 *
 * @example
 * const model = loadModel("maternal-risk-v1");
 * const client = await FheClient.generate(model.paramSetId);
 * const keys = client.evaluationKeys();               // publish; sha256Hex(keys) goes on-chain
 * const input = client.encrypt(model, [reading]);     // upload; the oracle evaluates it
 * const [prediction] = client.decrypt(model, result, { inputHash: sha256Hex(input) });
 * const backup = await client.exportSecretKey(passphrase);
 * client.dispose();
 */
import type { CKKSEncoder, ComprModeType, Decryptor, Encryptor, KeyGenerator, SecretKey, PublicKey } from "node-seal";

import type { Sha256Hex } from "../core/hash.js";
import type { CodecName, SlotLayoutName } from "./blob.js";
import { fixedCount, openCiphertextBlob, writeCiphertextBlob } from "./ciphertext-blob.js";
import {
  COLUMN_COUNT_DIVISOR,
  COLUMN_GROUP_BUCKETS,
  columnGroups,
  decodeCount,
  encodeReading,
  layColumns,
  layTuples,
  MAX_COLUMN_GROUPS,
  sumRanges,
  tiledCountDivisor,
  tiledCountSlot,
  type Reading,
} from "./encoding.js";
import { MalformedBlobError, MissingEvaluationKeysError, ResultBindingError, WrongParameterSetError } from "./errors.js";
import { checkPublicKeysOnly, openSecretKey, sealSecretKey, writeEvaluationKeysBlob } from "./keys.js";
import type { ModelArtifact } from "./model.js";
import { slotCount } from "./params.js";
import { ownedBytes, parameterContext, sealCall, type ParameterContext } from "./seal.js";

export type Prediction = {
  /** Decrypted scores (logits against class 0), rounded to `output.scoreDecimals`. */
  scores: number[];
  /** Class probabilities (sigmoid / softmax of the rounded scores), rounded to `output.probabilityDecimals`. */
  probabilities: number[];
  classIndex: number;
  label: string;
};

export type EncryptOptions = {
  /**
   * `seeded` (default, secret-key encryption): the second polynomial is a 64-byte seed, half the
   * size (≈ 14 KiB at N=2048). `full`: both polynomials (≈ 27 KiB), ~4× faster for the evaluator
   * to load — the form for batch uploads.
   */
  form?: "seeded" | "full";
  /** `packed` (default) or `raw` SEAL bytes. */
  codec?: CodecName;
  /**
   * `tiled` (default): one ciphertext, up to `layout.readingsPerCiphertext` readings (a single
   * reading is replicated into every block for precision). `columns` (batch mode): one
   * ciphertext per feature for every N/2 readings (1,024 at N=2048), up to 8 such groups
   * (8,192 readings); fastest for the evaluator per reading; the result holds only scores.
   */
  layout?: SlotLayoutName;
};

export type DecryptOptions = {
  /** The input blob's SHA-256: the result must answer it (ResultBindingError otherwise). */
  inputHash?: Sha256Hex;
  /** Flooding noise: the i-th raw score (reading-major) gets `noise(i)` added before rounding. */
  noise?: (index: number) => number;
};

export type GaloisRequirements = { relinKeys?: boolean; galoisSteps?: number[] };

export class FheClient {
  readonly paramSetId: string;
  readonly #ctx: ParameterContext;
  readonly #keygen: KeyGenerator;
  readonly #secretKey: SecretKey;
  readonly #encryptor: Encryptor;
  readonly #decryptor: Decryptor;
  #disposed = false;

  private constructor(ctx: ParameterContext, keygen: KeyGenerator) {
    this.paramSetId = ctx.set.id;
    this.#ctx = ctx;
    this.#keygen = keygen;
    this.#secretKey = keygen.secretKey();
    // SEAL's Encryptor wants a public key even for secret-key encryption; it keeps its own copy.
    const publicKey = keygen.createPublicKey();
    try {
      this.#encryptor = new ctx.seal.Encryptor(ctx.context, publicKey, this.#secretKey);
    } finally {
      publicKey.delete();
    }
    this.#decryptor = new ctx.seal.Decryptor(ctx.context, this.#secretKey);
  }

  /** A fresh key set for a parameter set. */
  static async generate(paramSetId: string): Promise<FheClient> {
    const ctx = await parameterContext(paramSetId);
    return new FheClient(ctx, sealCall("key generation", () => new ctx.seal.KeyGenerator(ctx.context)));
  }

  /** Restores a key set from `exportSecretKey` output. Throws `WrongPassphraseError`. */
  static async importSecretKey(exported: Uint8Array, passphrase: string): Promise<FheClient> {
    const { paramSetId, secretKeyBytes } = await openSecretKey(exported, passphrase);
    const ctx = await parameterContext(paramSetId);
    const secretKey = new ctx.seal.SecretKey();
    try {
      sealCall("secret key load", () => secretKey.loadFromArray(ctx.context, secretKeyBytes));
      return new FheClient(ctx, sealCall("key generation", () => new ctx.seal.KeyGenerator(ctx.context, secretKey)));
    } finally {
      secretKeyBytes.fill(0);
      secretKey.delete();
    }
  }

  /** The secret key, encrypted under the passphrase (scrypt → AES-256-GCM). */
  async exportSecretKey(passphrase: string): Promise<Uint8Array> {
    this.#alive();
    const bytes = ownedBytes(this.#secretKey.saveToArray(this.#ctx.seal.ComprModeType.none));
    try {
      return await sealSecretKey(this.paramSetId, bytes, passphrase);
    } finally {
      bytes.fill(0);
    }
  }

  /**
   * The evaluation-key blob to publish: the public key, plus relinearisation keys and the
   * Galois keys of exactly the steps asked for (only on sets with key switching). Seeded; the
   * key-switching keys zstd-compressed. Its SHA-256 is the patient's on-chain `keysHash`.
   * The public key is freshly sampled on every call, so hash the blob you actually publish.
   */
  evaluationKeys(requirements: GaloisRequirements = {}): Uint8Array {
    this.#alive();
    const { seal } = this.#ctx;
    const save = (serializable: { saveToArray(mode: ComprModeType): unknown; delete(): void }, mode: ComprModeType) => {
      try {
        return ownedBytes(serializable.saveToArray(mode));
      } finally {
        serializable.delete();
      }
    };
    const wantsKeySwitching = requirements.relinKeys === true || (requirements.galoisSteps?.length ?? 0) > 0;
    if (wantsKeySwitching && !this.#ctx.set.keySwitching) throw new MissingEvaluationKeysError(`${this.paramSetId} has no key switching`);
    return writeEvaluationKeysBlob(this.paramSetId, {
      publicKey: save(this.#keygen.createPublicKeySerializable(), seal.ComprModeType.none),
      ...(requirements.relinKeys ? { relinKeys: save(this.#keygen.createRelinKeysSerializable(), seal.ComprModeType.zstd) } : {}),
      ...(requirements.galoisSteps?.length
        ? {
            galoisKeys: {
              steps: requirements.galoisSteps,
              bytes: save(this.#keygen.createGaloisKeysSerializableWithSteps(Int32Array.from(requirements.galoisSteps)), seal.ComprModeType.zstd),
            },
          }
        : {}),
    });
  }

  /**
   * Encodes the readings per the model's spec (derived features, normalisation, tiling), packs
   * up to `layout.readingsPerCiphertext` of them into one ciphertext (batch mode) and encrypts.
   */
  encrypt(model: ModelArtifact, readings: Reading | readonly Reading[], options: EncryptOptions = {}): Uint8Array {
    this.#alive();
    return encryptReadings(this.#ctx, model, readings, options, (plaintext, seeded) => {
      if (seeded) {
        const serializable = this.#encryptor.encryptSymmetricSerializable(plaintext);
        try {
          return ownedBytes(serializable.saveToArray(this.#ctx.seal.ComprModeType.none));
        } finally {
          serializable.delete();
        }
      }
      const ciphertext = new this.#ctx.seal.Ciphertext();
      try {
        this.#encryptor.encryptSymmetric(plaintext, ciphertext);
        return ownedBytes(ciphertext.saveToArray(this.#ctx.seal.ComprModeType.none));
      } finally {
        ciphertext.delete();
      }
    });
  }

  /**
   * Decrypts a result blob into one prediction per reading. Pass the input's hash to check the
   * result answers it. Scores are rounded to the model's stated precision before anything is
   * returned: raw CKKS decryptions carry noise that can leak the secret key (Li–Micciancio).
   * `noise` (for a result that leaves the client: sdk/results/release.ts) is added to each raw
   * score before that rounding — noise flooding, docs/fhe.md "Decryption hygiene".
   */
  decrypt(model: ModelArtifact, result: Uint8Array, options: DecryptOptions = {}): Prediction[] {
    this.#alive();
    const ctx = this.#ctx;
    if (model.paramSetId !== this.paramSetId) throw new WrongParameterSetError(this.paramSetId, model.paramSetId);
    const layout = model.encodingSpec.layout;
    const { header, ciphertexts } = openCiphertextBlob(ctx, result, {
      kind: "result",
      chainIndex: ctx.firstChainIndex,
      size: 2,
      scaleLog2: ctx.set.inputScaleLog2 + ctx.set.weightScaleLog2,
      layouts: {
        tiled: fixedCount(1, layout.readingsPerCiphertext),
        columns: {
          maxReadings: MAX_COLUMN_GROUPS * slotCount(ctx.set),
          count: (readings) => columnGroups(readings, slotCount(ctx.set)) * layout.scoreCount,
          maxCount: MAX_COLUMN_GROUPS * layout.scoreCount + 1,
          encryptedCount: COLUMN_GROUP_BUCKETS.map((groups) => groups * layout.scoreCount + 1),
        },
      },
    });
    if (options.inputHash !== undefined && header.binding !== options.inputHash) throw new ResultBindingError(options.inputHash, header.binding);
    const ciphertext = new ctx.seal.Ciphertext();
    const plaintext = new ctx.seal.Plaintext();
    try {
      const decoded = ciphertexts.map((bytes) =>
        sealCall("decryption", () => {
          ciphertext.loadFromArray(ctx.context, bytes);
          this.#decryptor.decrypt(ciphertext, plaintext);
          return ctx.encoder.decodeFloat64(plaintext) as Float64Array;
        }),
      );
      let rows: number[][];
      if (header.layout === "columns") {
        // Reading r: group floor(r / slots), slot r mod slots, one ciphertext per score in the group.
        const slots = slotCount(ctx.set);
        const scores = layout.scoreCount;
        const readings = header.readings !== 0 ? header.readings : encryptedColumnCount(decoded, scores, slots);
        rows = Array.from({ length: readings }, (_, r) => {
          const group = Math.floor(r / slots);
          return Array.from({ length: scores }, (_, k) => (decoded[group * scores + k] as Float64Array)[r % slots] as number);
        });
      } else {
        const slots = decoded[0] as Float64Array;
        const readings = header.readings !== 0 ? header.readings : encryptedTiledCount(layout, slots);
        rows = readings === 1 ? [averageRows(sumRanges(layout, slots, layout.readingsPerCiphertext))] : sumRanges(layout, slots, readings);
      }
      for (const slots of decoded) slots.fill(0);
      const noise = options.noise;
      let drawn = 0;
      return rows.map((scores) => predictionFromScores(model, noise === undefined ? scores : scores.map((score) => score + noise(drawn++))));
    } finally {
      ciphertext.delete();
      plaintext.delete();
    }
  }

  /** Frees every SEAL object of this key set. The client is unusable afterwards. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#encryptor.delete();
    this.#decryptor.delete();
    this.#secretKey.delete();
    this.#keygen.delete();
  }

  #alive(): void {
    if (this.#disposed) throw new TypeError("FheClient has been disposed");
  }
}

/**
 * Encryption for a device that holds only the patient's evaluation-key blob (its public key):
 * it can encrypt readings to the patient but decrypt nothing. Produces full (unseeded) inputs.
 */
export class FhePublicEncryptor {
  readonly paramSetId: string;
  readonly #ctx: ParameterContext;
  readonly #publicKey: PublicKey;
  readonly #encryptor: Encryptor;

  private constructor(ctx: ParameterContext, publicKey: PublicKey) {
    this.paramSetId = ctx.set.id;
    this.#ctx = ctx;
    this.#publicKey = publicKey;
    this.#encryptor = new ctx.seal.Encryptor(ctx.context, publicKey);
  }

  static async fromEvaluationKeys(evaluationKeys: Uint8Array, paramSetId: string): Promise<FhePublicEncryptor> {
    // A device refuses a blob that is not public keys only (a secret key handed over by mistake).
    const { sections } = checkPublicKeysOnly(evaluationKeys, paramSetId);
    if (sections.publicKey === undefined) throw new MissingEvaluationKeysError("public key");
    const ctx = await parameterContext(paramSetId);
    const publicKey = new ctx.seal.PublicKey();
    try {
      sealCall("public key load", () => publicKey.loadFromArray(ctx.context, sections.publicKey));
    } catch (error) {
      publicKey.delete();
      throw error;
    }
    return new FhePublicEncryptor(ctx, publicKey);
  }

  encrypt(model: ModelArtifact, readings: Reading | readonly Reading[], options: Omit<EncryptOptions, "form"> = {}): Uint8Array {
    return encryptReadings(this.#ctx, model, readings, { ...options, form: "full" }, (plaintext) => {
      const ciphertext = new this.#ctx.seal.Ciphertext();
      try {
        this.#encryptor.encrypt(plaintext, ciphertext);
        return ownedBytes(ciphertext.saveToArray(this.#ctx.seal.ComprModeType.none));
      } finally {
        ciphertext.delete();
      }
    });
  }

  dispose(): void {
    this.#encryptor.delete();
    this.#publicKey.delete();
  }
}

function encryptReadings(
  ctx: ParameterContext,
  model: ModelArtifact,
  readings: Reading | readonly Reading[],
  options: EncryptOptions,
  encrypt: (plaintext: import("node-seal").Plaintext, seeded: boolean) => Uint8Array,
): Uint8Array {
  if (model.paramSetId !== ctx.set.id) throw new WrongParameterSetError(ctx.set.id, model.paramSetId);
  const list = Array.isArray(readings) ? (readings as readonly Reading[]) : [readings as Reading];
  const spec = model.encodingSpec;
  const tuples = list.map((reading) => encodeReading(spec, reading));
  const slotsPerCiphertext = slotCount(ctx.set);
  const layoutName = options.layout ?? "tiled";
  let slotVectors: Float64Array[];
  if (layoutName === "columns") slotVectors = layColumns(spec, tuples, slotsPerCiphertext);
  else {
    // A single reading is replicated into every block; the client averages the copies (noise / √copies).
    const tiled = tuples.length === 1 ? new Array<Float64Array>(spec.layout.readingsPerCiphertext).fill(tuples[0] as Float64Array) : tuples;
    slotVectors = [layTuples(spec.layout, tiled, slotsPerCiphertext)];
    // The count travels encrypted (fhe/encoding.ts tiledCountSlot), not in the header.
    (slotVectors[0] as Float64Array)[tiledCountSlot(spec.layout, slotsPerCiphertext)] = tuples.length / tiledCountDivisor(spec.layout);
  }
  const plaintext = new ctx.seal.Plaintext();
  const seeded = (options.form ?? "seeded") === "seeded";
  try {
    const ciphertexts = slotVectors.map((slots) => {
      sealCall("encoding", () => (ctx.encoder as CKKSEncoder).encode(slots, 2 ** ctx.set.inputScaleLog2, plaintext));
      slots.fill(0);
      return sealCall("encryption", () => encrypt(plaintext, seeded));
    });
    return writeCiphertextBlob(
      ctx,
      "input",
      ciphertexts,
      { chainIndex: ctx.firstChainIndex, size: 2, scaleLog2: ctx.set.inputScaleLog2, seeded },
      // readings 0: the count is inside the ciphertext, the header says nothing of it.
      { codec: options.codec ?? "packed", readings: 0, binding: model.encodingSpecHash, layout: layoutName },
    );
  } finally {
    plaintext.delete();
  }
}

/**
 * The model's output function on its scores, as the client applies it after decryption: scores
 * rounded to the model's stated precision, then sigmoid / softmax over `[0, ...scores]`. Also the
 * plaintext reference: `predictionFromScores(model, scoreReading(model, reading))`.
 */
export function predictionFromScores(model: Pick<ModelArtifact, "output">, rawScores: number[]): Prediction {
  const { output } = model;
  const scores = rawScores.map((s) => roundTo(s, output.scoreDecimals));
  const all = [0, ...scores];
  const max = Math.max(...all);
  const exps = all.map((s) => Math.exp(s - max));
  const total = exps.reduce((a, b) => a + b, 0);
  const probabilities = exps.map((e) => roundTo(e / total, output.probabilityDecimals));
  let classIndex = 0;
  all.forEach((s, i) => {
    if (s > (all[classIndex] as number)) classIndex = i;
  });
  const label = output.labels[classIndex];
  if (label === undefined) throw new MalformedBlobError("score count does not match the model's labels");
  return { scores, probabilities, classIndex, label };
}

/** The reading count a tiled result carries in its count slot; MalformedBlobError if it is not one. */
function encryptedTiledCount(layout: ModelArtifact["encodingSpec"]["layout"], slots: Float64Array): number {
  const count = decodeCount(slots[tiledCountSlot(layout, slots.length)] as number, tiledCountDivisor(layout));
  if (!(count >= 1 && count <= layout.readingsPerCiphertext)) throw new MalformedBlobError("the encrypted reading count is out of range", { max: layout.readingsPerCiphertext });
  return count;
}

/** The reading count a columns result carries in its last ciphertext (the mean of its slots). */
function encryptedColumnCount(decoded: Float64Array[], scores: number, slotsPerGroup: number): number {
  const marker = decoded[decoded.length - 1] as Float64Array;
  const count = decodeCount(marker.reduce((a, b) => a + b, 0) / marker.length, COLUMN_COUNT_DIVISOR);
  const capacity = ((decoded.length - 1) / scores) * slotsPerGroup;
  if (!(count >= 1 && count <= capacity)) throw new MalformedBlobError("the encrypted reading count is out of range", { capacity });
  return count;
}

function averageRows(rows: number[][]): number[] {
  const sums = new Array<number>((rows[0] as number[]).length).fill(0);
  for (const row of rows) row.forEach((v, k) => (sums[k]! += v));
  return sums.map((v) => v / rows.length);
}

function roundTo(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor + 0; // + 0 turns −0 into 0
}
