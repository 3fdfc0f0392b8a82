import { getAddress } from "ethers";

import { BaseError } from "../../core/errors.js";
import { requireRecipientKey, requireGateway, type MedCipherClient } from "../client.js";
import { GatewaySignatureError, GatewayUnavailableError, InvalidInputError } from "../errors.js";
import { readSharedRecord, SHARE_NOT_FOR_THIS_GRANTEE, SHARE_NOT_FOR_THIS_KEY, type ReadSharedRecordReturnType } from "./readSharedRecord.js";

export type ReadDelegatedRecordsParameters = {
  /** Whose records. */
  patient: string;
  /** The purpose of use the grantee reads for: its consent must cover it (the gateway checks). */
  purpose: number;
  /**
   * First block searched for the patient's anchors; default 0. Pass the last answer's
   * `toBlock + 1` to read only what arrived since.
   */
  fromBlock?: number;
  /** Last block searched; default the latest. */
  toBlock?: number;
};

export type DelegatedRecord = ReadSharedRecordReturnType & { shareId: string };

/** A share sealed to this grantee that did not read or verify: the record is left out, the reason kept. */
export type RejectedShare = { shareId: string; anchor: string; code: string; message: string };

export type ReadDelegatedRecordsReturnType = {
  /**
   * Each record once, verified against its on-chain commitment: batch by batch in chain order,
   * within a batch by the time of each record's first reading.
   */
  records: DelegatedRecord[];
  rejected: RejectedShare[];
  /** Categories the patient anchored records of that this grantee holds no live consent for (for `purpose`): not asked for. */
  closedCategories: number[];
  /** The last block searched. */
  toBlock: number;
};

/**
 * Delegated sharing, the grantee's side: finds and reads the records a patient's devices shared
 * with this grantee, with nothing but the grantee's own key and the chain (the patient need not
 * be online). From the patient's public `BatchAnchored` and `RecordAnchored` events it takes each
 * batch root or record id whose category the grantee holds live consent for, lists the shares
 * under it (`GET /v1/shares`), and opens every one with `readSharedRecord` (which verifies the
 * record against the chain): shares sealed to other grantees' keys do not open and are skipped.
 * After a revocation or expiry it asks for nothing (the gateway would refuse).
 *
 * @example
 * const { records, toBlock } = await readDelegatedRecords(clinicianClient, { patient, purpose: Purpose.TREAT });
 */
export async function readDelegatedRecords(client: MedCipherClient, parameters: ReadDelegatedRecordsParameters): Promise<ReadDelegatedRecordsReturnType> {
  const gateway = requireGateway(client);
  requireRecipientKey(client);
  const patient = getAddress(parameters.patient);
  const { purpose } = parameters;
  const fromBlock = parameters.fromBlock ?? 0;
  const toBlock = parameters.toBlock ?? (await client.provider.getBlockNumber());
  const anchors = await anchorsOf(client, patient, fromBlock, toBlock);

  const open = new Map<number, boolean>();
  for (const { category } of anchors) {
    if (!open.has(category)) open.set(category, await client.contracts.consent.hasAccess(client.address, patient, category, purpose));
  }
  const result: ReadDelegatedRecordsReturnType = { records: [], rejected: [], closedCategories: [...open].filter(([, yes]) => !yes).map(([c]) => c), toBlock };
  const seen = new Set<string>();
  for (const anchor of anchors) {
    if (!open.get(anchor.category)) continue;
    const found: DelegatedRecord[] = [];
    for (const shareId of await gateway.listShares({ owner: patient, ref: anchor.id, category: anchor.category, purpose })) {
      try {
        const shared = await readSharedRecord(client, { shareId, purpose });
        if (seen.has(shared.record.blobId)) continue;
        seen.add(shared.record.blobId);
        found.push({ ...shared, shareId });
      } catch (error) {
        if (isSomeoneElsesShare(error)) continue;
        // A forged response or an unreachable gateway is not about this share: stop.
        if (!(error instanceof BaseError) || error instanceof GatewaySignatureError || error instanceof GatewayUnavailableError) throw error;
        result.rejected.push({ shareId, anchor: anchor.id, code: error.code, message: error.shortMessage });
      }
    }
    // The listing is ordered by share id, which says nothing; a batch's leaves cannot be ordered
    // from their proofs either (sorted-pair hashing), so records go in the order of their readings.
    const firstTime = (r: DelegatedRecord) => r.readings[0]?.time ?? "";
    found.sort((a, b) => firstTime(a).localeCompare(firstTime(b)) || a.record.blobId.localeCompare(b.record.blobId));
    result.records.push(...found);
  }
  return result;
}

type Anchor = { id: string; category: number; blockNumber: number; index: number };

/** The patient's batch roots and single record ids in the block range, in chain order. */
async function anchorsOf(client: MedCipherClient, patient: string, fromBlock: number, toBlock: number): Promise<Anchor[]> {
  const records = client.contracts.records;
  const [batches, singles] = await Promise.all([
    records.queryFilter(records.filters.BatchAnchored(null, patient), fromBlock, toBlock),
    records.queryFilter(records.filters.RecordAnchored(null, patient), fromBlock, toBlock),
  ]);
  const anchors: Anchor[] = [
    ...batches.map((log) => ({ id: log.args.root, category: Number(log.args.category), blockNumber: log.blockNumber, index: log.index })),
    ...singles.map((log) => ({ id: log.args.recordId, category: Number(log.args.category), blockNumber: log.blockNumber, index: log.index })),
  ];
  return anchors.sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
}

function isSomeoneElsesShare(error: unknown): boolean {
  if (!(error instanceof InvalidInputError)) return false;
  const reason = error.details.reason;
  return reason === SHARE_NOT_FOR_THIS_KEY || reason === SHARE_NOT_FOR_THIS_GRANTEE;
}
