import type { Command } from "commander";
import { getAddress, id as keccakUtf8 } from "ethers";

import { sendTransaction } from "../../sdk/chain/send.js";
import { InvalidInputError } from "../../sdk/errors.js";
import { globalOptions, makeClient, output } from "../context.js";

const ROLES: Record<string, string> = {
  provider: "PROVIDER_ROLE",
  researcher: "RESEARCHER_ROLE",
  oracle: "ORACLE_ROLE",
  "device-vendor": "DEVICE_VENDOR_ROLE",
  gateway: "GATEWAY_ROLE",
};

export function registerAdminCommands(program: Command): void {
  const admin = program.command("admin").description("Governance tasks (run as the IdentityRegistry's admin, e.g. hardhat account #0 imported with `keys init --import-env`)");

  admin
    .command("grant-role <role> <address>")
    .description(`Admit an account to a role: ${Object.keys(ROLES).join(" | ")}`)
    .action(async (role: string, address: string, _options: unknown, command: Command) => {
      const name = ROLES[role];
      if (!name) throw new InvalidInputError(`Unknown role ${role} (${Object.keys(ROLES).join(", ")}).`);
      const global = globalOptions(command);
      const { client } = await makeClient(global, { gateway: false });
      const account = getAddress(address);
      const receipt = await sendTransaction("grantRole", () => client.contracts.identity.grantRole!(keccakUtf8(name), account));
      output(command).result({ role: name, account, transactionHash: receipt.hash }, () => `granted ${name} to ${account}`);
    });
}
