import { getAddress } from "ethers";

import { isSignedRecord, RECORD_SIGNATURE_CLOCK_SKEW_SECONDS, RecordSignatureError, verifySignedRecord } from "../../protocol/signedRecord.js";
import type { MedCipherClient } from "../client.js";

export { RECORD_SIGNATURE_CLOCK_SKEW_SECONDS };

export type VerifyRecordSignatureParameters = {
  /** The record blob as stored (a signed record "MCS1…", or a plain sealed envelope "MCE…"). */
  blob: Uint8Array;
  /** The patient and category the record is read as (its RecordRef's): the signature must name them. */
  patient: string;
  category: number;
};

/** Who signed a record with ML-DSA-65, and since when the chain binds that key to the device for the patient. */
export type DeviceRecordSignature = { device: string; publicKeyHash: string; signedAt: number; boundSince: number };

export type VerifyRecordSignatureReturnType = {
  /** The sealed envelope to open (sdk/crypto/envelope.ts): the one inside a signed record, the blob itself otherwise. */
  envelope: Uint8Array;
  /** null for an unsigned record (one from a device bound without an ML-DSA key, or stored by the patient). */
  deviceSignature: DeviceRecordSignature | null;
};

/**
 * The one place a reader unwraps a record blob: a plain envelope is returned as it is; a signed
 * record is checked whole — layout, the ML-DSA-65 signature over exactly these sealed bytes, made
 * for this deployment, patient and category — and its key against the chain: the device must
 * have been bound to the patient under that key (`pqKeyBoundSince`) no later than it signed
 * (give or take RECORD_SIGNATURE_CLOCK_SKEW_SECONDS).
 * Throws RecordSignatureError (a code per case). Old records stay verifiable after the device is
 * unbound or re-keyed: the chain never forgets a key's first binding.
 *
 * Freshness is the gateway's check at ingestion, not a reader's: a record stays valid for decades.
 *
 * @example
 * const { envelope, deviceSignature } = await verifyRecordSignature(client, { blob, patient, category });
 */
export async function verifyRecordSignature(client: MedCipherClient, parameters: VerifyRecordSignatureParameters): Promise<VerifyRecordSignatureReturnType> {
  const { blob } = parameters;
  if (!isSignedRecord(blob)) return { envelope: blob, deviceSignature: null };
  const { header, publicKeyHash, sealed } = await verifySignedRecord(blob, {
    patient: getAddress(parameters.patient),
    category: parameters.category,
    chainId: client.chainId,
    identityRegistry: client.addresses.IdentityRegistry,
  });
  const boundSince = Number(await client.contracts.identity.pqKeyBoundSince(header.device, header.patient, publicKeyHash));
  if (boundSince === 0) {
    throw new RecordSignatureError("RECORD_SIGNATURE_WRONG_KEY", "the chain never bound this key to the device for the patient", { device: header.device, publicKeyHash });
  }
  if (boundSince > header.signedAt + RECORD_SIGNATURE_CLOCK_SKEW_SECONDS) {
    throw new RecordSignatureError("RECORD_SIGNATURE_WRONG_KEY", "signed before the key was bound to the device for the patient", {
      device: header.device, publicKeyHash, signedAt: header.signedAt, boundSince,
    });
  }
  return { envelope: sealed, deviceSignature: { device: header.device, publicKeyHash, signedAt: header.signedAt, boundSince } };
}
