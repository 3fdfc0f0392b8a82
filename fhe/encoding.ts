/**
 * A model's input contract: which readings the client supplies, how it turns them into the
 * feature tuple the server multiplies, and where the tuple sits in the CKKS slots.
 *
 * Following PMHE, every non-linear step (squares, products, one-hot, logarithms) and the
 * normalisation run on the client, before encryption, so the server circuit is one
 * ciphertext × plaintext product. The spec is plain JSON; its canonical SHA-256
 * (`encodingSpecHash`) is what the model registry stores on-chain.
 */
import { BaseError } from "../core/errors.js";

/** One raw reading the client supplies (a vital sign, a lab value, a questionnaire answer). */
export type InputFeature = {
  name: string;
  description: string;
  /** UCUM unit, or "1" for a dimensionless code. */
  unit: string;
  /** LOINC code of the observation, where one exists. */
  loinc?: string;
  kind: "continuous" | "binary" | "categorical";
  /** Allowed values for binary and categorical inputs. */
  categories?: number[];
  /** Plausible range; readings outside it are rejected (they would also overflow the slot budget). */
  min: number;
  max: number;
};

/** How one tuple slot is computed from the raw readings (before normalisation). */
export type FeatureExpression =
  | { op: "input"; input: string }
  /** `(input − center)²`: centring keeps the square from being collinear with the input itself. */
  | { op: "square"; input: string; center: number }
  | { op: "product"; inputs: [string, string] }
  | { op: "log"; input: string }
  | { op: "oneHot"; input: string; value: number }
  | { op: "atLeast"; input: string; threshold: number }
  | { op: "constant"; value: number };

/** One slot of the feature tuple: `(expression(readings) - mean) / std`. */
export type TupleFeature = { name: string; expression: FeatureExpression; mean: number; std: number };

export type SlotLayout = {
  /** Slots one tuple occupies (the last feature is the constant 1 that carries the bias). */
  tupleLength: number;
  /** Scores per reading: 1 for a binary model, classes − 1 for a multinomial one. */
  scoreCount: number;
  /** `tupleLength × scoreCount`: the tuple is repeated once per score, each copy meeting one weight row. */
  blockWidth: number;
  /** Readings packed into one ciphertext in batch mode: `floor(slots / blockWidth)`. */
  readingsPerCiphertext: number;
};

export type EncodingSpec = {
  specVersion: 1;
  inputs: InputFeature[];
  features: TupleFeature[];
  layout: SlotLayout;
};

/** The readings of one moment: raw input name → value in the input's unit. */
export type Reading = Record<string, number>;

export class InvalidReadingError extends BaseError {
  override name = "InvalidReadingError";
  constructor(reason: string, details: Record<string, unknown>) {
    super(`Reading rejected: ${reason}`, { code: "FHE_INVALID_READING", details });
  }
}

/**
 * Computes the normalised feature tuple of one reading. Throws `InvalidReadingError` (without
 * echoing the value: it is health data) when an input is missing, not finite, out of range, or
 * not an allowed category.
 */
export function encodeReading(spec: EncodingSpec, reading: Reading): Float64Array {
  const inputs = new Map(spec.inputs.map((input) => [input.name, input]));
  for (const input of spec.inputs) {
    const value = reading[input.name];
    if (value === undefined || !Number.isFinite(value)) {
      throw new InvalidReadingError("missing or not a finite number", { input: input.name });
    }
    if (value < input.min || value > input.max) {
      throw new InvalidReadingError("outside the plausible range", { input: input.name, min: input.min, max: input.max });
    }
    if (input.categories !== undefined && !input.categories.includes(value)) {
      throw new InvalidReadingError("not an allowed category", { input: input.name, categories: input.categories });
    }
  }
  const get = (name: string): number => {
    if (!inputs.has(name)) throw new InvalidReadingError("the spec names an unknown input", { input: name });
    return reading[name] as number;
  };
  const tuple = new Float64Array(spec.features.length);
  spec.features.forEach((feature, i) => {
    tuple[i] = (evaluateExpression(feature.expression, get) - feature.mean) / feature.std;
  });
  return tuple;
}

export function evaluateExpression(expression: FeatureExpression, get: (name: string) => number): number {
  switch (expression.op) {
    case "input":
      return get(expression.input);
    case "square":
      return (get(expression.input) - expression.center) ** 2;
    case "product":
      return get(expression.inputs[0]) * get(expression.inputs[1]);
    case "log":
      return Math.log(get(expression.input));
    case "oneHot":
      return get(expression.input) === expression.value ? 1 : 0;
    case "atLeast":
      return get(expression.input) >= expression.threshold ? 1 : 0;
    case "constant":
      return expression.value;
  }
}

/** The slot layout for a tuple of `tupleLength` features and `scoreCount` scores in `slotCount` slots. */
export function slotLayout(tupleLength: number, scoreCount: number, slotCount: number): SlotLayout {
  const blockWidth = tupleLength * scoreCount;
  return { tupleLength, scoreCount, blockWidth, readingsPerCiphertext: Math.floor(slotCount / blockWidth) };
}

/**
 * Lays tuples out in the slots: reading r, score s, feature f goes to slot
 * `r × blockWidth + s × tupleLength + f`. Slots after the last block stay zero.
 */
export function layTuples(layout: SlotLayout, tuples: readonly Float64Array[], slotCount: number): Float64Array {
  if (tuples.length === 0 || tuples.length > layout.readingsPerCiphertext) {
    throw new InvalidReadingError("wrong number of readings for one ciphertext", {
      readings: tuples.length,
      max: layout.readingsPerCiphertext,
    });
  }
  const slots = new Float64Array(slotCount);
  tuples.forEach((tuple, r) => {
    for (let s = 0; s < layout.scoreCount; s++) slots.set(tuple, r * layout.blockWidth + s * layout.tupleLength);
  });
  return slots;
}

/**
 * The reading count travels encrypted, not in the blob header (whose size and fields anyone on
 * the path sees). Tiled: in the last slot, after the last block, as `count / countDivisor`; the
 * server's weights hold 1 there, so the result's last slot decrypts to the same value and only
 * the key holder learns the count. The divisor keeps the value ≤ 64, well inside the slot
 * budget, with a step of at least 1/8 between counts against a per-slot noise of ~10⁻³.
 */
export function tiledCountSlot(layout: SlotLayout, slotCount: number): number {
  const slot = slotCount - 1;
  if (layout.readingsPerCiphertext * layout.blockWidth > slot) {
    throw new InvalidReadingError("the slot layout leaves no slot for the encrypted reading count", { blockWidth: layout.blockWidth, readingsPerCiphertext: layout.readingsPerCiphertext });
  }
  return slot;
}

/** The power of two the tiled count is divided by (so it stays ≤ 64). */
export function tiledCountDivisor(layout: SlotLayout): number {
  return 2 ** Math.max(0, Math.ceil(Math.log2(layout.readingsPerCiphertext / 64)));
}

/** Columns: the count, over 128, in every slot of one extra ciphertext (≤ 64 for 8,192 readings); decoded as the mean. */
export const COLUMN_COUNT_DIVISOR = 128;

/** Column groups are padded to a power of two (1, 2, 4, 8): the number of ciphertexts tells a bucket, not ⌈readings / slots⌉. */
export function bucketedColumnGroups(readings: number, slotCount: number): number {
  return 2 ** Math.ceil(Math.log2(columnGroups(readings, slotCount)));
}

/** The count a decrypted marker holds (the caller checks its range). */
export function decodeCount(marker: number, divisor: number): number {
  return Math.round(marker * divisor);
}

/** The weight rows tiled over every block, as the server multiplies them, and 1 in the count slot. */
export function layWeights(layout: SlotLayout, weights: readonly (readonly number[])[], slotCount: number): Float64Array {
  const slots = new Float64Array(slotCount);
  for (let r = 0; r < layout.readingsPerCiphertext; r++) {
    weights.forEach((row, s) => slots.set(row, r * layout.blockWidth + s * layout.tupleLength));
  }
  slots[tiledCountSlot(layout, slotCount)] = 1;
  return slots;
}

/** Sums each tuple-long range of decoded slots: scores[r][s] for the first `readings` blocks. */
export function sumRanges(layout: SlotLayout, slots: ArrayLike<number>, readings: number): number[][] {
  const scores: number[][] = [];
  for (let r = 0; r < readings; r++) {
    const row: number[] = [];
    for (let s = 0; s < layout.scoreCount; s++) {
      const start = r * layout.blockWidth + s * layout.tupleLength;
      let sum = 0;
      for (let f = 0; f < layout.tupleLength; f++) sum += slots[start + f] as number;
      row.push(sum);
    }
    scores.push(row);
  }
  return scores;
}

/**
 * Column layout (batch mode): reading r sits in slot `r mod slots` of group `floor(r / slots)`;
 * a group is one ciphertext per non-constant feature, and the server returns one ciphertext per
 * score and group. Constant features (the bias) never travel: the server adds their weights as a
 * plaintext. Up to `MAX_COLUMN_GROUPS` groups per request (8,192 readings at N=2048: more than
 * five days of per-minute vitals).
 */
export const MAX_COLUMN_GROUPS = 8;

/** The numbers of column groups a current-form batch may hold (bucketedColumnGroups). */
export const COLUMN_GROUP_BUCKETS: readonly number[] = [1, 2, 4, 8];

/** The indices of the features that travel in the column layout. */
export function columnFeatureIndices(spec: EncodingSpec): number[] {
  return spec.features.flatMap((feature, f) => (feature.expression.op === "constant" ? [] : [f]));
}

/** Groups of `slotCount` readings needed for `readings` readings. */
export function columnGroups(readings: number, slotCount: number): number {
  return Math.ceil(readings / slotCount);
}

/** Per score, the contribution of the constant features: Σ w_f · (value − mean) / std. */
export function constantOffsets(spec: EncodingSpec, weights: readonly (readonly number[])[]): number[] {
  return weights.map((row) =>
    spec.features.reduce((sum, feature, f) => {
      const e = feature.expression;
      return e.op === "constant" ? sum + (row[f] as number) * ((e.value - feature.mean) / feature.std) : sum;
    }, 0),
  );
}

/**
 * The column plaintexts of a batch, group by group: group g, feature j at index g × features + j,
 * groups padded with empty ones to a power of two, then the count vector (COLUMN_COUNT_DIVISOR).
 */
export function layColumns(spec: EncodingSpec, tuples: readonly Float64Array[], slotCount: number): Float64Array[] {
  if (tuples.length === 0 || tuples.length > MAX_COLUMN_GROUPS * slotCount) {
    throw new InvalidReadingError("wrong number of readings for one column batch", { readings: tuples.length, max: MAX_COLUMN_GROUPS * slotCount });
  }
  const features = columnFeatureIndices(spec);
  const vectors: Float64Array[] = [];
  for (let g = 0; g < bucketedColumnGroups(tuples.length, slotCount); g++) {
    const group = tuples.slice(g * slotCount, (g + 1) * slotCount);
    for (const f of features) vectors.push(Float64Array.from({ length: slotCount }, (_, r) => (r < group.length ? (group[r]![f] as number) : 0)));
  }
  vectors.push(new Float64Array(slotCount).fill(tuples.length / COLUMN_COUNT_DIVISOR));
  return vectors;
}
