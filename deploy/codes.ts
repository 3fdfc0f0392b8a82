/** The contracts' codes (contracts/libraries/*.sol), for TypeScript callers. */

/** Purpose of use (HL7 v3 ActReason), `libraries/Purpose.sol`. */
export const Purpose = { NONE: 0, TREAT: 1, ETREAT: 2, HRESCH: 3, TREATDS: 4, PATRQT: 5 } as const;

/** Record categories, `libraries/Category.sol`; a scope is a bitmask of `categoryBit(code)`. */
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

export function categoryBit(code: number): number {
  return 2 ** code;
}

/** `IPredictionRouter.RequestStatus`. */
export const RequestStatus = { None: 0, Pending: 1, Fulfilled: 2, Failed: 3, Refused: 4, Cancelled: 5 } as const;

/** `libraries/PredictionCodes.sol`. */
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
} as const;
