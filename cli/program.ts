/**
 * The `medcipher` command line: identities, patients, devices, readings, consent, sharing,
 * predictions, audit, and the gateway and oracle services. See docs/cli.md. The entry point is
 * cli/medcipher.ts, which checks the Node.js version before it loads this.
 */
import { Command, Option } from "commander";

import { registerAdminCommands } from "./commands/admin.js";
import { registerAuditCommand } from "./commands/audit.js";
import { registerConsentCommands } from "./commands/consent.js";
import { registerDeviceCommands } from "./commands/device.js";
import { registerGatewayCommands } from "./commands/gateway.js";
import { registerRelayerCommands } from "./commands/relayer.js";
import { registerIngestCommand } from "./commands/ingest.js";
import { registerKeysCommands } from "./commands/keys.js";
import { registerPatientCommands } from "./commands/patient.js";
import { registerPredictCommands } from "./commands/predict.js";
import { registerRecordCommands } from "./commands/records.js";
import { defaultHome } from "./context.js";
import { fail } from "./output.js";

export async function buildProgram(): Promise<Command> {
  const program = new Command("medcipher")
    .description("MedCipher: encrypted health records under on-chain consent, and encrypted disease predictions")
    .addOption(new Option("--home <dir>", "where identities (keys/) and record indexes (records/) are kept").env("MEDCIPHER_HOME").default(defaultHome()))
    .addOption(new Option("--rpc <url>", "JSON-RPC URL of the chain (default: a local `npx hardhat node`)").env("MEDCIPHER_RPC").default("http://127.0.0.1:8545"))
    .addOption(new Option("--deployment <file>", "contract addresses (default: deployments/<chainId>.json, written by scripts/deploy.ts)").env("MEDCIPHER_DEPLOYMENT"))
    .addOption(new Option("--gateway <url>", "gateway base URL").env("MEDCIPHER_GATEWAY").default("http://127.0.0.1:8787"))
    .addOption(new Option("-i, --identity <name>", "which keystore in <home>/keys/ acts").env("MEDCIPHER_IDENTITY").default("default"))
    .addOption(new Option("--keystore <file>", "the acting identity's keystore file, instead of <home>/keys/<identity>.json").env("MEDCIPHER_KEYSTORE"))
    .addOption(new Option("--password-env <var>", "environment variable holding the keystore password").default("MEDCIPHER_PASSWORD"))
    .option("--json", "machine-readable output: the result as JSON on stdout, errors as JSON on stderr", false)
    .showHelpAfterError()
    .configureHelp({ showGlobalOptions: true });

  registerKeysCommands(program);
  registerPatientCommands(program);
  registerDeviceCommands(program);
  registerIngestCommand(program);
  registerConsentCommands(program);
  registerRecordCommands(program);
  registerPredictCommands(program);
  registerAuditCommand(program);
  registerGatewayCommands(program);
  registerRelayerCommands(program);
  registerAdminCommands(program);
  // The oracle daemon's commands (oracle/cli.ts) load only when asked for: they pull in the
  // daemon, its job store and worker pool.
  if (process.argv.includes("oracle")) {
    const { registerOracleCommands } = await import("../oracle/cli.js");
    registerOracleCommands(program);
  } else {
    program.command("oracle").description("The oracle daemon (oracle start | settings | keystore); see docs/oracle.md").allowUnknownOption().action(() => undefined);
  }
  return program;
}

/** Runs the command line on `argv` (as in `process.argv`: node, script, then the arguments). */
export async function runCli(argv: readonly string[]): Promise<void> {
  const program = await buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    fail(error, argv.includes("--json"));
  }
}
