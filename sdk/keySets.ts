/**
 * Which CKKS key set the chain names — the patient's current one (`keySetOf`) or the one a
 * request was made under (its `PredictionRequested` event) — and the check every action that
 * encrypts for or decrypts from the oracle makes against it.
 */
import type { MedCipherClient } from "./client.js";
import { KeySetMismatchError } from "./errors.js";

/** The patient's current key set on-chain (lower-case hex; ZeroHash when not registered). */
export async function currentKeysHash(client: Pick<MedCipherClient, "contracts">, patient: string): Promise<string> {
  const [keysHash] = await client.contracts.identity.keySetOf(patient);
  return keysHash.toLowerCase();
}

/**
 * The key set a prediction request was made under: its `PredictionRequested` event's keysHash
 * (after a rotation, older requests keep the older key set). When the event is out of the node's
 * log range, the patient's current key set.
 */
export async function requestKeysHash(client: Pick<MedCipherClient, "contracts">, requestId: string, patient: string): Promise<string> {
  const router = client.contracts.router;
  const [log] = await router.queryFilter(router.filters.PredictionRequested(requestId));
  return log ? log.args.keysHash.toLowerCase() : currentKeysHash(client, patient);
}

/** Throws `KeySetMismatchError` unless `actual` is `expected`. */
export function requireKeySet(check: { expected: string; actual: string; requestId?: string; patient?: string }): void {
  if (check.actual.toLowerCase() !== check.expected.toLowerCase()) throw new KeySetMismatchError({ ...check, expected: check.expected.toLowerCase(), actual: check.actual.toLowerCase() });
}
