/**
 * Readings in the page: a sample day for trying the app without a wearable, grouping for the
 * charts, and a model's inputs prefilled from the latest reading of each (in the model's units).
 */
import { METRICS, type Metric, type Reading } from "medcipher";

import type { AppModelFeature } from "../config.js";

const HOUR_SECONDS = 3_600;

/** 24 hourly readings of the vitals a home device measures, as the CSV a wearable's app exports. */
export function sampleDayCsv(endSeconds: number, base = { systolic_bp: 128, diastolic_bp: 84, glucose: 120, body_temperature: 37.1, heart_rate: 82 }): string {
  const lines = ["time,metric,value,unit"];
  const decimals: Record<string, number> = { systolic_bp: 0, diastolic_bp: 0, glucose: 1, body_temperature: 2, heart_rate: 0 };
  for (let hour = 23; hour >= 0; hour--) {
    const time = endSeconds - hour * HOUR_SECONDS;
    for (const [metric, value] of Object.entries(base) as [Metric, number][]) {
      // A believable swing: ±4 % for most vitals, a few tenths of a degree for temperature.
      const swing = metric === "body_temperature" ? 0.008 : 0.04;
      const wobble = hour === 0 ? 0 : Math.sin(hour / 3 + metric.length) * swing * value;
      lines.push(`${time},${metric},${(value + wobble).toFixed(decimals[metric] ?? 1)},${METRICS[metric].unit}`);
    }
  }
  return lines.join("\n") + "\n";
}

export type SeriesPoint = { t: number; value: number };

/** Readings by metric, oldest first. */
export function seriesByMetric(readings: readonly Reading[]): Map<Metric, SeriesPoint[]> {
  const series = new Map<Metric, SeriesPoint[]>();
  for (const reading of readings) {
    const points = series.get(reading.metric) ?? [];
    points.push({ t: Date.parse(reading.time), value: reading.value });
    series.set(reading.metric, points);
  }
  for (const points of series.values()) points.sort((a, b) => a.t - b.t);
  return series;
}

/** Unit conversions between what devices report and what the models were trained on. */
const CONVERSIONS: Record<string, (value: number) => number> = {
  "Cel->[degF]": (c) => (c * 9) / 5 + 32,
  "mg/dL->mmol/L": (mg) => mg / 18.016,
};

/** The metric a model input measures: by name as the bundled models spell it, or by LOINC. */
const FEATURE_METRIC: Record<string, Metric> = {
  systolicBP: "systolic_bp", diastolicBP: "diastolic_bp", bloodGlucose: "glucose", bodyTemp: "body_temperature", heartRate: "heart_rate",
  trestbps: "systolic_bp", thalach: "heart_rate",
};

function metricOf(feature: AppModelFeature): Metric | undefined {
  if (feature.loinc) {
    const byLoinc = (Object.keys(METRICS) as Metric[]).find((m) => METRICS[m].loinc === feature.loinc);
    if (byLoinc) return byLoinc;
  }
  return FEATURE_METRIC[feature.name];
}

/** The latest reading for each model input a device measures, converted to the input's unit. */
export function prefillFromReadings(features: readonly AppModelFeature[], readings: readonly Reading[]): Record<string, number> {
  const latest = new Map<Metric, Reading>();
  for (const reading of readings) {
    const seen = latest.get(reading.metric);
    if (!seen || Date.parse(reading.time) >= Date.parse(seen.time)) latest.set(reading.metric, reading);
  }
  const values: Record<string, number> = {};
  for (const feature of features) {
    const metric = metricOf(feature);
    const reading = metric ? latest.get(metric) : undefined;
    if (!metric || !reading) continue;
    const from = METRICS[metric].unit;
    const convert = feature.unit && feature.unit !== from ? CONVERSIONS[`${from}->${feature.unit}`] : (v: number) => v;
    if (convert) values[feature.name] = Number(convert(reading.value).toFixed(2));
  }
  return values;
}
