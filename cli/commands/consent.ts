import type { Command } from "commander";

import { grantConsent } from "../../sdk/actions/grantConsent.js";
import { listConsents } from "../../sdk/actions/listConsents.js";
import { revokeConsent } from "../../sdk/actions/revokeConsent.js";
import { chainNow } from "../../sdk/chain/time.js";
import { categoryName, parseCategory, parsePurpose, purposeName } from "../../protocol/codes.js";
import { InvalidInputError } from "../../sdk/errors.js";
import { globalOptions, loadIdentity, makeClient, output, parseAddress } from "../context.js";

function purposeOf(value: string): number {
  const purpose = parsePurpose(value);
  if (purpose === undefined) throw new InvalidInputError(`Unknown purpose ${value} (TREAT, ETREAT, HRESCH, TREATDS, PATRQT).`);
  return purpose;
}

export function registerConsentCommands(program: Command): void {
  const consent = program.command("consent").description("Purpose-bound, expiring, revocable consent (run as the patient)");

  consent
    .command("grant")
    .description("Grant a grantee access to categories of records for one purpose (EIP-712 signed; sent by --relayer when given)")
    .requiredOption("--grantee <address>", "who receives access", parseAddress("--grantee"))
    .requiredOption("--purpose <purpose>", "TREAT | ETREAT | HRESCH | TREATDS | PATRQT")
    .option("--categories <list>", "comma-separated categories (names or codes)", "VITAL_SIGNS")
    .option("--days <n>", "validity in days", "30")
    .option("--relayer <identity>", "identity that submits the signed grant and pays its gas")
    .action(async (options: { grantee: string; purpose: string; categories: string; days: string; relayer?: string }, command: Command) => {
      const global = globalOptions(command);
      const categories = options.categories.split(",").map((c) => {
        const code = parseCategory(c.trim());
        if (code === undefined) throw new InvalidInputError(`Unknown category ${c}.`);
        return code;
      });
      const { client, provider } = await makeClient(global, { gateway: false });
      const relayer = options.relayer ? (await loadIdentity(global, options.relayer)).wallet.connect(provider) : undefined;
      const validUntil = (await chainNow(provider)) + Math.round(Number(options.days) * 86_400);
      const result = await grantConsent(client, { grantee: options.grantee, purpose: purposeOf(options.purpose), categories, validUntil, relayer });
      output(command).result({ ...result, grantee: options.grantee, purpose: options.purpose, validUntil }, () =>
        `granted ${options.grantee} ${options.purpose} access to ${categories.map(categoryName).join(", ")} until ${new Date(validUntil * 1000).toISOString()} (tx ${result.transactionHash})`);
    });

  consent
    .command("revoke")
    .description("Revoke a grant; the gateway refuses the grantee from the next block")
    .requiredOption("--grantee <address>", "whose access ends", parseAddress("--grantee"))
    .requiredOption("--purpose <purpose>", "the purpose of the grant to end")
    .option("--relayer <identity>", "identity that submits the signed revocation")
    .action(async (options: { grantee: string; purpose: string; relayer?: string }, command: Command) => {
      const global = globalOptions(command);
      const { client, provider } = await makeClient(global, { gateway: false });
      const relayer = options.relayer ? (await loadIdentity(global, options.relayer)).wallet.connect(provider) : undefined;
      const result = await revokeConsent(client, { grantee: options.grantee, purpose: purposeOf(options.purpose), relayer });
      output(command).result({ ...result, grantee: options.grantee, purpose: options.purpose }, () => `revoked ${options.purpose} access of ${options.grantee} (tx ${result.transactionHash})`);
    });

  consent
    .command("list")
    .description("List the patient's grants and their current state")
    .option("--patient <address>", "whose grants (default: this identity)", parseAddress("--patient"))
    .option("--fhir", "print FHIR Consent resources", false)
    .action(async (options: { patient?: string; fhir: boolean }, command: Command) => {
      const global = globalOptions(command);
      const { client } = await makeClient(global, { gateway: false });
      const grants = await listConsents(client, { patient: options.patient });
      output(command).result(options.fhir ? grants.map((g) => g.fhir) : grants.map(({ fhir: _fhir, ...g }) => g), () =>
        options.fhir ? JSON.stringify(grants.map((g) => g.fhir), null, 2) : grants.length === 0 ? "no grants" : grants.map((g) =>
          `${g.active ? "active  " : "inactive"} ${g.grantee} ${purposeName(g.purpose).padEnd(7)} ${g.categoryCodes.map(categoryName).join(",")} until ${g.validUntil ? new Date(g.validUntil * 1000).toISOString() : "-"}`).join("\n"));
    });
}
