/**
 * Multinomial logistic regression with a reference class, fitted by Newton's method with an
 * L2 penalty (the bias, the last tuple slot, is not penalised). With two classes it is plain
 * logistic regression. Class 0 is the reference: the model has `classes − 1` weight rows and
 * the scores of a tuple x are `s_k = w_k · x` (k ≥ 1), `s_0 = 0`, exactly what the encrypted
 * circuit computes. Deterministic: no randomness, fixed iteration rule.
 */

/** Weight rows, one per non-reference class, each as long as the tuple. */
export type Weights = number[][];

export function scores(weights: Weights, x: ArrayLike<number>): number[] {
  return weights.map((row) => {
    let s = 0;
    for (let f = 0; f < row.length; f++) s += (row[f] as number) * (x[f] as number);
    return s;
  });
}

/** Class probabilities from reference-class scores: softmax over [0, ...scores]. */
export function probabilities(scoreRow: readonly number[]): number[] {
  const all = [0, ...scoreRow];
  const max = Math.max(...all);
  const exps = all.map((s) => Math.exp(s - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

export function predictClass(scoreRow: readonly number[]): number {
  const p = probabilities(scoreRow);
  return p.indexOf(Math.max(...p));
}

export function fitLogistic(xs: readonly Float64Array[], ys: readonly number[], classes: number, lambda: number): Weights {
  const d = (xs[0] as Float64Array).length;
  const k = classes - 1;
  const n = k * d;
  const w = new Float64Array(n);
  for (let iteration = 0; iteration < 100; iteration++) {
    const gradient = new Float64Array(n);
    const hessian = Array.from({ length: n }, () => new Float64Array(n));
    xs.forEach((x, i) => {
      const p = probabilities(scores(unflatten(w, k, d), x)).slice(1);
      for (let a = 0; a < k; a++) {
        const residual = (p[a] as number) - (ys[i] === a + 1 ? 1 : 0);
        for (let f = 0; f < d; f++) gradient[a * d + f]! += residual * (x[f] as number);
        for (let b = 0; b < k; b++) {
          const c = (p[a] as number) * ((a === b ? 1 : 0) - (p[b] as number));
          if (c === 0) continue;
          for (let f = 0; f < d; f++) {
            const row = hessian[a * d + f] as Float64Array;
            const cf = c * (x[f] as number);
            for (let g = 0; g < d; g++) row[b * d + g]! += cf * (x[g] as number);
          }
        }
      }
    });
    for (let a = 0; a < k; a++) {
      for (let f = 0; f < d; f++) {
        const j = a * d + f;
        const penalty = f === d - 1 ? 1e-9 : lambda;
        gradient[j]! += penalty * (w[j] as number);
        hessian[j]![j]! += penalty;
      }
    }
    const step = solve(hessian, gradient);
    let size = 0;
    for (let j = 0; j < n; j++) {
      w[j]! -= step[j] as number;
      size = Math.max(size, Math.abs(step[j] as number));
    }
    if (size < 1e-12) break;
  }
  return unflatten(w, k, d);
}

function unflatten(w: Float64Array, k: number, d: number): Weights {
  return Array.from({ length: k }, (_, a) => Array.from(w.subarray(a * d, (a + 1) * d)));
}

/** Gaussian elimination with partial pivoting (the matrices here are at most ~100 × 100). */
function solve(matrix: Float64Array[], vector: Float64Array): Float64Array {
  const n = vector.length;
  const a = matrix.map((row) => Float64Array.from(row));
  const b = Float64Array.from(vector);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[pivot]![col]!)) pivot = r;
    [a[col], a[pivot]] = [a[pivot]!, a[col]!];
    [b[col], b[pivot]] = [b[pivot]!, b[col]!];
    const p = a[col]![col]!;
    for (let r = col + 1; r < n; r++) {
      const factor = a[r]![col]! / p;
      if (factor === 0) continue;
      for (let c = col; c < n; c++) a[r]![c]! -= factor * a[col]![c]!;
      b[r]! -= factor * b[col]!;
    }
  }
  const x = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    let s = b[r]!;
    for (let c = r + 1; c < n; c++) s -= a[r]![c]! * x[c]!;
    x[r] = s / a[r]![r]!;
  }
  return x;
}

/** A seeded PRNG (mulberry32): the split and fold assignment depend on the seed only. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Stratified assignment of row indices to `folds` folds (a seeded shuffle per class). */
export function stratifiedFolds(labels: readonly number[], folds: number, seed: number): number[] {
  const random = mulberry32(seed);
  const fold = new Array<number>(labels.length).fill(0);
  const classes = [...new Set(labels)].sort((a, b) => a - b);
  let offset = 0;
  for (const c of classes) {
    const members = labels.flatMap((y, i) => (y === c ? [i] : []));
    for (let i = members.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [members[i], members[j]] = [members[j]!, members[i]!];
    }
    members.forEach((row, position) => (fold[row] = (position + offset) % folds));
    offset += members.length;
  }
  return fold;
}

export type Metrics = { accuracy: number; auc?: number; macroF1: number; confusion: number[][] };

export function evaluateMetrics(scoreRows: readonly number[][], labels: readonly number[], classes: number): Metrics {
  const predicted = scoreRows.map(predictClass);
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  predicted.forEach((p, i) => confusion[labels[i]!]![p]!++);
  const accuracy = predicted.filter((p, i) => p === labels[i]).length / labels.length;
  const f1s = confusion.map((_, c) => {
    const tp = confusion[c]![c]!;
    const fp = confusion.reduce((s, row, r) => s + (r === c ? 0 : row[c]!), 0);
    const fn = confusion[c]!.reduce((s, v, p) => s + (p === c ? 0 : v), 0);
    return tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
  });
  const macroF1 = f1s.reduce((a, b) => a + b, 0) / classes;
  const metrics: Metrics = { accuracy, macroF1, confusion };
  if (classes === 2) metrics.auc = auc(scoreRows.map((s) => s[0]!), labels);
  return metrics;
}

/** Area under the ROC curve (Mann–Whitney U, ties counted half). */
export function auc(values: readonly number[], labels: readonly number[]): number {
  let positives = 0;
  let wins = 0;
  const negatives = values.filter((_, i) => labels[i] === 0);
  values.forEach((v, i) => {
    if (labels[i] !== 1) return;
    positives++;
    for (const n of negatives) wins += v > n ? 1 : v === n ? 0.5 : 0;
  });
  return wins / (positives * negatives.length);
}
