/**
 * The contracts' codes for TypeScript callers: purposes of use (`libraries/Purpose.sol`, mapped to
 * HL7 v3 ActReason / FHIR PurposeOfUse), record categories (`libraries/Category.sol`), prediction
 * request statuses and failure codes (`IPredictionRouter.RequestStatus`,
 * `libraries/PredictionCodes.sol`) and record entry kinds (`IRecordRegistry.EntryKind`).
 * The single TypeScript copy: the SDK, the contract tests and the gas bench all import it.
 */
export const Purpose = { NONE: 0, TREAT: 1, ETREAT: 2, HRESCH: 3, TREATDS: 4, PATRQT: 5 } as const;
export type PurposeName = Exclude<keyof typeof Purpose, "NONE">;

export const Category = {
  VITAL_SIGNS: 0,
  LABORATORY: 1,
  CONDITIONS: 2,
  MEDICATIONS: 3,
  IMAGING: 4,
  CLINICAL_NOTES: 5,
  GENOMICS: 6,
  PREDICTION: 7,
  DEMOGRAPHICS: 8,
} as const;
export type CategoryName = keyof typeof Category;

export const PURPOSE_OF_USE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
/** MedCipher's purposes that HL7 v3-ActReason lacks (fhir/CodeSystem-purpose-of-use.json). */
export const MEDCIPHER_PURPOSE_SYSTEM = "https://medcipher.dev/fhir/CodeSystem/purpose-of-use";

/** A FHIR Coding (system, code, display), kept free of FHIR types so this module stays a leaf. */
export type PurposeCoding = { system: string; code: string; display: string };

/**
 * The FHIR codings of each on-chain purpose, the one that defines it first. v3-ActReason has
 * TREAT, ETREAT, HRESCH and PATRQT (displays as HL7 spells them) but no treatment decision
 * support: that one is MedCipher's TREATDS, followed by its nearest v3-ActReason code, TREAT
 * (its parent concept), for receivers that know only HL7's codes.
 */
const PURPOSE_CODINGS: Record<number, readonly PurposeCoding[]> = {
  1: [{ system: PURPOSE_OF_USE_SYSTEM, code: "TREAT", display: "treatment" }],
  2: [{ system: PURPOSE_OF_USE_SYSTEM, code: "ETREAT", display: "Emergency Treatment" }],
  3: [{ system: PURPOSE_OF_USE_SYSTEM, code: "HRESCH", display: "healthcare research" }],
  4: [
    { system: MEDCIPHER_PURPOSE_SYSTEM, code: "TREATDS", display: "treatment decision support" },
    { system: PURPOSE_OF_USE_SYSTEM, code: "TREAT", display: "treatment" },
  ],
  5: [{ system: PURPOSE_OF_USE_SYSTEM, code: "PATRQT", display: "patient requested" }],
};

export function purposeName(code: number): string {
  const entry = Object.entries(Purpose).find(([, value]) => value === code);
  return entry ? entry[0] : `UNKNOWN_${code}`;
}

export function purposeDisplayName(code: number): string {
  return PURPOSE_CODINGS[code]?.[0]?.display ?? `purpose ${code}`;
}

/** The FHIR codings of an on-chain purpose, defining coding first; empty for a code the contracts do not define. */
export function purposeCodings(code: number): PurposeCoding[] {
  return (PURPOSE_CODINGS[code] ?? []).map((coding) => ({ ...coding }));
}

/**
 * The on-chain purpose a list of FHIR codings names, by its defining coding (so TREATDS + TREAT
 * is 4, not 1); also reads `TREATDS` under v3-ActReason, which MedCipher 0.1 emitted. Undefined
 * when no coding defines a purpose.
 */
export function purposeFromCodings(codings: readonly { system?: string; code?: string }[]): number | undefined {
  for (const coding of codings) {
    for (const [purpose, known] of Object.entries(PURPOSE_CODINGS)) {
      if (known[0]!.system === coding.system && known[0]!.code === coding.code) return Number(purpose);
    }
    if (coding.system === PURPOSE_OF_USE_SYSTEM && coding.code === "TREATDS") return Purpose.TREATDS;
  }
  return undefined;
}

export function categoryName(code: number): string {
  const entry = Object.entries(Category).find(([, value]) => value === code);
  return entry ? entry[0] : `CATEGORY_${code}`;
}

/** Parses "TREAT", "treat" or "1". Returns undefined for anything else. */
export function parsePurpose(value: string): number | undefined {
  const upper = value.toUpperCase();
  if (upper in Purpose && upper !== "NONE") return Purpose[upper as PurposeName];
  const n = Number(value);
  return Number.isInteger(n) && n >= 1 && n <= 5 ? n : undefined;
}

/** Parses "VITAL_SIGNS", "vital-signs" or "0". */
export function parseCategory(value: string): number | undefined {
  const upper = value.toUpperCase().replaceAll("-", "_");
  if (upper in Category) return Category[upper as CategoryName];
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 && n <= 31 ? n : undefined;
}

/** The scope bit of one category code (`1 << code`, unsigned: code 31 stays positive). */
export function categoryBit(code: number): number {
  return (1 << code) >>> 0;
}

/** The consent scope bitmask covering `categories`. */
export function scopeOf(categories: readonly number[]): number {
  return categories.reduce((mask, c) => (mask | categoryBit(c)) >>> 0, 0);
}

/** `IPredictionRouter.RequestStatus`. */
export const RequestStatus = { None: 0, Pending: 1, Fulfilled: 2, Failed: 3, Refused: 4, Cancelled: 5 } as const;

/**
 * Why a prediction request ended without a result, `libraries/PredictionCodes.sol`:
 * 1-999 reported by the oracle, 1000+ set by the router when it refuses or rejects a fulfilment.
 */
export const PredictionCodes = {
  INPUT_UNAVAILABLE: 1,
  INPUT_HASH_MISMATCH: 2,
  KEYS_UNAVAILABLE: 3,
  KEYS_HASH_MISMATCH: 4,
  MODEL_UNAVAILABLE: 5,
  PARAMETER_SET_MISMATCH: 6,
  EVALUATION_FAILED: 7,
  STORAGE_FAILED: 8,
  EXPIRED: 9,
  ORACLE_INTERNAL: 999,
  CONSENT_REVOKED: 1000,
  RESULT_HASH_MISMATCH: 1001,
  ON_CHAIN_RESULTS_DISABLED: 1002,
  EMPTY_RESULT: 1003,
  MODEL_RETIRED: 1004,
} as const;

/** `IRecordRegistry.EntryKind`. */
export const EntryKind = { None: 0, Record: 1, Batch: 2 } as const;
