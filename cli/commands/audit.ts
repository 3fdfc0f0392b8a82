import type { Command } from "commander";

import { getAuditTrail } from "../../sdk/actions/getAuditTrail.js";
import { InvalidInputError } from "../../sdk/errors.js";
import { globalOptions, makeClient, output, readRecordIndex } from "../context.js";

export function registerAuditCommand(program: Command): void {
  program
    .command("audit")
    .description("The patient's audit trail: on-chain events and every gateway access (granted or refused), checked against the gateway's anchored audit head")
    .option("--fhir", "print FHIR AuditEvent resources", false)
    .option("--from-block <n>", "first block to scan for events", "0")
    .option("--record <id>", "only one record (blob id or reading id from the record index): its accesses, its anchoring, the consents over its category")
    .action(async (options: { fhir: boolean; fromBlock: string; record?: string }, command: Command) => {
      const global = globalOptions(command);
      const { client } = await makeClient(global);
      let record;
      if (options.record) {
        const wanted = options.record.toLowerCase();
        record = (await readRecordIndex(global, client.address)).find((r) => r.blobId === wanted || r.readingId === wanted);
        if (!record) throw new InvalidInputError(`Record ${options.record} is not in the record index.`);
      }
      const trail = await getAuditTrail(client, { fromBlock: Number(options.fromBlock), record });
      const head = trail.anchoredHead ? `anchored audit head ${trail.anchoredHead.head} at entry ${trail.anchoredHead.seq}: verified` : "no audit head anchored yet";
      output(command).result(options.fhir ? trail.events : { anchoredHead: trail.anchoredHead, chain: trail.chain, gateway: trail.gateway }, () => options.fhir
        ? JSON.stringify(trail.events, null, 2)
        : [
            head,
            ...[
              ...trail.chain.map((c) => `${c.time}  chain    ${c.event.padEnd(20)} by ${c.actor}  block ${c.blockNumber}`),
              ...trail.gateway.map((e) => `${e.time}  gateway  ${`${e.action} ${e.outcome}`.padEnd(20)} by ${e.actor}  ${e.blobId.slice(0, 18)}…  ${e.reason}`),
            ].sort(),
          ].join("\n"));
    });
}
