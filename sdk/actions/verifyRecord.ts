import { getAddress } from "ethers";

import { sha256Hex } from "../../core/hash.js";
import { EntryKind } from "../../protocol/codes.js";
import type { MedCipherClient } from "../client.js";
import { recordCommitment, verifyMerkleProof } from "../crypto/commitment.js";
import { IntegrityError } from "../errors.js";
import type { RecordRef } from "./types.js";
import { verifyRecordSignature, type DeviceRecordSignature } from "./verifyRecordSignature.js";

/** `sealed`: the record blob as fetched (a signed record or a plain sealed envelope). */
export type VerifyRecordParameters = { record: RecordRef; sealed: Uint8Array };
/** `envelope`: the sealed envelope to open; `deviceSignature`: the device's ML-DSA signature, checked (null when unsigned). */
export type VerifyRecordReturnType = { anchoredAt: number; batch: boolean; envelope: Uint8Array; deviceSignature: DeviceRecordSignature | null };

/**
 * Proves that `sealed` is the record the chain committed to: its SHA-256 is the blob id, the
 * salted commitment is the reading id, the Merkle proof leads to a root anchored on-chain for the
 * record's patient and category (or the record is anchored by itself). Throws IntegrityError.
 * A signed record's ML-DSA signature is then checked (verifyRecordSignature: RecordSignatureError);
 * the commitment covers the signature, so it cannot have been stripped or swapped.
 *
 * @example
 * await verifyRecord(client, { record, sealed });
 */
export async function verifyRecord(client: MedCipherClient, parameters: VerifyRecordParameters): Promise<VerifyRecordReturnType> {
  const { record, sealed } = parameters;
  if (sha256Hex(sealed) !== record.blobId) throw new IntegrityError("Record bytes", { blobId: record.blobId });
  if (recordCommitment(record.salt, sealed) !== record.readingId) throw new IntegrityError("Record commitment", { readingId: record.readingId });
  const anchorId = record.root ?? record.readingId;
  const entry = await client.contracts.records.entryOf(record.patient, anchorId);
  const expectedKind = record.root ? EntryKind.Batch : EntryKind.Record;
  if (Number(entry.kind) !== expectedKind || getAddress(entry.patient) !== getAddress(record.patient) || Number(entry.category) !== record.category) {
    throw new IntegrityError("Record anchor", { anchorId, patient: record.patient });
  }
  if (record.root) {
    if (!verifyMerkleProof(record.root, record.readingId, record.proof)) throw new IntegrityError("Record inclusion proof", { root: record.root });
    const onChain = await client.contracts.records.verifyInclusion(record.patient, record.root, record.readingId, record.proof);
    if (!onChain) throw new IntegrityError("Record inclusion proof (on-chain check)", { root: record.root });
  }
  const { envelope, deviceSignature } = await verifyRecordSignature(client, { blob: sealed, patient: record.patient, category: record.category });
  return { anchoredAt: Number(entry.anchoredAt), batch: record.root !== null, envelope, deviceSignature };
}
