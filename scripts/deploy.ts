/**
 * Deploys the MedCipher suite and leaves a working system (deploy/deploy-suite.ts): contracts,
 * oracle admitted through the router, roles, the router's LINK pool, sponsors, models, and
 * deployments/<chainId>.json with the deployment block. Safe to re-run: a second run checks and
 * sends nothing.
 *
 *   npx hardhat node &  npm run deploy -- --network localhost
 *   npm run deploy -- --network localhost --oracle 0x… --gateway 0x… --vendor 0x…
 *   npm run deploy -- --network localhost --rpc http://127.0.0.1:8555   # another port
 *   npm run deploy -- --network sepolia --parameters deploy/parameters/sepolia.json
 *   npm run deploy -- --network localhost --reset                        # a new suite on this chain
 *
 * Parameters default to deploy/parameters/<network>.json. MEDCIPHER_DEPLOYMENTS_DIR overrides
 * the output folder (default: deployments/). Exit 0 on success, 1 on a failure (its message).
 */
import path from "node:path";

import { Command, Option } from "commander";
import { parseUnits } from "ethers";
import hre from "hardhat";

import { BaseError } from "../core/errors.js";
import { deploySuiteAndWrite, type DeploySetup } from "../deploy/deploy-suite.js";

const program = new Command("deploy")
  .description("Deploy MedCipher (npm run deploy -- --network <name>)")
  .addOption(new Option("--network <name>", "a network of hardhat.config.ts").default("localhost"))
  .option("--rpc <url>", "override the network's JSON-RPC URL (e.g. a hardhat node on another port)")
  .option("--parameters <file>", "Ignition parameters (+ a MedCipherDeploy section); default deploy/parameters/<network>.json")
  .option("--reset", "set this chain's Ignition journal aside and deploy a new suite", false)
  .option("--oracle <address...>", "oracle sending accounts to admit (ORACLE_ROLE + router.authoriseOracle)")
  .option("--gateway <address...>", "gateway signing accounts (GATEWAY_ROLE)")
  .option("--vendor <address...>", "device vendors (DEVICE_VENDOR_ROLE)")
  .option("--sponsor <address...>", "patients to give a sponsor budget")
  .option("--sponsor-budget <link>", "LINK per sponsored patient (default 10)")
  .option("--router-link <link>", "top the router's LINK pool up to this much LINK")
  .option("--out <dir>", "where <chainId>.json is written", process.env.MEDCIPHER_DEPLOYMENTS_DIR ?? "deployments")
  .option("--quiet-ignition", "no Ignition progress display (our step lines only)", false)
  .option("--no-compile", "skip `hardhat build` (the artifacts are current)");
program.parse(process.argv);
const options = program.opts<{
  network: string; rpc?: string; parameters?: string; reset: boolean; oracle?: string[]; gateway?: string[]; vendor?: string[];
  sponsor?: string[]; sponsorBudget?: string; routerLink?: string; out: string; quietIgnition: boolean; compile: boolean;
}>();

const log = (line: string) => process.stdout.write(`${line}\n`);
try {
  const setup: DeploySetup = {
    oracles: options.oracle,
    gateways: options.gateway,
    deviceVendors: options.vendor,
    sponsoredPatients: options.sponsor,
    sponsorBudget: options.sponsorBudget === undefined ? undefined : parseUnits(options.sponsorBudget, 18),
    routerLink: options.routerLink === undefined ? undefined : parseUnits(options.routerLink, 18),
  };
  if (options.compile) {
    log("compiling (hardhat build)…");
    await hre.tasks.getTask("build").run({ quiet: true });
  }
  log(`connecting to ${options.network}${options.rpc ? ` at ${options.rpc}` : ""}…`);
  const connection = await hre.network.connect({ network: options.network, ...(options.rpc ? { override: { url: options.rpc } } : {}) });
  const result = await deploySuiteAndWrite(connection, {
    directory: options.out,
    readArtifact: (name) => hre.artifacts.readArtifact(name),
    parametersFile: options.parameters,
    journalRoot: path.join(hre.config.paths.ignition, "deployments"),
    reset: options.reset,
    setup,
    log,
    displayUi: !options.quietIgnition,
  });
  log(`Deployed ${result.module} to ${connection.networkName} (chain ${result.chainId}), deployment ${result.deploymentId}, block ${result.deploymentBlock}`);
  for (const [name, address] of Object.entries(result.addresses)) log(`  ${name.padEnd(17)} ${address}`);
  for (const [id, modelId] of Object.entries(result.models)) log(`  model #${modelId} ${id}`);
  log(result.setupTransactions === 0 ? "Nothing to do: everything was already in place." : `${result.setupTransactions} setup transaction(s) sent.`);
  await connection.close();
} catch (error) {
  // A failure the deployer can act on is one line; anything else keeps its stack.
  const message = error instanceof BaseError ? `error (${error.code}): ${error.shortMessage}` : `error: ${error instanceof Error ? error.stack ?? error.message : String(error)}`;
  process.stderr.write(`${message}\n`);
  process.exitCode = 1;
}
