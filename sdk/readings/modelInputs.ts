/**
 * From a device's readings (FHIR Observations by LOINC, in their UCUM units) to a model's input
 * features (the encoding spec names each input's LOINC code and unit). This is the client-side
 * step before encryption: the oracle only ever sees the encrypted tuple.
 */
import type { ModelArtifact, Reading as FeatureReading } from "../../fhe/index.js";
import { InvalidInputError } from "../errors.js";
import { METRICS, type Metric, type Reading } from "../fhir/observations.js";

/** Unit conversions between what devices report and what the models were trained on. */
const CONVERSIONS: Record<string, (value: number) => number> = {
  "Cel->[degF]": (c) => (c * 9) / 5 + 32,
  "[degF]->Cel": (f) => ((f - 32) * 5) / 9,
  // Glucose: 1 mmol/L = 18.016 mg/dL (molar mass of glucose 180.16 g/mol).
  "mg/dL->mmol/L": (mg) => mg / 18.016,
  "mmol/L->mg/dL": (mmol) => mmol * 18.016,
};

/** LOINC codes that measure the same thing in another unit (mass vs substance concentration). */
const SAME_QUANTITY: Record<string, string> = { "15074-8": "2339-0", "2339-0": "15074-8" };

export type ModelInputsFromReadingsParameters = {
  model: Pick<ModelArtifact, "encodingSpec">;
  readings: readonly Reading[];
  /** Inputs no device measures (age, sex, clinical findings), by feature name. */
  known?: FeatureReading;
};

/**
 * The model's feature reading from the latest device reading of each input it needs, converted
 * to the model's units, plus `known` values. Throws InvalidInputError naming what is missing.
 *
 * @example
 * const features = modelInputsFromReadings({ model, readings, known: { age: 29 } });
 * const input = fhe.encrypt(model, features);
 */
export function modelInputsFromReadings(parameters: ModelInputsFromReadingsParameters): FeatureReading {
  const latest = new Map<Metric, Reading>();
  for (const reading of parameters.readings) {
    const seen = latest.get(reading.metric);
    if (!seen || Date.parse(reading.time) >= Date.parse(seen.time)) latest.set(reading.metric, reading);
  }
  const features: FeatureReading = {};
  const missing: string[] = [];
  for (const input of parameters.model.encodingSpec.inputs) {
    const given = parameters.known?.[input.name];
    if (given !== undefined) {
      features[input.name] = given;
      continue;
    }
    const metric = input.loinc === undefined ? undefined : metricFor(input.loinc);
    const reading = metric === undefined ? undefined : latest.get(metric);
    if (metric === undefined || reading === undefined) {
      missing.push(input.name);
      continue;
    }
    features[input.name] = convert(reading.value, METRICS[metric].unit, input.unit);
  }
  if (missing.length > 0) throw new InvalidInputError(`No reading or known value for model input(s): ${missing.join(", ")}.`, { missing });
  return features;
}

function metricFor(loinc: string): Metric | undefined {
  const codes = [loinc, SAME_QUANTITY[loinc]];
  return (Object.keys(METRICS) as Metric[]).find((metric) => codes.includes(METRICS[metric].loinc));
}

function convert(value: number, from: string, to: string): number {
  if (from === to) return value;
  const conversion = CONVERSIONS[`${from}->${to}`];
  if (!conversion) throw new InvalidInputError(`No conversion from ${from} to ${to}.`, { from, to });
  return conversion(value);
}
