/**
 * FHIR R4 resources built from device readings, conformant to the R4 vital-signs profiles: one
 * Observation per reading (LOINC coded, UCUM units, `meta.profile` naming its profile), except
 * blood pressure, where the systolic and diastolic readings of one moment become one `bp` panel
 * (85354-9) with two components; and a collection Bundle per upload. Values stay as the device
 * reported them. docs/fhir.md lists the profiles and code systems.
 */
import type { Bundle, BundleEntry, CodeableConcept, Consent, Extension, Observation, ObservationComponent, Quantity, Resource } from "@medplum/fhirtypes";

import { purposeCodings, purposeFromCodings } from "../../protocol/codes.js";

export const LOINC = "http://loinc.org";
export const UCUM = "http://unitsofmeasure.org";
const PROFILE = "http://hl7.org/fhir/StructureDefinition/";

/**
 * The metrics a readings file may contain, with their LOINC code, UCUM unit and R4 vital-signs
 * profile. Glucose has none: it is a laboratory result in FHIR, not a vital sign. SpO2 carries
 * 2708-6 as well, which the `oxygensat` profile requires beside the pulse-oximetry code.
 */
export const METRICS = {
  heart_rate: { loinc: "8867-4", display: "Heart rate", unit: "/min", min: 0, max: 400, profile: "heartrate" },
  systolic_bp: { loinc: "8480-6", display: "Systolic blood pressure", unit: "mm[Hg]", min: 0, max: 400, profile: "bp" },
  diastolic_bp: { loinc: "8462-4", display: "Diastolic blood pressure", unit: "mm[Hg]", min: 0, max: 300, profile: "bp" },
  body_temperature: { loinc: "8310-5", display: "Body temperature", unit: "Cel", min: 20, max: 50, profile: "bodytemp" },
  glucose: { loinc: "2339-0", display: "Glucose [Mass/volume] in Blood", unit: "mg/dL", min: 0, max: 2000, profile: undefined },
  spo2: { loinc: "59408-5", display: "Oxygen saturation in Arterial blood by Pulse oximetry", unit: "%", min: 0, max: 100, profile: "oxygensat" },
  respiratory_rate: { loinc: "9279-1", display: "Respiratory rate", unit: "/min", min: 0, max: 150, profile: "resprate" },
  body_weight: { loinc: "29463-7", display: "Body weight", unit: "kg", min: 0, max: 700, profile: "bodyweight" },
} as const;
export type Metric = keyof typeof METRICS;

export function isMetric(value: string): value is Metric {
  return Object.hasOwn(METRICS, value);
}

export type Reading = {
  /** ISO 8601 instant. */
  time: string;
  metric: Metric;
  value: number;
  /** EIP-712 signature of the device over the reading (sdk/readings/deviceSignature.ts). */
  deviceSignature?: string;
};

/** Defined in fhir/StructureDefinition-device-signature.json: on an Observation, or on a blood-pressure component. */
export const DEVICE_SIGNATURE_EXTENSION = "https://medcipher.dev/fhir/StructureDefinition/device-signature";
/** fhir/CodeSystem-record-category.json: the contracts' record categories (sdk/codes.ts `Category`). */
export const RECORD_CATEGORY_SYSTEM = "https://medcipher.dev/fhir/CodeSystem/record-category";

const BLOOD_PRESSURE_PANEL = { loinc: "85354-9", display: "Blood pressure panel with all children optional" };
/** Codings beyond the metric's own LOINC code that its profile requires. */
const EXTRA_CODINGS: Partial<Record<Metric, { loinc: string; display: string }[]>> = {
  spo2: [{ loinc: "2708-6", display: "Oxygen saturation in Arterial blood" }],
};
const VITAL_SIGNS = { system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "vital-signs", display: "Vital Signs" };
const LABORATORY = { system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "laboratory", display: "Laboratory" };
/** A blood-pressure component the device did not report in the same moment (the profile requires both). */
const ABSENT = { coding: [{ system: "http://terminology.hl7.org/CodeSystem/data-absent-reason", code: "unknown", display: "Unknown" }] };

type Subject = { patient: string; device?: string };
const ethereum = (address: string) => ({ identifier: { system: "urn:ietf:rfc:3986", value: `urn:ethereum:${address}` } });
const quantity = (reading: Reading): Quantity => ({ value: reading.value, unit: METRICS[reading.metric].unit, system: UCUM, code: METRICS[reading.metric].unit });
const signature = (reading: Reading): Extension[] | undefined =>
  reading.deviceSignature ? [{ url: DEVICE_SIGNATURE_EXTENSION, valueString: reading.deviceSignature }] : undefined;
const isBloodPressure = (metric: Metric): metric is "systolic_bp" | "diastolic_bp" => metric === "systolic_bp" || metric === "diastolic_bp";

function metricCode(metric: Metric): CodeableConcept {
  const m = METRICS[metric];
  const extra = (EXTRA_CODINGS[metric] ?? []).map((c) => ({ system: LOINC, code: c.loinc, display: c.display }));
  return { coding: [...extra, { system: LOINC, code: m.loinc, display: m.display }], text: m.display };
}

function observationShell(time: string, subject: Subject, profile: string | undefined, code: CodeableConcept): Observation {
  return {
    resourceType: "Observation",
    meta: profile ? { profile: [`${PROFILE}${profile}`] } : undefined,
    status: "final",
    category: [{ coding: [profile ? VITAL_SIGNS : LABORATORY] }],
    code,
    subject: ethereum(subject.patient),
    device: subject.device ? ethereum(subject.device) : undefined,
    effectiveDateTime: time,
  };
}

/**
 * One reading as an Observation. A blood-pressure reading on its own becomes a `bp` panel whose
 * other component is absent (data-absent-reason `unknown`); `buildObservationBundle` pairs the
 * systolic and diastolic readings of one moment into one panel.
 *
 * @example
 * buildObservation({ time: "2026-01-01T08:00:00Z", metric: "heart_rate", value: 72 }, { patient: "0xabc…", device: "0xdef…" })
 */
export function buildObservation(reading: Reading, subject: Subject): Observation {
  if (isBloodPressure(reading.metric)) return buildBloodPressureObservation({ [reading.metric]: reading }, subject);
  const metric = METRICS[reading.metric];
  return { ...observationShell(reading.time, subject, metric.profile, metricCode(reading.metric)), valueQuantity: quantity(reading), extension: signature(reading) };
}

/**
 * A blood-pressure panel (R4 `bp` profile): LOINC 85354-9, no value of its own, one component per
 * reading, each carrying that reading's device signature. The time is the first reading's.
 */
export function buildBloodPressureObservation(pair: { systolic_bp?: Reading; diastolic_bp?: Reading }, subject: Subject): Observation {
  const time = (pair.systolic_bp ?? pair.diastolic_bp)?.time;
  if (time === undefined) throw new TypeError("buildBloodPressureObservation: no reading");
  const component = (["systolic_bp", "diastolic_bp"] as const).map((metric): ObservationComponent => {
    const reading = pair[metric];
    const code = { coding: [{ system: LOINC, code: METRICS[metric].loinc, display: METRICS[metric].display }] };
    return reading ? { code, valueQuantity: quantity(reading), extension: signature(reading) } : { code, dataAbsentReason: ABSENT };
  });
  const code = { coding: [{ system: LOINC, code: BLOOD_PRESSURE_PANEL.loinc, display: BLOOD_PRESSURE_PANEL.display }], text: "Blood pressure" };
  return { ...observationShell(time, subject, "bp", code), component };
}

/**
 * The readings as a collection Bundle, in their order, except that a diastolic reading joins the
 * earlier systolic one of the same moment (or the reverse) in one blood-pressure panel.
 */
export function buildObservationBundle(readings: readonly Reading[], subject: Subject): Bundle<Observation> {
  type Item = Reading | { systolic_bp?: Reading; diastolic_bp?: Reading };
  const items: Item[] = [];
  /** Panels still missing a component, by the moment (epoch ms) of their reading. */
  const open = new Map<number, { systolic_bp?: Reading; diastolic_bp?: Reading }>();
  for (const reading of readings) {
    if (!isBloodPressure(reading.metric)) {
      items.push(reading);
      continue;
    }
    const moment = Date.parse(reading.time);
    const panel = open.get(moment);
    if (panel !== undefined && panel[reading.metric] === undefined) {
      panel[reading.metric] = reading;
      open.delete(moment);
    } else {
      const fresh = { [reading.metric]: reading };
      items.push(fresh);
      open.set(moment, fresh);
    }
  }
  const entry: BundleEntry<Observation>[] = items.map((item) => ({
    resource: "metric" in item ? buildObservation(item as Reading, subject) : buildBloodPressureObservation(item, subject),
  }));
  return { resourceType: "Bundle", type: "collection", timestamp: new Date().toISOString(), entry };
}

/**
 * Back from FHIR: the readings of a bundle built above, or of one Observation. Reads today's form
 * (blood pressure as a panel's components, SpO2 with two codes) and MedCipher 0.1's (one
 * Observation per systolic or diastolic reading, SpO2 coded 59408-5 only). Unknown codes and
 * absent components are skipped.
 */
export function readingsFromBundle(bundle: Bundle | Observation): Reading[] {
  const byLoinc = new Map<string, Metric>(Object.entries(METRICS).map(([metric, m]) => [m.loinc as string, metric as Metric]));
  const metricOf = (code: CodeableConcept | undefined) =>
    code?.coding?.map((c) => (c.system === LOINC ? byLoinc.get(c.code ?? "") : undefined)).find((m) => m !== undefined);
  const readings: Reading[] = [];
  const add = (time: string, code: CodeableConcept | undefined, value: Quantity | undefined, extension: Extension[] | undefined) => {
    const metric = metricOf(code);
    if (!metric || value?.value === undefined) return;
    const deviceSignature = extension?.find((e) => e.url === DEVICE_SIGNATURE_EXTENSION)?.valueString;
    readings.push({ time, metric, value: value.value, ...(deviceSignature ? { deviceSignature } : {}) });
  };
  const entries = bundle.resourceType === "Bundle" ? (bundle.entry ?? []) : [{ resource: bundle }];
  for (const entry of entries) {
    const resource = entry.resource as Observation | undefined;
    if (resource?.resourceType !== "Observation" || !resource.effectiveDateTime) continue;
    add(resource.effectiveDateTime, resource.code, resource.valueQuantity, resource.extension);
    for (const component of resource.component ?? []) add(resource.effectiveDateTime, component.code, component.valueQuantity, component.extension);
  }
  return readings;
}

/**
 * How many readings a stored resource holds (`RecordRef.readings`): its device readings (a
 * blood-pressure panel holds two), else one per Bundle entry, else 1.
 */
export function readingCount(resource: Resource): number {
  const readings = resource.resourceType === "Bundle" || resource.resourceType === "Observation" ? readingsFromBundle(resource).length : 0;
  if (readings > 0) return readings;
  return resource.resourceType === "Bundle" ? (resource.entry?.length ?? 0) : 1;
}

export type ConsentTerms = {
  patient: string;
  grantee: string;
  purpose: number;
  categories: readonly string[];
  validFrom: number;
  validUntil: number;
  active: boolean;
};

/** A consent grant as a FHIR R4 Consent (scope patient-privacy, provision permit). */
export function consentToFhir(terms: ConsentTerms): Consent {
  return {
    resourceType: "Consent",
    status: terms.active ? "active" : "inactive",
    scope: { coding: [{ system: "http://terminology.hl7.org/CodeSystem/consentscope", code: "patient-privacy" }] },
    category: [{ coding: [{ system: LOINC, code: "59284-0", display: "Patient Consent" }] }],
    patient: ethereum(terms.patient),
    policyRule: { coding: [{ system: "http://terminology.hl7.org/CodeSystem/v3-ActCode", code: "OPTIN" }] },
    provision: {
      type: "permit",
      period: { start: new Date(terms.validFrom * 1000).toISOString(), end: new Date(terms.validUntil * 1000).toISOString() },
      actor: [{
        role: { coding: [{ system: "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", code: "IRCP", display: "information recipient" }] },
        reference: ethereum(terms.grantee),
      }],
      // Only the defining coding: Consent.provision.purpose lists the purposes a rule permits, so
      // TREATDS's nearest v3 code (TREAT) here would widen the grant (AuditEvent gets both).
      purpose: terms.purpose > 0 && purposeCodings(terms.purpose).length > 0 ? purposeCodings(terms.purpose).slice(0, 1) : undefined,
      class: terms.categories.length > 0 ? terms.categories.map((code) => ({ system: RECORD_CATEGORY_SYSTEM, code })) : undefined,
    },
  };
}

/** From a FHIR Consent built by `consentToFhir` (or compatible) back to terms. */
export function consentFromFhir(consent: Consent): ConsentTerms {
  const strip = (value: string | undefined) => (value ?? "").replace(/^urn:ethereum:/, "");
  const provision = consent.provision;
  return {
    patient: strip(consent.patient?.identifier?.value),
    grantee: strip(provision?.actor?.[0]?.reference?.identifier?.value),
    purpose: purposeFromCodings(provision?.purpose ?? []) ?? 0,
    categories: (provision?.class ?? []).map((c) => c.code ?? ""),
    validFrom: Math.floor(Date.parse(provision?.period?.start ?? "0") / 1000),
    validUntil: Math.floor(Date.parse(provision?.period?.end ?? "0") / 1000),
    active: consent.status === "active",
  };
}
