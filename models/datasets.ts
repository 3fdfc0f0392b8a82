/**
 * Loads the two datasets in data/ exactly as the training script and the tests see them.
 * Every cleaning step is here, once: imputation of the heart data's '?' and de-duplication
 * of the maternal set happen before any split.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const DATA_DIR = fileURLToPath(new URL("../data/", import.meta.url));

/** Rows of raw readings (input name → value) with an integer label. */
export type Dataset = { inputNames: string[]; rows: Record<string, number>[]; labels: number[]; notes: string[] };

export const HEART_INPUTS = [
  "age", "sex", "cp", "trestbps", "chol", "fbs", "restecg", "thalach", "exang", "oldpeak", "slope", "ca", "thal",
] as const;

/**
 * UCI Heart Disease, Cleveland subset: 303 rows, label `num > 0`. The six '?' (4 in `ca`, 2 in
 * `thal`) are imputed with the column's mode over all 303 rows (`ca` = 0, `thal` = 3): the mode
 * of a categorical column barely depends on the split, and a patient using the model must
 * supply every input anyway (imputation is a training-data step only).
 */
export function loadHeartDisease(): Dataset {
  const text = readFileSync(new URL("processed.cleveland.data", `file://${DATA_DIR}`), "utf8");
  const raw = text.split("\n").filter((line) => line.trim() !== "").map((line) => line.split(","));
  const mode = (column: number): number => {
    const counts = new Map<number, number>();
    for (const fields of raw) {
      const value = fields[column] as string;
      if (value !== "?") counts.set(Number(value), (counts.get(Number(value)) ?? 0) + 1);
    }
    return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0];
  };
  const modes = HEART_INPUTS.map((_, column) => mode(column));
  const notes: string[] = [];
  const rows = raw.map((fields, r) => {
    const row: Record<string, number> = {};
    HEART_INPUTS.forEach((name, column) => {
      const value = fields[column] as string;
      if (value === "?") notes.push(`row ${r}: ${name} '?' imputed with mode ${modes[column]}`);
      row[name] = value === "?" ? (modes[column] as number) : Number(value);
    });
    return row;
  });
  const labels = raw.map((fields) => (Number(fields[13]) > 0 ? 1 : 0));
  return { inputNames: [...HEART_INPUTS], rows, labels, notes };
}

export const MATERNAL_INPUTS = ["age", "systolicBP", "diastolicBP", "bloodGlucose", "bodyTemp", "heartRate"] as const;
export const MATERNAL_CLASSES = ["low risk", "mid risk", "high risk"] as const;

/**
 * Maternal Health Risk: 1014 rows, of which 562 duplicate another row. Exact duplicates are
 * removed first (keeping the first occurrence, in file order), then the rows with a heart rate
 * below 30 bpm (entry errors: the file has 7 bpm) are dropped, leaving the set that is split.
 */
export function loadMaternalRisk(): Dataset {
  const text = readFileSync(new URL("maternal-health-risk.csv", `file://${DATA_DIR}`), "utf8").replace(/^\uFEFF/, "");
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== "").slice(1);
  const seen = new Set<string>();
  const rows: Record<string, number>[] = [];
  const labels: number[] = [];
  let duplicates = 0;
  let implausible = 0;
  for (const line of lines) {
    if (seen.has(line)) {
      duplicates++;
      continue;
    }
    seen.add(line);
    const fields = line.split(",");
    const row: Record<string, number> = {};
    MATERNAL_INPUTS.forEach((name, column) => (row[name] = Number(fields[column])));
    if ((row.heartRate as number) < 30) {
      implausible++;
      continue;
    }
    const label = MATERNAL_CLASSES.indexOf(fields[6] as (typeof MATERNAL_CLASSES)[number]);
    if (label < 0) throw new Error(`unknown risk level in maternal data: ${fields[6]}`);
    rows.push(row);
    labels.push(label);
  }
  const notes = [`${lines.length} rows read`, `${duplicates} exact duplicates removed`, `${implausible} rows with heart rate < 30 bpm removed`];
  return { inputNames: [...MATERNAL_INPUTS], rows, labels, notes };
}
