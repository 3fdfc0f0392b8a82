/**
 * Readings files: CSV with a header row naming at least `time`, `metric` and `value` (any order;
 * an optional `unit` column is checked against the metric's UCUM unit). `time` is ISO 8601 or
 * Unix seconds; `metric` one of METRICS (heart_rate, systolic_bp, …); `value` a finite number in
 * the metric's plausible range. Blank lines and lines starting with `#` are skipped.
 *
 * Malformed rows are reported with their 1-based line number. Policy: by default a file with any
 * malformed row is refused as a whole (ReadingsParseError, nothing ingested) — a partial upload of
 * clinical data is worse than none. `skipInvalid: true` ingests the valid rows and returns the
 * rejected ones, so the caller can report them.
 */
import { isMetric, METRICS, type Reading } from "../fhir/observations.js";
import { ReadingsParseError } from "../errors.js";

export type RejectedRow = { line: number; problem: string };
export type ParseReadingsResult = { readings: Reading[]; rejected: RejectedRow[] };

export function parseReadingsCsv(text: string, options: { skipInvalid?: boolean } = {}): ParseReadingsResult {
  const lines = text.split(/\r?\n/);
  const headerIndex = lines.findIndex((l) => l.trim() !== "" && !l.trim().startsWith("#"));
  if (headerIndex < 0) throw new ReadingsParseError([{ line: 1, problem: "empty file: expected a header row time,metric,value" }]);
  const columns = lines[headerIndex]!.split(",").map((c) => c.trim().toLowerCase());
  const col = (name: string) => columns.indexOf(name);
  const missing = ["time", "metric", "value"].filter((name) => col(name) < 0);
  if (missing.length > 0) throw new ReadingsParseError([{ line: headerIndex + 1, problem: `header lacks column(s) ${missing.join(", ")}` }]);

  const readings: Reading[] = [];
  const rejected: RejectedRow[] = [];
  for (let i = headerIndex + 1; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === "" || raw.startsWith("#")) continue;
    const cells = raw.split(",").map((c) => c.trim());
    const reject = (problem: string) => rejected.push({ line: i + 1, problem });
    if (cells.length !== columns.length) {
      reject(`expected ${columns.length} fields, found ${cells.length}`);
      continue;
    }
    const metric = cells[col("metric")]!;
    if (!isMetric(metric)) {
      reject(`unknown metric "${metric.slice(0, 40)}"`);
      continue;
    }
    const timeCell = cells[col("time")]!;
    const millis = /^\d+$/.test(timeCell) ? Number(timeCell) * 1000 : Date.parse(timeCell);
    if (!Number.isFinite(millis)) {
      reject(`unparseable time "${timeCell.slice(0, 40)}"`);
      continue;
    }
    const valueCell = cells[col("value")]!;
    const value = Number(valueCell);
    const spec = METRICS[metric];
    if (valueCell === "" || !Number.isFinite(value)) {
      reject(`value is not a number`);
      continue;
    }
    if (value < spec.min || value > spec.max) {
      reject(`${metric} value outside ${spec.min}..${spec.max} ${spec.unit}`);
      continue;
    }
    if (col("unit") >= 0 && cells[col("unit")] !== "" && cells[col("unit")] !== spec.unit) {
      reject(`unit must be ${spec.unit} for ${metric}`);
      continue;
    }
    readings.push({ time: new Date(millis).toISOString(), metric, value });
  }
  if (rejected.length > 0 && !options.skipInvalid) throw new ReadingsParseError(rejected);
  return { readings, rejected };
}
