import type { Command } from "commander";
import { getAddress, id as keccakUtf8, parseUnits } from "ethers";

import { linkTokenAbi } from "../../protocol/abi/generated.js";
import { connectContract } from "../../protocol/contracts.js";

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
      const receipt = await sendTransaction("grantRole", () => client.contracts.identity.grantRole(keccakUtf8(name), account));
      output(command).result({ role: name, account, transactionHash: receipt.hash }, () => `granted ${name} to ${account}`);
    });

  admin
    .command("revoke-role <role> <address>")
    .description(`Remove an account from a role: ${Object.keys(ROLES).join(" | ")} (for an oracle, \`remove-oracle\` also takes it off the Operator)`)
    .action(async (role: string, address: string, _options: unknown, command: Command) => {
      const name = ROLES[role];
      if (!name) throw new InvalidInputError(`Unknown role ${role} (${Object.keys(ROLES).join(", ")}).`);
      const global = globalOptions(command);
      const { client } = await makeClient(global, { gateway: false });
      const account = getAddress(address);
      const receipt = await sendTransaction("revokeRole", () => client.contracts.identity.revokeRole(keccakUtf8(name), account));
      output(command).result({ role: name, account, transactionHash: receipt.hash }, () => `revoked ${name} from ${account}`);
    });

  admin
    .command("fund-router <link>")
    .description("Add LINK to the router's pool, from which sponsored patients' requests are paid (a plain transfer: a transferAndCall would be the sender's own deposit)")
    .action(async (amount: string, _options: unknown, command: Command) => {
      const global = globalOptions(command);
      const value = parseLink(amount, "the amount");
      const { client } = await makeClient(global, { gateway: false });
      const router = client.addresses.PredictionRouter;
      const link = connectContract(linkTokenAbi, await client.contracts.router.linkToken(), client.contracts.router.runner);
      const receipt = await sendTransaction("transfer", () => link.transfer(router, value));
      output(command).result({ router, amount: value.toString(), transactionHash: receipt.hash }, () => `sent ${amount} LINK to the router's pool`);
    });

  admin
    .command("retire-model <model-id>")
    .description("Retire a model: new requests for it are refused, and a pending one is failed with MODEL_RETIRED (1004)")
    .action(async (modelId: string, _options: unknown, command: Command) => {
      const id = Number(modelId);
      if (!Number.isInteger(id) || id <= 0) throw new InvalidInputError(`<model-id> must be a model's on-chain id (a positive integer), got ${modelId}.`);
      const global = globalOptions(command);
      const { client } = await makeClient(global, { gateway: false });
      const receipt = await sendTransaction("retireModel", () => client.contracts.models.retireModel(id));
      output(command).result({ modelId: id, transactionHash: receipt.hash }, () => `retired model ${id}`);
    });

  admin
    .command("sponsor <patients...>")
    .description("Give patients a sponsor budget for predictions, drawn from the router's LINK pool (replaces their budget)")
    .option("--budget <link>", "LINK per patient", "10")
    .action(async (patients: string[], options: { budget: string }, command: Command) => {
      const global = globalOptions(command);
      const budget = parseLink(options.budget, "--budget");
      const accounts = patients.map((patient) => getAddress(patient));
      const { client } = await makeClient(global, { gateway: false });
      const receipt = await sendTransaction("sponsorPatients", () => client.contracts.router.sponsorPatients(accounts, budget));
      output(command).result({ patients: accounts, budget: budget.toString(), transactionHash: receipt.hash }, () => `sponsored ${accounts.length} patient(s) with ${options.budget} LINK each`);
    });

  admin
    .command("authorise-oracle <address>")
    .description("Admit an oracle: grant ORACLE_ROLE (gateway reads) and authorise it on the Operator (fulfilments)")
    .action(async (address: string, _options: unknown, command: Command) => {
      const global = globalOptions(command);
      const { client } = await makeClient(global, { gateway: false });
      const account = getAddress(address);
      // The role first: authoriseOracle rebuilds the Operator's senders from ORACLE_ROLE.
      await sendTransaction("grantRole", () => client.contracts.identity.grantRole(keccakUtf8("ORACLE_ROLE"), account));
      const receipt = await sendTransaction("authoriseOracle", () => client.contracts.router.authoriseOracle(account));
      output(command).result({ oracle: account, transactionHash: receipt.hash }, () => `authorised oracle ${account}`);
    });

  admin
    .command("remove-oracle <address>")
    .description("Remove an oracle: revoke ORACLE_ROLE (gateway reads stop) and take it off the Operator (fulfilments stop)")
    .action(async (address: string, _options: unknown, command: Command) => {
      const global = globalOptions(command);
      const { client } = await makeClient(global, { gateway: false });
      const account = getAddress(address);
      await sendTransaction("revokeRole", () => client.contracts.identity.revokeRole(keccakUtf8("ORACLE_ROLE"), account));
      const receipt = await sendTransaction("removeOracle", () => client.contracts.router.removeOracle(account));
      output(command).result({ oracle: account, transactionHash: receipt.hash }, () => `removed oracle ${account}`);
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
      const receipt = await sendTransaction("registerModel", () => client.contracts.models.registerModel(spec));
      const modelId = Number(await client.contracts.models.modelIdOf(artifact.id, artifact.version));
      output(command).result({ modelId, name: artifact.id, version: artifact.version, transactionHash: receipt.hash }, () => `registered ${artifact.id} ${artifact.version} as model ${modelId}`);
    });
}

/** An amount of LINK (18 decimals) given on the command line. */
function parseLink(amount: string, what: string): bigint {
  try {
    return parseUnits(amount, 18);
  } catch (error) {
    throw new InvalidInputError(`${what} must be an amount of LINK, got ${amount}.`, { cause: String(error) });
  }
}
