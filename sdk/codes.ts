/**
 * Purpose-of-use and record-category codes, mirroring contracts/libraries/ConsentCodes.sol.
 * Purposes map to HL7 v3 ActReason (FHIR PurposeOfUse).
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

const purposeDisplay: Record<number, string> = {
  1: "treatment",
  2: "emergency treatment",
  3: "healthcare research",
  4: "treatment decision support",
  5: "patient requested",
};

export function purposeName(code: number): string {
  const entry = Object.entries(Purpose).find(([, value]) => value === code);
  return entry ? entry[0] : `UNKNOWN_${code}`;
}

export function purposeDisplayName(code: number): string {
  return purposeDisplay[code] ?? `purpose ${code}`;
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

/** The consent scope bitmask covering `categories`. */
export function scopeOf(categories: readonly number[]): number {
  return categories.reduce((mask, c) => (mask | (1 << c)) >>> 0, 0);
}
