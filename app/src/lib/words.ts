/** Names of the contracts' codes as a person reads them. */
import { Category, Purpose } from "medcipher";

export const PURPOSE_WORDS: Record<number, string> = {
  [Purpose.TREAT]: "Treatment",
  [Purpose.ETREAT]: "Emergency treatment",
  [Purpose.HRESCH]: "Health research",
  [Purpose.TREATDS]: "Treatment decision support (predictions)",
  [Purpose.PATRQT]: "At the patient's request",
};

export const CATEGORY_WORDS: Record<number, string> = {
  [Category.VITAL_SIGNS]: "Vital signs",
  [Category.LABORATORY]: "Laboratory results",
  [Category.CONDITIONS]: "Conditions",
  [Category.MEDICATIONS]: "Medications",
  [Category.IMAGING]: "Imaging",
  [Category.CLINICAL_NOTES]: "Clinical notes",
  [Category.GENOMICS]: "Genomics",
  [Category.PREDICTION]: "Predictions",
  [Category.DEMOGRAPHICS]: "Demographics",
};

/** Purposes a patient grants from this app (emergency access has its own break-glass path). */
export const GRANTABLE_PURPOSES = [Purpose.TREAT, Purpose.TREATDS, Purpose.HRESCH];

export function purposeWords(code: number): string {
  // 0: no purpose of use (the gateway logs writes and audit reads with none).
  if (code === 0) return "—";
  return PURPOSE_WORDS[code] ?? `purpose ${code}`;
}

export function categoryWords(code: number): string {
  return CATEGORY_WORDS[code] ?? `category ${code}`;
}
