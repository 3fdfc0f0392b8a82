import { getAddress } from "ethers";

import type { Sha256Hex } from "../../core/hash.js";
import { requireRecipientKey, requireGateway, type MedCipherClient } from "../client.js";
import type { GatewayClient } from "../gateway/client.js";
import { Purpose } from "../../protocol/codes.js";
import { parseSealedRecord, unwrapDataKey, wrapDataKey, type WrappedKey } from "../crypto/envelope.js";
import { sealBox } from "../crypto/sealedBox.js";
import { resolveEncryptionKey } from "./resolveEncryptionKey.js";
import type { RecordRef } from "./types.js";
import { verifyRecordSignature } from "./verifyRecordSignature.js";

export type ShareRecordParameters = {
  record: RecordRef;
  grantee: string;
  /**
   * The grantee's public key: 32-byte X25519 or 1216-byte hybrid (X25519 ‖ ML-KEM-768). Default
   * `resolveEncryptionKey`: the grantee's published hybrid key, else its registered X25519 key.
   */
  granteeEncryptionKey?: Uint8Array;
};

export type ShareRecordReturnType = { shareId: Sha256Hex };

/**
 * The share: the record's reference and its data key wrapped for the grantee. Stored on the
 * gateway (kind "wrapped-key") as a sealed box to the grantee's X25519 key (sdk/crypto/sealedBox.ts),
 * so the gateway's disk holds no grantee, record id, salt, Merkle proof or category in clear.
 */
export type RecordShare = { v: 1; grantee: string; record: RecordRef; wrap: WrappedKey };

/**
 * Shares a record with a grantee by wrapping its data key for the grantee's key (hybrid when the
 * grantee published one: see `resolveEncryptionKey`), and seals
 * the whole share to that key too (the share blob tells the gateway nothing it does not already
 * hold as metadata). The record is not re-encrypted. The grantee still needs live consent for
 * the record's category to fetch the share and the record from the gateway.
 *
 * @example
 * const { shareId } = await shareRecord(patientClient, { record, grantee: clinician, granteeEncryptionKey });
 */
export async function shareRecord(client: MedCipherClient, parameters: ShareRecordParameters): Promise<ShareRecordReturnType> {
  const gateway = requireGateway(client);
  const grantee = getAddress(parameters.grantee);
  const granteeKey = parameters.granteeEncryptionKey ?? (await resolveEncryptionKey(client, grantee));
  const blob = await gateway.get(parameters.record.blobId, { purpose: Purpose.PATRQT });
  // A record is shared only once its device signature (if any) checks: a grantee is never handed a forgery.
  const { envelope: sealed } = await verifyRecordSignature(client, { blob, patient: parameters.record.patient, category: parameters.record.category });
  const dataKey = await unwrapDataKey(parseSealedRecord(sealed).header.wrap, requireRecipientKey(client));
  try {
    return { shareId: await putRecordShare(gateway, parameters.record, await sealRecordShare({ record: parameters.record, dataKey, grantee, granteeKey })) };
  } finally {
    dataKey.fill(0);
  }
}

/** One share of one record for one grantee, with the data key in the clear (the caller zeroes it). */
export type RecordShareInput = { record: RecordRef; dataKey: Uint8Array; grantee: string; granteeKey: Uint8Array };

/**
 * The bytes of one share: `record`'s data key wrapped to `granteeKey`, with the record's
 * reference, sealed to the same key. What `shareRecord` and delegated sharing
 * (delegateRecordKey.ts) store as a `wrapped-key` blob; `readSharedRecord` opens it.
 */
export async function sealRecordShare(input: RecordShareInput): Promise<Uint8Array> {
  const share: RecordShare = { v: 1, grantee: getAddress(input.grantee), record: input.record, wrap: await wrapDataKey(input.dataKey, input.granteeKey) };
  return sealBox(new TextEncoder().encode(JSON.stringify(share)), input.granteeKey);
}

/**
 * Stores a sealed share of `record`: kind `wrapped-key`, owned by the record's patient, under its
 * category and its batch root (or record id, when anchored alone), which the gateway's share
 * listing (`GET /v1/shares`) finds it by. Returns the share id.
 */
export async function putRecordShare(gateway: GatewayClient, record: RecordRef, sealedShare: Uint8Array): Promise<Sha256Hex> {
  return gateway.put(sealedShare, { owner: record.patient, kind: "wrapped-key", category: record.category, ref: record.root ?? record.readingId });
}
