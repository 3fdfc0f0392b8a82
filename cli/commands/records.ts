import type { Command } from "commander";
import { getBytes } from "ethers";

import { readRecord } from "../../sdk/actions/readRecord.js";
import { readSharedRecord } from "../../sdk/actions/readSharedRecord.js";
import { shareRecord } from "../../sdk/actions/shareRecord.js";
import type { RecordRef } from "../../sdk/actions/types.js";
import { verifyRecord } from "../../sdk/actions/verifyRecord.js";
import { parsePurpose, Purpose } from "../../protocol/codes.js";
import { InvalidInputError } from "../../sdk/errors.js";
import type { Reading } from "../../sdk/fhir/observations.js";
import { globalOptions, makeClient, output, parseAddress, readRecordIndex, type GlobalOptions } from "../context.js";

async function findRecord(global: GlobalOptions, patient: string, id: string): Promise<RecordRef | undefined> {
  const wanted = id.toLowerCase();
  return (await readRecordIndex(global, patient)).find((r) => r.blobId === wanted || r.readingId === wanted);
}

/** A patient checks their own record as PATRQT (patient request); a grantee under the purpose of their consent, TREAT unless told. */
function verifyPurpose(value: string | undefined, own: boolean): number {
  if (value === undefined) return own ? Purpose.PATRQT : Purpose.TREAT;
  const purpose = parsePurpose(value);
  if (purpose === undefined) throw new InvalidInputError(`Unknown purpose ${value} (TREAT, ETREAT, HRESCH, TREATDS, PATRQT).`, { purpose: value });
  return purpose;
}

function readingLines(readings: readonly Reading[]): string {
  return readings.map((r) => `${r.time}  ${r.metric.padEnd(16)} ${r.value}`).join("\n");
}

export function registerRecordCommands(program: Command): void {
  program
    .command("share <record>")
    .description("Share one of the patient's records (blob id or reading id from the record index) with a grantee by wrapping its data key for them; prints the share id to give the grantee")
    .requiredOption("--grantee <address>", "who may decrypt it (they still need live consent to fetch it)", parseAddress("--grantee"))
    .option("--grantee-key <hex>", "the grantee's X25519 public key (default: the key registered for that address)")
    .action(async (record: string, options: { grantee: string; granteeKey?: string }, command: Command) => {
      const global = globalOptions(command);
      const { client } = await makeClient(global);
      const ref = await findRecord(global, client.address, record);
      if (!ref) throw new InvalidInputError(`Record ${record} is not in ${client.address}'s record index.`, { record });
      const result = await shareRecord(client, { record: ref, grantee: options.grantee, granteeEncryptionKey: options.granteeKey ? getBytes(options.granteeKey) : undefined });
      output(command).result({ ...result, record: ref.blobId, grantee: options.grantee }, () => `share id ${result.shareId}`);
    });

  program
    .command("read <id>")
    .description("Read and decrypt a record: as the patient, a record id from the index; as a grantee, a share id (consent is checked by the gateway, the record is verified against the chain)")
    .option("--purpose <purpose>", "purpose of use stated to the gateway (grantees): TREAT | ETREAT | HRESCH | TREATDS | PATRQT", "TREAT")
    .option("--fhir", "print the FHIR Bundle instead of a readings table", false)
    .action(async (id: string, options: { purpose: string; fhir: boolean }, command: Command) => {
      const global = globalOptions(command);
      const out = output(command);
      const { client } = await makeClient(global);
      const own = await findRecord(global, client.address, id);
      const purpose = verifyPurpose(options.purpose, false);
      const result = own ? { record: own, ...(await readRecord(client, { record: own })) } : await readSharedRecord(client, { shareId: id, purpose });
      out.result(options.fhir ? result.bundle : { record: result.record, readings: result.readings }, () =>
        options.fhir ? JSON.stringify(result.bundle, null, 2) : `record ${result.record.blobId} (patient ${result.record.patient}, verified on-chain)\n${readingLines(result.readings)}`);
    });

  program
    .command("verify <record>")
    .description("Check a record against the chain without decrypting it: blob hash, salted commitment, Merkle inclusion under an anchored batch root, and a device's ML-DSA-65 signature when the record carries one")
    .option("--patient <address>", "whose record index to look in (default: this identity)", parseAddress("--patient"))
    .option("--purpose <purpose>", "purpose of use stated to the gateway: TREAT | ETREAT | HRESCH | TREATDS | PATRQT (default: PATRQT for the patient's own record, TREAT for anyone else's)")
    .action(async (record: string, options: { patient?: string; purpose?: string }, command: Command) => {
      const global = globalOptions(command);
      const { client } = await makeClient(global);
      const patient = options.patient ?? client.address;
      const purpose = verifyPurpose(options.purpose, patient === client.address);
      const ref = await findRecord(global, patient, record);
      if (!ref) throw new InvalidInputError(`Record ${record} is not in ${patient}'s record index.`, { record });
      const sealed = await client.gateway!.get(ref.blobId, { purpose, ref: ref.root ?? ref.readingId });
      const { anchoredAt, batch, deviceSignature } = await verifyRecord(client, { record: ref, sealed });
      const signedBy = deviceSignature ? `; ML-DSA-65 signature of device ${deviceSignature.device} (key ${deviceSignature.publicKeyHash}) verified` : "";
      output(command).result({ verified: true, record: ref, anchoredAt, batch, deviceSignature }, () =>
        `verified: ${ref.blobId} is reading ${ref.readingId} of ${batch ? `batch ${ref.root}` : "a single record"} anchored at ${new Date(anchoredAt * 1000).toISOString()}${signedBy}`);
    });
}
