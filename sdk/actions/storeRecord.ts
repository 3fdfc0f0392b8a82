import type { Resource } from "@medplum/fhirtypes";
import { getAddress, getBytes, ZeroHash } from "ethers";

import { sendTransaction } from "../chain/send.js";
import { requireGateway, type MedCipherClient } from "../client.js";
import { newSalt, recordCommitment } from "../crypto/commitment.js";
import { sealRecord } from "../crypto/envelope.js";
import { InvalidInputError } from "../errors.js";
import { readingCount } from "../fhir/observations.js";
import type { MlDsaSigner } from "../../core/crypto/mldsa.js";
import { signRecord } from "../../protocol/signedRecord.js";
import { publishedHybridKey } from "./resolveEncryptionKey.js";
import type { RecordRef } from "./types.js";

export type StoreRecordParameters = {
  /** The patient the record belongs to (the client is the patient, a bound device, or a provider with TREAT consent). */
  patient: string;
  /** Any FHIR R4 resource (an Observation, a DiagnosticReport, a Bundle …). */
  resource: Resource;
  /** Record category code (Category.LABORATORY …). */
  category: number;
  /** An earlier record of the same patient this one amends (its record id); it must not be amended yet. */
  supersedes?: string;
  /** The device's ML-DSA-65 key, when the client is a device bound with `bindDevicePq` (see ingestReadings). */
  pqSigner?: MlDsaSigner;
};

export type StoreRecordReturnType = { record: RecordRef; transactionHash: string };

/**
 * One record on its own (not batched): sealed under a fresh data key wrapped to the patient's
 * published hybrid key, else its registered X25519 key, stored on the gateway, and anchored with `anchorRecord` under its salted
 * commitment. Amendments link to the record they supersede; nothing is overwritten.
 *
 * @example
 * const { record } = await storeRecord(patientClient, { patient, resource: labObservation, category: Category.LABORATORY });
 */
export async function storeRecord(client: MedCipherClient, parameters: StoreRecordParameters): Promise<StoreRecordReturnType> {
  const gateway = requireGateway(client);
  const patient = getAddress(parameters.patient);
  if (parameters.pqSigner && client.address === patient) throw new InvalidInputError("pqSigner is a device's key: store as the device.", { patient });
  const info = await client.contracts.identity.patientOf(patient);
  if (info.registeredAt === 0n) throw new InvalidInputError(`${patient} is not a registered patient.`, { patient });
  const patientKey = (await publishedHybridKey(client, patient)) ?? getBytes(info.encryptionKey);
  const { sealed } = await sealRecord(new TextEncoder().encode(JSON.stringify(parameters.resource)), patientKey);
  const salt = newSalt();
  const blob = parameters.pqSigner
    ? await signRecord(sealed, parameters.pqSigner, { device: client.address, patient, chainId: client.chainId, identityRegistry: client.addresses.IdentityRegistry, category: parameters.category })
    : sealed;
  const readingId = recordCommitment(salt, blob);
  const blobId = await gateway.put(blob, { owner: patient, kind: "record", category: parameters.category, ref: readingId });
  const uri = `${gateway.url}/v1/blobs/${blobId}`;
  const receipt = await sendTransaction("anchorRecord", () =>
    client.contracts.records.anchorRecord(patient, readingId, parameters.category, uri, parameters.supersedes ?? ZeroHash));
  const count = readingCount(parameters.resource);
  return { record: { patient, blobId, readingId, salt, category: parameters.category, root: null, proof: [], readings: count }, transactionHash: receipt.hash };
}
