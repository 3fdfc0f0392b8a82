/**
 * Everything a holder needs to find, verify and decrypt one stored record. None of it is secret:
 * the salt and proof only open a commitment to a ciphertext.
 */
export type RecordRef = {
  patient: string;
  /** SHA-256 of the sealed record: its gateway id. */
  blobId: string;
  /** The salted commitment sha256(salt ‖ sealed record): the record id, or the batch leaf. */
  readingId: string;
  salt: string;
  category: number;
  /** The batch root the record is anchored under; null when anchored on its own (readingId). */
  root: string | null;
  /** Merkle proof of `readingId` under `root` (empty for a single record). */
  proof: string[];
  /** Number of readings inside the record (FHIR Observations in its Bundle). */
  readings: number;
};

/** Progress callback for long steps (the CLI draws its progress bar from it). */
export type OnProgress = (step: string, done: number, total: number) => void;
