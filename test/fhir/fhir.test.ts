import { readFileSync } from "node:fs";

import type { Bundle, CodeSystem, Consent, Extension, Observation, StructureDefinition } from "@medplum/fhirtypes";
import { validateResource } from "@medplum/core";
import { expect } from "chai";
import { Wallet } from "ethers";

import type { AuditEntry } from "../../protocol/audit/entries.js";
import { AUDIT_CHAIN_EXTENSION, auditEntryToFhir } from "../../protocol/audit/fhir.js";
import { CHAIN_EVENTS } from "../../sdk/actions/getAuditTrail.js";
import { Category, categoryName, MEDCIPHER_PURPOSE_SYSTEM, Purpose, PURPOSE_OF_USE_SYSTEM, purposeCodings } from "../../protocol/codes.js";
import { CHAIN_EVENT_SYSTEM, chainEventToFhir } from "../../protocol/audit/chainEvents.js";
import {
  buildObservation, buildObservationBundle, consentFromFhir, consentToFhir, DEVICE_SIGNATURE_EXTENSION, LOINC, METRICS,
  readingCount, readingsFromBundle, RECORD_CATEGORY_SYSTEM, type Metric, type Reading,
} from "../../sdk/fhir/observations.js";
import { recoverReadingSigner, signReadings } from "../../sdk/readings/deviceSignature.js";
import { expectConformant, expectValidExtension, profile, published, refusal } from "./conformance.js";

const fixture = <T>(name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8")) as T;
const PATIENT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const device = new Wallet("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
const GATEWAY = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
const TIME = "2026-01-01T08:00:00.000Z";
const SAMPLE: Record<Metric, number> = { heart_rate: 72, systolic_bp: 121, diastolic_bp: 79, body_temperature: 36.9, glucose: 95, spo2: 97, respiratory_rate: 14, body_weight: 64.5 };
const codesOf = (observation: Observation) => observation.code.coding?.map((c) => c.code);
const R4 = "http://hl7.org/fhir/StructureDefinition/";

describe("fhir: R4 conformance of every resource MedCipher emits", function () {
  this.timeout(60_000);
  let signed: Reading[];
  before(async function () {
    signed = await signReadings(device, PATIENT, 31337, (Object.keys(METRICS) as Metric[]).map((metric) => ({ time: TIME, metric, value: SAMPLE[metric] })));
  });

  describe("Observations", function () {
    for (const metric of Object.keys(METRICS) as Metric[]) {
      it(`builds ${metric} as an Observation valid against R4 and its vital-signs profile`, function () {
        const observation = buildObservation(signed.find((r) => r.metric === metric)!, { patient: PATIENT, device: device.address });
        const checked = expectConformant(observation);
        const vital = METRICS[metric].profile;
        if (vital === undefined) {
          expect(checked, "glucose is a laboratory result, not a vital sign").to.deep.equal([]);
          expect(observation.category?.[0]?.coding?.[0]?.code).to.equal("laboratory");
        } else {
          expect(observation.meta?.profile).to.deep.equal([`${R4}${vital}`]);
          expect(checked).to.deep.equal([`${R4}${vital}`, `${R4}vitalsigns`]);
        }
      });
    }

    it("makes a device's systolic and diastolic readings of one moment one bp panel (85354-9, two components, no value)", function () {
      const bundle = buildObservationBundle(signed.filter((r) => r.metric.endsWith("_bp")), { patient: PATIENT, device: device.address });
      expect(bundle.entry).to.have.length(1);
      const panel = bundle.entry![0]!.resource!;
      expect(codesOf(panel)).to.deep.equal(["85354-9"]);
      expect(panel.valueQuantity).to.equal(undefined);
      expect(panel.component?.map((c) => [c.code.coding?.[0]?.code, c.valueQuantity?.value, c.valueQuantity?.code])).to.deep.equal([["8480-6", 121, "mm[Hg]"], ["8462-4", 79, "mm[Hg]"]]);
      expect(panel.component?.every((c) => c.extension?.[0]?.url === DEVICE_SIGNATURE_EXTENSION)).to.equal(true);
      expect(expectConformant(panel)).to.deep.equal([`${R4}bp`, `${R4}vitalsigns`]);
    });

    it("makes a blood-pressure reading without its partner a bp panel whose other component is absent", function () {
      const panel = buildObservation({ time: TIME, metric: "diastolic_bp", value: 80 }, { patient: PATIENT });
      expect(panel.component?.map((c) => c.dataAbsentReason?.coding?.[0]?.code ?? c.valueQuantity?.value)).to.deep.equal(["unknown", 80]);
      expectConformant(panel);
      expect(readingsFromBundle(panel)).to.deep.equal([{ time: TIME, metric: "diastolic_bp", value: 80 }]);
    });

    it("codes SpO2 2708-6 as well as 59408-5 (oxygensat profile)", function () {
      const observation = buildObservation({ time: TIME, metric: "spo2", value: 97 }, { patient: PATIENT });
      expect(codesOf(observation)).to.have.members(["2708-6", "59408-5"]);
      expect(expectConformant(observation)).to.include(`${R4}oxygensat`);
    });

    it("builds a readings Bundle valid entry by entry, and reads the same readings back", function () {
      const bundle = buildObservationBundle(signed, { patient: PATIENT, device: device.address });
      expect(bundle.entry).to.have.length(signed.length - 1);
      expectConformant(bundle);
      expect(readingsFromBundle(bundle)).to.deep.equal(signed);
    });

    it("pairs blood pressure by moment, in reading order, and never joins two readings of one kind", function () {
      const at = (minute: number) => `2026-01-01T08:0${minute}:00.000Z`;
      const readings: Reading[] = [
        { time: at(0), metric: "systolic_bp", value: 120 }, { time: at(1), metric: "systolic_bp", value: 122 },
        { time: at(0), metric: "heart_rate", value: 70 }, { time: at(1), metric: "diastolic_bp", value: 81 },
        { time: at(0), metric: "diastolic_bp", value: 80 }, { time: at(1), metric: "diastolic_bp", value: 82 },
      ];
      const bundle = buildObservationBundle(readings, { patient: PATIENT });
      expect(bundle.entry!.map((e) => [e.resource!.effectiveDateTime, e.resource!.component?.map((c) => c.valueQuantity?.value ?? null) ?? e.resource!.valueQuantity?.value])).to.deep.equal([
        [at(0), [120, 80]], [at(1), [122, 81]], [at(0), 70], [at(1), [null, 82]],
      ]);
      expectConformant(bundle);
      expect(readingsFromBundle(bundle)).to.have.deep.members(readings);
    });

    it("counts a stored record's readings, two per blood-pressure panel", function () {
      const bundle = buildObservationBundle(signed, { patient: PATIENT, device: device.address });
      expect(readingCount(bundle)).to.equal(signed.length);
      expect(readingCount(bundle.entry!.find((e) => e.resource!.component)!.resource!)).to.equal(2);
      expect(readingCount({ resourceType: "DiagnosticReport", status: "final", code: { text: "x" } })).to.equal(1);
      expect(readingCount({ resourceType: "Bundle", type: "collection", entry: [{ resource: { resourceType: "Patient" } }] })).to.equal(1);
    });

    it("reads back MedCipher 0.1 bundles (separate systolic and diastolic Observations, SpO2 coded 59408-5 only), signatures intact", function () {
      const old = fixture<{ readings: Reading[]; bundle: Bundle }>("bundle-0.1.0.json");
      expect(old.bundle.entry!.map((e) => codesOf(e.resource as Observation))).to.deep.include.members([["8480-6"], ["8462-4"], ["59408-5"]]);
      const readings = readingsFromBundle(old.bundle);
      expect(readings).to.deep.equal(old.readings);
      for (const reading of readings) expect(recoverReadingSigner(reading, PATIENT, 31337)).to.equal(device.address);
    });
  });

  describe("Consent", function () {
    for (const purpose of [1, 2, 3, 4, 5]) {
      it(`builds a Consent for purpose ${purpose} valid against R4 with a purpose code its code system has, and reads it back`, function () {
        const terms = { patient: PATIENT, grantee: GATEWAY, purpose, categories: ["VITAL_SIGNS", "PREDICTION"], validFrom: 1767225600, validUntil: 1767312000, active: true };
        const consent = consentToFhir(terms);
        expectConformant(consent);
        expect(consent.provision?.purpose).to.deep.equal(purposeCodings(purpose).slice(0, 1));
        expect(consentFromFhir(consent)).to.deep.equal(terms);
      });
    }

    it("codes purpose 4 (treatment decision support) in MedCipher's code system, alone: a second Consent purpose would widen the grant", function () {
      const consent = consentToFhir({ patient: PATIENT, grantee: GATEWAY, purpose: Purpose.TREATDS, categories: ["PREDICTION"], validFrom: 0, validUntil: 1, active: false });
      expect(consent.provision?.purpose).to.deep.equal([{ system: MEDCIPHER_PURPOSE_SYSTEM, code: "TREATDS", display: "treatment decision support" }]);
    });

    it("reads back MedCipher 0.1 Consents (TREATDS under v3-ActReason)", function () {
      const old = fixture<Consent>("consent-0.1.0.json");
      expect(old.provision?.purpose?.[0]).to.include({ system: PURPOSE_OF_USE_SYSTEM, code: "TREATDS" });
      expect(consentFromFhir(old).purpose).to.equal(Purpose.TREATDS);
    });
  });

  describe("AuditEvent", function () {
    const entry = (over: Partial<AuditEntry>): AuditEntry => ({
      seq: 7, time: "2026-01-01T08:01:00.000Z", action: "read", outcome: "granted", reason: "consent", actor: device.address, owner: PATIENT,
      blobId: `0x${"1f".repeat(32)}`, purpose: Purpose.TREAT, prev: `0x${"0a".repeat(32)}` as AuditEntry["prev"], hash: `0x${"0b".repeat(32)}` as AuditEntry["hash"], ...over,
    });
    for (const outcome of ["granted", "refused"] as const) {
      for (const purpose of [0, 1, 2, 3, 4, 5, 9]) {
        it(`builds a gateway AuditEvent (${outcome}, purpose ${purpose}) valid against R4, its codes and its audit-chain extension`, function () {
          const event = auditEntryToFhir(entry({ outcome, purpose, reason: outcome === "granted" ? "consent" : "GATEWAY_FORBIDDEN", action: purpose === 9 ? "write" : "read" }), GATEWAY);
          expectConformant(event);
          expect(event.outcome).to.equal(outcome === "granted" ? "0" : "4");
          expect(event.extension?.[0]?.url).to.equal(AUDIT_CHAIN_EXTENSION);
          if (purpose === 0) expect(event.purposeOfEvent).to.equal(undefined);
          else if (purpose === 9) expect(event.purposeOfEvent).to.deep.equal([{ text: "purpose 9" }]);
          else expect(event.purposeOfEvent?.[0]?.coding).to.deep.equal(purposeCodings(purpose));
        });
      }
    }

    it("codes purpose 4 as MedCipher's TREATDS with v3-ActReason TREAT as a second coding", function () {
      const event = auditEntryToFhir(entry({ purpose: Purpose.TREATDS }), GATEWAY);
      expect(event.purposeOfEvent?.[0]?.coding?.map((c) => `${c.system}#${c.code}`)).to.deep.equal([`${MEDCIPHER_PURPOSE_SYSTEM}#TREATDS`, `${PURPOSE_OF_USE_SYSTEM}#TREAT`]);
    });

    for (const spec of CHAIN_EVENTS) {
      it(`builds the audit trail's ${spec.event} AuditEvent valid against R4 and its codes`, function () {
        const detail: Record<string, string> = { patient: PATIENT, ...(spec.contract === "consent" ? { purpose: "4", grantee: GATEWAY } : {}) };
        const event = chainEventToFhir({ event: spec.event, action: spec.action, transactionHash: `0x${"ab".repeat(32)}`, time: TIME, actor: device.address, patient: PATIENT, chainId: 31337, detail });
        expectConformant(event);
        expect(event.type).to.deep.equal({ system: CHAIN_EVENT_SYSTEM, code: spec.event });
      });
    }
  });

  describe("what MedCipher publishes in fhir/", function () {
    const codeSystem = (url: string) => published.find((r): r is CodeSystem => r.resourceType === "CodeSystem" && r.url === url)!;
    const codes = (cs: CodeSystem) => (cs.concept ?? []).map((c) => c.code);

    it("are valid R4 CodeSystems and StructureDefinitions", function () {
      expect(published.map((r) => r.resourceType).sort()).to.deep.equal(["CodeSystem", "CodeSystem", "CodeSystem", "StructureDefinition", "StructureDefinition"]);
      for (const resource of published) expect(validateResource(resource), `${resource.resourceType}/${resource.id}`).to.deep.equal([]);
    });

    it("the purpose CodeSystem holds exactly the purposes v3-ActReason lacks, each with the nearest v3 code emitted beside it", function () {
      const cs = codeSystem(MEDCIPHER_PURPOSE_SYSTEM);
      const ours = [1, 2, 3, 4, 5].map(purposeCodings).filter((c) => c[0]!.system === MEDCIPHER_PURPOSE_SYSTEM);
      expect(codes(cs)).to.deep.equal(ours.map((c) => c[0]!.code));
      for (const [defining, nearest] of ours) {
        const concept = cs.concept!.find((c) => c.code === defining!.code)!;
        expect(concept.display).to.equal(defining!.display);
        expect(nearest).to.include({ system: PURPOSE_OF_USE_SYSTEM, code: concept.property?.find((p) => p.code === "nearestActReason")?.valueCode });
      }
    });

    it("the record-category CodeSystem holds every category name a consent scope can carry", function () {
      expect(codes(codeSystem(RECORD_CATEGORY_SYSTEM))).to.deep.equal(Array.from({ length: 32 }, (_, i) => categoryName(i)));
      expect(codes(codeSystem(RECORD_CATEGORY_SYSTEM)).slice(0, Object.keys(Category).length)).to.deep.equal(Object.keys(Category));
    });

    it("the chain-event CodeSystem holds every event the audit trail reports", function () {
      expect(codes(codeSystem(CHAIN_EVENT_SYSTEM))).to.deep.equal(CHAIN_EVENTS.map((e) => e.event));
    });

    it("the device-signature StructureDefinition accepts a signature string and refuses anything else", function () {
      const sd = published.find((r): r is StructureDefinition => r.resourceType === "StructureDefinition" && r.url === DEVICE_SIGNATURE_EXTENSION)!;
      expect(sd.context?.map((c) => c.expression)).to.deep.equal(["Observation", "Observation.component"]);
      expectValidExtension({ url: DEVICE_SIGNATURE_EXTENSION, valueString: "0x12" }, sd);
      expect(refusal(() => expectValidExtension({ url: DEVICE_SIGNATURE_EXTENSION, valueInteger: 12 }, sd))).to.match(/value type/);
      expect(refusal(() => expectValidExtension({ url: DEVICE_SIGNATURE_EXTENSION }, sd))).to.match(/value\[x\]/);
      expect(refusal(() => expectValidExtension({ url: DEVICE_SIGNATURE_EXTENSION, valueString: "0x12", extension: [{ url: "x", valueString: "y" }] }, sd))).to.be.a("string");
    });

    it("the audit-chain StructureDefinition requires seq (integer), prev and hash (strings)", function () {
      const sd = published.find((r): r is StructureDefinition => r.resourceType === "StructureDefinition" && r.url === AUDIT_CHAIN_EXTENSION)!;
      const chain = (seq: Extension) => ({ url: AUDIT_CHAIN_EXTENSION, extension: [seq, { url: "prev", valueString: "0x0a" }, { url: "hash", valueString: "0x0b" }] });
      expectValidExtension(chain({ url: "seq", valueInteger: 7 }), sd);
      expect(refusal(() => expectValidExtension(chain({ url: "seq", valueString: "7" }), sd))).to.match(/value type/);
      expect(refusal(() => expectValidExtension({ url: AUDIT_CHAIN_EXTENSION, extension: [{ url: "seq", valueInteger: 7 }] }, sd))).to.be.a("string");
    });
  });

  describe("the check itself refuses MedCipher 0.1's non-conformant output", function () {
    const old = () => fixture<{ bundle: Bundle<Observation> }>("bundle-0.1.0.json").bundle.entry!.map((e) => e.resource!);
    const withProfile = (o: Observation, name: string): Observation => ({ ...o, meta: { profile: [`${R4}${name}`] } });

    it("the bp profile as checked accepts the R4 specification's blood-pressure example and refuses broken panels", function () {
      const bp = profile(`${R4}bp`);
      const component = (code: string, value: number) => ({ code: { coding: [{ system: LOINC, code }] }, valueQuantity: { value, unit: "mmHg", system: "http://unitsofmeasure.org", code: "mm[Hg]" } });
      // observation-example-bloodpressure of the R4 specification, without its narrative, identifiers and interpretation.
      const example: Observation = {
        resourceType: "Observation", meta: { profile: [`${R4}vitalsigns`] }, status: "final",
        category: [{ coding: [{ system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "vital-signs", display: "Vital Signs" }] }],
        code: { coding: [{ system: LOINC, code: "85354-9", display: "Blood pressure panel with all children optional" }], text: "Blood pressure systolic & diastolic" },
        subject: { reference: "Patient/example" }, effectiveDateTime: "2012-09-17", performer: [{ reference: "Practitioner/example" }],
        bodySite: { coding: [{ system: "http://snomed.info/sct", code: "368209003", display: "Right arm" }] },
        component: [component("8480-6", 107), component("8462-4", 60)],
      };
      expect(validateResource(example, { profile: bp })).to.deep.equal([]);
      expect(refusal(() => validateResource({ ...example, component: [component("8480-6", 107)] }, { profile: bp }))).to.match(/DiastolicBP/);
      expect(refusal(() => validateResource({ ...example, valueQuantity: { value: 107 } }, { profile: bp }))).to.match(/valueQuantity/);
      expect(refusal(() => validateResource({ ...example, component: [component("8480-6", 107), { code: component("8462-4", 0).code }] }, { profile: bp }))).to.match(/vs-3/);
    });

    it("a systolic Observation with a value fails the bp profile", function () {
      const systolic = old().find((o) => o.code.coding?.[0]?.code === "8480-6")!;
      expect(refusal(() => expectConformant(systolic))).to.match(/names its profile in meta.profile/);
      expect(refusal(() => expectConformant(withProfile(systolic, "bp")))).to.match(/BPCode/);
    });

    it("SpO2 coded 59408-5 only fails the oxygensat profile", function () {
      const spo2 = old().find((o) => o.code.coding?.[0]?.code === "59408-5")!;
      expect(refusal(() => expectConformant(withProfile(spo2, "oxygensat")))).to.match(/OxygenSatCode/);
    });

    it("TREATDS under v3-ActReason fails the code lookup, in a Consent and in an AuditEvent", function () {
      expect(refusal(() => expectConformant(fixture("consent-0.1.0.json")))).to.match(/v3-ActReason has no code TREATDS/);
      expect(refusal(() => expectConformant(fixture("audit-event-0.1.0.json")))).to.match(/v3-ActReason has no code TREATDS/);
    });

    it("an extension without a StructureDefinition fails", function () {
      const observation = buildObservation({ time: TIME, metric: "heart_rate", value: 70 }, { patient: PATIENT });
      expect(refusal(() => expectConformant({ ...observation, extension: [{ url: "https://medcipher.dev/fhir/StructureDefinition/unpublished", valueString: "x" }] }))).to.match(/has no StructureDefinition/);
    });
  });

  it("reads LOINC codes as METRICS defines them", function () {
    expect(buildObservation({ time: TIME, metric: "glucose", value: 90 }, { patient: PATIENT }).code.coding?.[0]).to.include({ system: LOINC, code: "2339-0" });
  });
});
