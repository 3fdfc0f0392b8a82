/**
 * FHIR R4 resources built from device readings: one vital-signs Observation per reading (LOINC
 * coded, UCUM units) and a collection Bundle per upload. Values stay as the device reported them.
 */
import type { Bundle, BundleEntry, Consent, Observation } from "@medplum/fhirtypes";

import { PURPOSE_OF_USE_SYSTEM, purposeDisplayName, purposeName } from "../codes.js";

export const LOINC = "http://loinc.org";
export const UCUM = "http://unitsofmeasure.org";

/** The metrics a readings file may contain, with their LOINC code and UCUM unit. */
export const METRICS = {
  heart_rate: { loinc: "8867-4", display: "Heart rate", unit: "/min", min: 0, max: 400 },
  systolic_bp: { loinc: "8480-6", display: "Systolic blood pressure", unit: "mm[Hg]", min: 0, max: 400 },
  diastolic_bp: { loinc: "8462-4", display: "Diastolic blood pressure", unit: "mm[Hg]", min: 0, max: 300 },
  body_temperature: { loinc: "8310-5", display: "Body temperature", unit: "Cel", min: 20, max: 50 },
  glucose: { loinc: "2339-0", display: "Glucose [Mass/volume] in Blood", unit: "mg/dL", min: 0, max: 2000 },
  spo2: { loinc: "59408-5", display: "Oxygen saturation in Arterial blood by Pulse oximetry", unit: "%", min: 0, max: 100 },
  respiratory_rate: { loinc: "9279-1", display: "Respiratory rate", unit: "/min", min: 0, max: 150 },
  body_weight: { loinc: "29463-7", display: "Body weight", unit: "kg", min: 0, max: 700 },
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

export const DEVICE_SIGNATURE_EXTENSION = "https://medcipher.dev/fhir/StructureDefinition/device-signature";

/**
 * @example
 * buildObservation({ time: "2026-01-01T08:00:00Z", metric: "heart_rate", value: 72 }, { patient: "0xabc…", device: "0xdef…" })
 */
export function buildObservation(reading: Reading, subject: { patient: string; device?: string }): Observation {
  const metric = METRICS[reading.metric];
  return {
    resourceType: "Observation",
    status: "final",
    category: [{ coding: [{ system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "vital-signs", display: "Vital Signs" }] }],
    code: { coding: [{ system: LOINC, code: metric.loinc, display: metric.display }], text: metric.display },
    subject: { identifier: { system: "urn:ietf:rfc:3986", value: `urn:ethereum:${subject.patient}` } },
    device: subject.device ? { identifier: { system: "urn:ietf:rfc:3986", value: `urn:ethereum:${subject.device}` } } : undefined,
    effectiveDateTime: reading.time,
    valueQuantity: { value: reading.value, unit: metric.unit, system: UCUM, code: metric.unit },
    extension: reading.deviceSignature ? [{ url: DEVICE_SIGNATURE_EXTENSION, valueString: reading.deviceSignature }] : undefined,
  };
}

export function buildObservationBundle(readings: readonly Reading[], subject: { patient: string; device?: string }): Bundle<Observation> {
  const entry: BundleEntry<Observation>[] = readings.map((reading) => ({ resource: buildObservation(reading, subject) }));
  return { resourceType: "Bundle", type: "collection", timestamp: new Date().toISOString(), entry };
}

/** Back from FHIR: the readings of a bundle built above, or of one Observation (unknown codes are skipped). */
export function readingsFromBundle(bundle: Bundle | Observation): Reading[] {
  const byLoinc = new Map<string, Metric>(Object.entries(METRICS).map(([metric, m]) => [m.loinc as string, metric as Metric]));
  const readings: Reading[] = [];
  const entries = bundle.resourceType === "Bundle" ? (bundle.entry ?? []) : [{ resource: bundle }];
  for (const entry of entries) {
    const resource = entry.resource as Observation | undefined;
    if (resource?.resourceType !== "Observation") continue;
    const metric = byLoinc.get(resource.code?.coding?.find((c) => c.system === LOINC)?.code ?? "");
    const value = resource.valueQuantity?.value;
    if (!metric || value === undefined || !resource.effectiveDateTime) continue;
    const signature = resource.extension?.find((e) => e.url === DEVICE_SIGNATURE_EXTENSION)?.valueString;
    readings.push({ time: resource.effectiveDateTime, metric, value, ...(signature ? { deviceSignature: signature } : {}) });
  }
  return readings;
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
    patient: { identifier: { system: "urn:ietf:rfc:3986", value: `urn:ethereum:${terms.patient}` } },
    policyRule: { coding: [{ system: "http://terminology.hl7.org/CodeSystem/v3-ActCode", code: "OPTIN" }] },
    provision: {
      type: "permit",
      period: { start: new Date(terms.validFrom * 1000).toISOString(), end: new Date(terms.validUntil * 1000).toISOString() },
      actor: [{
        role: { coding: [{ system: "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", code: "IRCP", display: "information recipient" }] },
        reference: { identifier: { system: "urn:ietf:rfc:3986", value: `urn:ethereum:${terms.grantee}` } },
      }],
      purpose: [{ system: PURPOSE_OF_USE_SYSTEM, code: purposeName(terms.purpose), display: purposeDisplayName(terms.purpose) }],
      class: terms.categories.map((code) => ({ system: "https://medcipher.dev/fhir/CodeSystem/record-category", code })),
    },
  };
}

/** From a FHIR Consent built by `consentToFhir` (or compatible) back to terms. */
export function consentFromFhir(consent: Consent): ConsentTerms {
  const strip = (value: string | undefined) => (value ?? "").replace(/^urn:ethereum:/, "");
  const provision = consent.provision;
  const purposeCode = provision?.purpose?.[0]?.code ?? "";
  const purposes: Record<string, number> = { TREAT: 1, ETREAT: 2, HRESCH: 3, TREATDS: 4, PATRQT: 5 };
  return {
    patient: strip(consent.patient?.identifier?.value),
    grantee: strip(provision?.actor?.[0]?.reference?.identifier?.value),
    purpose: purposes[purposeCode] ?? 0,
    categories: (provision?.class ?? []).map((c) => c.code ?? ""),
    validFrom: Math.floor(Date.parse(provision?.period?.start ?? "0") / 1000),
    validUntil: Math.floor(Date.parse(provision?.period?.end ?? "0") / 1000),
    active: consent.status === "active",
  };
}
