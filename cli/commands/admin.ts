import type { Command } from "commander";
import { getAddress, id as keccakUtf8 } from "ethers";

import { sendTransaction } from "../../sdk/chain/send.js";
import { paramSetIdToBytes32 } from "../../sdk/predictions.js";
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

  admin
    .command("register-model <artifact>")
    .description("Register a trained model artifact (models/<artifact>.json, e.g. maternal-risk-v1) in the ModelRegistry; prints its on-chain id")
    .action(async (artifactId: string, _options: unknown, command: Command) => {
      const global = globalOptions(command);
      const { loadModel } = await import("../../fhe/index.js");
      let artifact;
      try {
        artifact = loadModel(artifactId);
      } catch (error) {
        throw new InvalidInputError(`No model artifact ${artifactId} in models/.`, { cause: String(error) });
      }
      const { client } = await makeClient(global, { gateway: false });
      const spec = {
        name: artifact.id, version: artifact.version, weightsHash: artifact.weightsHash, weightsUri: `models/${artifact.id}.json`,
        paramSetId: paramSetIdToBytes32(artifact.paramSetId), encodingSpecHash: artifact.encodingSpecHash,
        outputKind: artifact.output.kind === "softmax" ? 2 : 1, isPrivate: artifact.isPrivate,
      };
      const receipt = await sendTransaction("registerModel", () => client.contracts.models.registerModel!(spec));
      const modelId = Number(await client.contracts.models.modelIdOf!(artifact.id, artifact.version));
      output(command).result({ modelId, name: artifact.id, version: artifact.version, transactionHash: receipt.hash }, () => `registered ${artifact.id} ${artifact.version} as model ${modelId}`);
    });
}
