import type { Bundle } from "@medplum/fhirtypes";

import { requireRecipientKey, requireGateway, type MedCipherClient } from "../client.js";
import { Purpose } from "../../protocol/codes.js";
import { openRecordAsPatient } from "../crypto/envelope.js";
import { readingsFromBundle, type Reading } from "../fhir/observations.js";
import type { RecordRef } from "./types.js";
import { verifyRecord } from "./verifyRecord.js";

export type ReadRecordParameters = { record: RecordRef };
/** `bundle`: the decrypted FHIR resource (a Bundle for ingested readings; whatever `storeRecord` stored otherwise). */
export type ReadRecordReturnType = { bundle: Bundle; readings: Reading[] };

/**
 * The patient reads one of their own records: fetch, verify against the chain (commitment, and a
 * device's ML-DSA signature when the record carries one), unwrap the data
 * key from the record's header with the patient's key pair (X25519, or hybrid once it published one), decrypt.
 *
 * @example
 * const { readings } = await readRecord(patientClient, { record });
 */
export async function readRecord(client: MedCipherClient, parameters: ReadRecordParameters): Promise<ReadRecordReturnType> {
  const blob = await requireGateway(client).get(parameters.record.blobId, { purpose: Purpose.PATRQT });
  const { envelope: sealed } = await verifyRecord(client, { record: parameters.record, sealed: blob });
  const plaintext = await openRecordAsPatient(sealed, requireRecipientKey(client));
  const bundle = JSON.parse(new TextDecoder().decode(plaintext)) as Bundle;
  return { bundle, readings: readingsFromBundle(bundle) };
}
