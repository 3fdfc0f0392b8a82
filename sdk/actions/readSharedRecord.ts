import type { Bundle } from "@medplum/fhirtypes";
import { getAddress } from "ethers";

import { requireRecipientKey, requireGateway, type MedCipherClient } from "../client.js";
import { openRecord, unwrapDataKey } from "../crypto/envelope.js";
import { isSealedBox, openBox } from "../crypto/sealedBox.js";
import { DecryptionError, InvalidInputError } from "../errors.js";
import { readingsFromBundle, type Reading } from "../fhir/observations.js";
import type { RecordShare } from "./shareRecord.js";
import type { RecordRef } from "./types.js";
import { verifyRecord } from "./verifyRecord.js";

export type ReadSharedRecordParameters = {
  /** The share id the patient gave the grantee (from `shareRecord`). */
  shareId: string;
  /** The purpose of use the grantee reads for; the gateway checks live consent for it. */
  purpose: number;
};

export type ReadSharedRecordReturnType = { record: RecordRef; bundle: Bundle; readings: Reading[] };

/**
 * `details.reason` of the InvalidInputError for a share that is someone else's: sealed to another
 * key, or made out to another grantee. A grantee trying every share under a batch root
 * (readDelegatedRecords) skips these and nothing else.
 */
export const SHARE_NOT_FOR_THIS_KEY = "sealed-to-another-key";
export const SHARE_NOT_FOR_THIS_GRANTEE = "made-for-another-grantee";

/**
 * The grantee's side of sharing: fetch the share and the record (the gateway checks consent on
 * each), verify the record against its on-chain commitment, unwrap the data key with the
 * grantee's key pair (X25519 or hybrid X25519 + ML-KEM-768), decrypt.
 *
 * @example
 * const { readings } = await readSharedRecord(clinicianClient, { shareId, purpose: Purpose.TREAT });
 */
export async function readSharedRecord(client: MedCipherClient, parameters: ReadSharedRecordParameters): Promise<ReadSharedRecordReturnType> {
  const gateway = requireGateway(client);
  const shareBytes = await gateway.get(parameters.shareId, { purpose: parameters.purpose });
  let share: RecordShare;
  try {
    // Sealed to the grantee's key (shares made before were plain JSON, and still read).
    const json = isSealedBox(shareBytes) ? await openBox(shareBytes, requireRecipientKey(client)) : shareBytes;
    share = JSON.parse(new TextDecoder().decode(json)) as RecordShare;
  } catch (error) {
    if (error instanceof DecryptionError) throw new InvalidInputError("This share was sealed to another grantee's key.", { shareId: parameters.shareId, reason: SHARE_NOT_FOR_THIS_KEY });
    if (error instanceof SyntaxError) throw new InvalidInputError("The share is not a MedCipher record share.", { shareId: parameters.shareId });
    throw error;
  }
  if (share.v !== 1 || getAddress(share.grantee) !== client.address) throw new InvalidInputError("This share was made for another grantee.", { shareId: parameters.shareId, reason: SHARE_NOT_FOR_THIS_GRANTEE });
  const blob = await gateway.get(share.record.blobId, { purpose: parameters.purpose });
  const { envelope: sealed } = await verifyRecord(client, { record: share.record, sealed: blob });
  const dataKey = await unwrapDataKey(share.wrap, requireRecipientKey(client));
  const bundle = JSON.parse(new TextDecoder().decode(await openRecord(sealed, dataKey))) as Bundle;
  dataKey.fill(0);
  return { record: share.record, bundle, readings: readingsFromBundle(bundle) };
}
