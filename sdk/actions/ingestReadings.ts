import { getAddress, getBytes, type Signer } from "ethers";

import { chainNow, SIGNATURE_LIFETIME_SECONDS } from "../chain/time.js";
import { sendTransaction } from "../chain/send.js";
import { connectContracts } from "../../protocol/contracts.js";
import { ANCHOR_BATCH_TYPES, medCipherDomain } from "../../protocol/typedData.js";
import { requireGateway, type MedCipherClient } from "../client.js";
import { Category } from "../../protocol/codes.js";
import { buildMerkleBatch, newSalt, recordCommitment } from "../crypto/commitment.js";
import { sealRecord } from "../crypto/envelope.js";
import { InvalidInputError } from "../errors.js";
import { buildObservationBundle, type Reading } from "../fhir/observations.js";
import { signReadings } from "../readings/deviceSignature.js";
import { publishedHybridKey } from "./resolveEncryptionKey.js";
import { delegateRecordKeys, type DelegationOptions, type DelegationReport } from "./delegateRecordKey.js";
import type { MlDsaSigner } from "../../core/crypto/mldsa.js";
import { signRecord } from "../../protocol/signedRecord.js";
import type { OnProgress, RecordRef } from "./types.js";

export type IngestReadingsParameters = {
  /** The patient the readings belong to (the client is the patient or a device bound to it). */
  patient: string;
  readings: readonly Reading[];
  /** Record category (default VITAL_SIGNS). */
  category?: number;
  /** Readings per encrypted FHIR Bundle (one gateway blob and one batch leaf each). Default 50. */
  readingsPerRecord?: number;
  /** Sign each reading with the client's key (EIP-712 `Reading`): set when the client is the device. Default true. */
  signAsDevice?: boolean;
  /**
   * Another account that sends the anchoring transaction (the device then only signs
   * `AnchorBatch`): for devices holding no gas.
   */
  relayer?: Signer;
  /**
   * Delegated sharing (delegateRecordKey.ts), on by default: before anchoring, each record's data
   * key is also wrapped to every grantee with a live public consent for the category now, and one
   * share per record and grantee is stored. `false` turns it off; options choose the key resolver.
   */
  delegate?: false | DelegationOptions;
  /**
   * The device's ML-DSA-65 key (sdk/keystore/pqSigningKey.ts `pqSignerOf`): each record is
   * uploaded as a signed record (protocol/signedRecord.ts). Required by the gateway once the
   * device was bound with `bindDevicePq`; the client must be the device.
   */
  pqSigner?: MlDsaSigner;
  onProgress?: OnProgress;
};

/** `delegation`: who was shared with and who was skipped (absent when `delegate: false`). */
export type IngestReadingsReturnType = { root: string; transactionHash: string; records: RecordRef[]; delegation?: DelegationReport };

/** Defined in chain/typedData.ts with the other contract messages; still exported here for callers of this file. */
export { ANCHOR_BATCH_TYPES };

/**
 * Readings → FHIR Observation bundles → each sealed under a fresh data key wrapped to the
 * patient's published hybrid key (X25519 + ML-KEM-768), else its registered X25519 key → salted commitments → one Merkle batch → blobs uploaded to the
 * gateway → each data key also wrapped to the live grantees (`delegate`) → the root anchored
 * on-chain in one transaction. Returns what is needed to read, share
 * and prove each record later (keep it: the patient's record index).
 *
 * @example
 * const { root, records } = await ingestReadings(deviceClient, { patient, readings });
 * // A device bound with bindDevicePq signs every record with its ML-DSA-65 key:
 * await ingestReadings(deviceClient, { patient, readings, pqSigner: await pqSignerOf(deviceSecrets) });
 */
export async function ingestReadings(client: MedCipherClient, parameters: IngestReadingsParameters): Promise<IngestReadingsReturnType> {
  const gateway = requireGateway(client);
  const patient = getAddress(parameters.patient);
  const category = parameters.category ?? Category.VITAL_SIGNS;
  const perRecord = parameters.readingsPerRecord ?? 50;
  const progress = parameters.onProgress ?? (() => undefined);
  if (parameters.readings.length === 0) throw new InvalidInputError("No readings to ingest.");
  if (!(perRecord >= 1)) throw new InvalidInputError("readingsPerRecord must be at least 1.");

  const info = await client.contracts.identity.patientOf(patient);
  if (info.registeredAt === 0n) throw new InvalidInputError(`${patient} is not a registered patient.`, { patient });
  // Wrapped post-quantum (X25519 + ML-KEM-768) once the patient has published a hybrid key.
  const patientKey = (await publishedHybridKey(client, patient)) ?? getBytes(info.encryptionKey);

  const signAsDevice = parameters.signAsDevice ?? true;
  const device = client.address === patient ? undefined : client.address;
  if (parameters.pqSigner && !device) throw new InvalidInputError("pqSigner is a device's key: ingest as the device (the patient's own uploads are not device-signed).", { patient });
  const readings = signAsDevice && device ? await signReadings(client.account, patient, client.chainId, parameters.readings) : [...parameters.readings];

  const chunks: Reading[][] = [];
  for (let i = 0; i < readings.length; i += perRecord) chunks.push(readings.slice(i, i + perRecord));
  const sealedRecords: { sealed: Uint8Array; dataKey: Uint8Array; salt: string; readingId: string; count: number }[] = [];
  for (const [index, chunk] of chunks.entries()) {
    const bundle = buildObservationBundle(chunk, { patient, device });
    const { sealed, dataKey } = await sealRecord(new TextEncoder().encode(JSON.stringify(bundle)), patientKey);
    const salt = newSalt();
    const blob = parameters.pqSigner
      ? await signRecord(sealed, parameters.pqSigner, { device: device!, patient, chainId: client.chainId, identityRegistry: client.addresses.IdentityRegistry, category })
      : sealed;
    sealedRecords.push({ sealed: blob, dataKey, salt, readingId: recordCommitment(salt, blob), count: chunk.length });
    progress("encrypt", index + 1, chunks.length);
  }

  const batch = buildMerkleBatch(sealedRecords.map((r) => r.readingId));
  const records: RecordRef[] = [];
  for (const [index, record] of sealedRecords.entries()) {
    const blobId = await gateway.put(record.sealed, { owner: patient, kind: "record", category, ref: batch.root });
    records.push({ patient, blobId, readingId: record.readingId, salt: record.salt, category, root: batch.root, proof: batch.proofs[index]!, readings: record.count });
    progress("upload", index + 1, sealedRecords.length);
  }
  let delegation: DelegationReport | undefined;
  try {
    if (parameters.delegate !== false) {
      delegation = await delegateRecordKeys(client, {
        ...parameters.delegate, patient, category, records: records.map((record, i) => ({ record, dataKey: sealedRecords[i]!.dataKey })), onProgress: progress,
      });
    }
  } finally {
    for (const record of sealedRecords) record.dataKey.fill(0);
  }

  const uri = `${gateway.url}/v1/blobs`;
  const count = sealedRecords.length;
  let receipt;
  if (parameters.relayer) {
    const deadline = (await chainNow(client.provider)) + SIGNATURE_LIFETIME_SECONDS;
    const signature = await client.account.signTypedData(
      medCipherDomain("RecordRegistry", client.chainId, client.addresses.RecordRegistry),
      ANCHOR_BATCH_TYPES,
      { patient, root: batch.root, count, category, uri, deadline },
    );
    const relayed = connectContracts(client.addresses, parameters.relayer).records;
    receipt = await sendTransaction("anchorBatchBySig", () => relayed.anchorBatchBySig(patient, batch.root, count, category, uri, deadline, signature));
  } else {
    receipt = await sendTransaction("anchorBatch", () => client.contracts.records.anchorBatch(patient, batch.root, count, category, uri));
  }
  progress("anchor", 1, 1);
  return { root: batch.root, transactionHash: receipt.hash, records, delegation };
}
