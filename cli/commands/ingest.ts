import { readFile } from "node:fs/promises";

import type { Command } from "commander";

import type { DelegationReport } from "../../sdk/actions/delegateRecordKey.js";
import { ingestReadings } from "../../sdk/actions/ingestReadings.js";
import { parseCategory } from "../../protocol/codes.js";
import { InvalidInputError } from "../../sdk/errors.js";
import { parseReadingsCsv } from "../../sdk/readings/csv.js";
import { pqSignerOf } from "../../sdk/keystore/pqSigningKey.js";
import { appendRecordIndex, globalOptions, loadIdentity, makeClient, output, parseAddress } from "../context.js";

export function registerIngestCommand(program: Command): void {
  program
    .command("ingest <readings.csv>")
    .description("Readings → FHIR Observation bundles → encrypted to the patient → uploaded → one Merkle batch anchored on-chain. Run as the bound device (or the patient); a device bound with `device bind --pq` signs each record with its ML-DSA-65 key. CSV columns: time,metric,value[,unit] (units: heart_rate /min, systolic_bp and diastolic_bp mm[Hg], body_temperature Cel, glucose mg/dL, spo2 %, respiratory_rate /min, body_weight kg; sample: docs/examples/readings.csv); a file with malformed rows is refused whole unless --skip-invalid")
    .requiredOption("--patient <address>", "the patient the readings belong to", parseAddress("--patient"))
    .option("--per-record <n>", "readings per encrypted record (one gateway blob and one batch leaf each)", "50")
    .option("--category <code>", "record category (name or code)", "VITAL_SIGNS")
    .option("--skip-invalid", "ingest the valid rows and report the malformed ones instead of refusing the file", false)
    .option("--relayer <identity>", "another identity that sends the anchoring transaction (the device only signs)")
    .action(async (file: string, options: { patient: string; perRecord: string; category: string; skipInvalid: boolean; relayer?: string }, command: Command) => {
      const global = globalOptions(command);
      const out = output(command);
      const category = parseCategory(options.category);
      if (category === undefined) throw new InvalidInputError(`Unknown category ${options.category}.`);
      const { readings, rejected } = parseReadingsCsv(await readFile(file, "utf8"), { skipInvalid: options.skipInvalid });
      for (const row of rejected) out.info(`skipped line ${row.line}: ${row.problem}`);
      const { client, provider, identity } = await makeClient(global);
      // A device bound with `device bind --pq` keeps its ML-DSA key in its keystore: every record is signed with it.
      const pqSigner = client.address === options.patient ? undefined : await pqSignerOf(identity.secrets);
      const relayer = options.relayer ? (await loadIdentity(global, options.relayer)).wallet.connect(provider) : undefined;
      const result = await ingestReadings(client, {
        patient: options.patient,
        readings,
        category,
        readingsPerRecord: Number(options.perRecord),
        relayer,
        pqSigner,
        onProgress: (step, done, total) => out.progress(step, done, total),
      });
      const index = await appendRecordIndex(global, options.patient, result.records);
      out.result({ ...result, readings: readings.length, rejected, index }, () =>
        [`ingested ${readings.length} readings as ${result.records.length} encrypted records${rejected.length ? ` (${rejected.length} rows skipped)` : ""}`,
          `batch root ${result.root} (tx ${result.transactionHash})`,
          `record index ${index}`,
          ...result.records.map((r) => `  ${r.blobId}  ${r.readings} readings`),
          ...delegationLines(result.delegation)].join("\n"));
    });
}

/** Delegated sharing's outcome: whom each record was also wrapped to, and who was left out and why. */
function delegationLines(report: DelegationReport | undefined): string[] {
  if (!report || report.grantees.length === 0) return [];
  const shared = new Set(report.shares.map((s) => s.grantee));
  return [
    `shared each record with ${shared.size} grantee(s) holding live consent: ${[...shared].join(", ") || "none"}`,
    ...report.skipped.map((s) => `  not shared with ${s.grantee}: ${s.reason}`),
  ];
}
