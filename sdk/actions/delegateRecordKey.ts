/**
 * Delegated sharing, the writer's side: the device that uploads a record (it is online; the
 * patient's phone need not be) wraps the record's fresh data key to every grantee holding a live
 * public consent for the record's category, read from the chain at each upload, and stores one
 * share per (record, grantee) exactly as `shareRecord` does. A consent granted "from now on" is
 * the delegation; once it is revoked or expires, the next upload reads the chain again and wraps
 * to nobody new, and the gateway refuses the grantee's reads anyway (it checks live consent on
 * every read). The grantee's side is readDelegatedRecords.ts; docs/sdk.md "Delegated sharing"
 * says why this is not proxy re-encryption.
 */
import { getAddress, getBytes } from "ethers";

import type { Sha256Hex } from "../../core/hash.js";
import { requireGateway, type MedCipherClient } from "../client.js";
import { InvalidInputError } from "../errors.js";
import { liveGrantees } from "./liveGrantees.js";
import { resolveEncryptionKey } from "./resolveEncryptionKey.js";
import { putRecordShare, sealRecordShare } from "./shareRecord.js";
import type { OnProgress, RecordRef } from "./types.js";

/**
 * A grantee's published encryption public key, or an InvalidInputError (code SDK_INVALID_INPUT)
 * when it has none: such a grantee is skipped and reported, the upload goes on. Any other error
 * (the chain unreachable) fails the upload before anything is anchored.
 */
export type EncryptionKeyResolver = (client: MedCipherClient, account: string) => Promise<Uint8Array>;

/** `details.reason` of the error `registeredEncryptionKey` throws for an account with no key. */
export const NO_ENCRYPTION_KEY = "no-encryption-key";

/**
 * The X25519 key the account registered as a patient in the IdentityRegistry (`patientOf`) only:
 * the resolver before hybrid keys. The default is now `resolveEncryptionKey`
 * (resolveEncryptionKey.ts), which prefers a published hybrid key and falls back to this one.
 */
export async function registeredEncryptionKey(client: MedCipherClient, account: string): Promise<Uint8Array> {
  const grantee = getAddress(account);
  const info = await client.contracts.identity.patientOf(grantee);
  if (info.registeredAt === 0n) {
    throw new InvalidInputError(`grantee ${grantee} has no published encryption key: it cannot receive delegated records`, { grantee, reason: NO_ENCRYPTION_KEY });
  }
  return getBytes(info.encryptionKey);
}

export type DelegateRecordKeyParameters = {
  record: RecordRef;
  /** The record's data key (from `sealRecord`); not zeroed here. */
  dataKey: Uint8Array;
  grantee: string;
  granteeEncryptionKey: Uint8Array;
};

export type DelegateRecordKeyReturnType = { shareId: Sha256Hex };

/**
 * One delegated share: wraps `dataKey` to the grantee's key, seals the share to it and stores it
 * on the gateway (one PUT). This is the whole cost delegated sharing adds per grantee per record
 * (the bench's "delegated-sharing cost per record" times it); `sealRecordShare` is its local part.
 *
 * @example
 * const { shareId } = await delegateRecordKey(deviceClient, { record, dataKey, grantee, granteeEncryptionKey });
 */
export async function delegateRecordKey(client: MedCipherClient, parameters: DelegateRecordKeyParameters): Promise<DelegateRecordKeyReturnType> {
  const { record } = parameters;
  const sealed = await sealRecordShare({ record, dataKey: parameters.dataKey, grantee: parameters.grantee, granteeKey: parameters.granteeEncryptionKey });
  return { shareId: await putRecordShare(requireGateway(client), record, sealed) };
}

export type DelegationOptions = {
  /** Where grantees' keys come from; default `resolveEncryptionKey` (hybrid key if published, else the registered X25519 key). */
  resolveEncryptionKey?: EncryptionKeyResolver;
  /** First block searched for consents (the ConsentManager's deployment block); default 0. */
  consentsFromBlock?: number;
};

export type DelegateRecordKeysParameters = DelegationOptions & {
  patient: string;
  category: number;
  /** The records just sealed, each with its data key (not zeroed here). */
  records: readonly { record: RecordRef; dataKey: Uint8Array }[];
  /** Called with step "delegate" after each record's shares, only when there is a grantee to share with. */
  onProgress?: OnProgress;
};

/** A grantee live at upload that received nothing, and why (no published key, or an unusable one). */
export type SkippedGrantee = { grantee: string; reason: string };

export type DelegationReport = {
  /** The grantees live for the category when the chain was read. */
  grantees: string[];
  /** One per (record, grantee) shared with. */
  shares: { grantee: string; blobId: string; shareId: Sha256Hex }[];
  skipped: SkippedGrantee[];
};

/**
 * The delegation step of an upload (`ingestReadings` runs it before anchoring): reads the live
 * grantees once, resolves each one's key once, then stores one share per record and grantee. A
 * grantee without a usable key is skipped and reported, not thrown: one grantee's missing key
 * must not lose the patient's readings. A failed share upload fails the step (and the ingest,
 * before anything is anchored), so an anchored batch has a share for every grantee that was live
 * and had a key when it was uploaded.
 *
 * @example
 * const report = await delegateRecordKeys(deviceClient, { patient, category, records });
 */
export async function delegateRecordKeys(client: MedCipherClient, parameters: DelegateRecordKeysParameters): Promise<DelegationReport> {
  const resolve = parameters.resolveEncryptionKey ?? resolveEncryptionKey;
  const live = await liveGrantees(client, { patient: parameters.patient, category: parameters.category, fromBlock: parameters.consentsFromBlock });
  const report: DelegationReport = { grantees: live.map((g) => g.grantee), shares: [], skipped: [] };
  const keyed: { grantee: string; key: Uint8Array }[] = [];
  for (const { grantee } of live) {
    try {
      keyed.push({ grantee, key: await resolve(client, grantee) });
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      report.skipped.push({ grantee, reason: error.shortMessage });
    }
  }
  const gateway = requireGateway(client);
  for (const [index, { record, dataKey }] of parameters.records.entries()) {
    for (const target of [...keyed]) {
      let sealed: Uint8Array;
      try {
        sealed = await sealRecordShare({ record, dataKey, grantee: target.grantee, granteeKey: target.key });
      } catch (error) {
        // Sealing is local and only the grantee's key can make it fail (wrong length, a point
        // WebCrypto refuses), the same way for every record: the grantee is dropped for this upload.
        keyed.splice(keyed.indexOf(target), 1);
        report.skipped.push({ grantee: target.grantee, reason: `its published encryption key cannot be used: ${(error as Error).message}` });
        continue;
      }
      report.shares.push({ grantee: target.grantee, blobId: record.blobId, shareId: await putRecordShare(gateway, record, sealed) });
    }
    if (keyed.length > 0) parameters.onProgress?.("delegate", index + 1, parameters.records.length);
  }
  return report;
}
