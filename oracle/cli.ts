import { existsSync, readFileSync, writeFileSync } from "node:fs";

import { Command } from "commander";
import { Wallet } from "ethers";

import { ENV_PREFIX, loadSettings, printableSettings, settingsMarkdownTable } from "./config/settings.js";
import { startOracle } from "./daemon.js";
import { ConfigError, errorMessage } from "./errors.js";
import { onTerminationSignals } from "./shutdown.js";

/** Exit codes: 0 clean stop, 1 runtime failure, 78 bad configuration (sysexits EX_CONFIG). */
export const EXIT_CONFIG = 78;

/** The `medcipher` CLI's global options that name something the daemon reads from a setting. */
const CLI_OPTIONS_THE_DAEMON_IGNORES = [["rpc", "RPC_URL"], ["gateway", "GATEWAY_URL"]] as const;

/**
 * Adds `oracle start | settings | keystore` to a commander program (the `medcipher` CLI, or
 * oracle/main.ts on its own).
 */
export function registerOracleCommands(program: Command): Command {
  const oracle = program.command("oracle").description("The MedCipher oracle daemon: watches prediction requests, evaluates them on ciphertext, fulfils on-chain");
  // The daemon takes everything from its settings (ORACLE_* / --config); the CLI's global
  // --rpc, --gateway, --identity… would only mislead in its help.
  oracle.configureHelp({ showGlobalOptions: false });

  oracle
    .command("start")
    .description(`Run the daemon until SIGINT/SIGTERM. Settings come from --config (JSON) and ${ENV_PREFIX}* environment variables (see \`oracle settings\`).`)
    .option("-c, --config <file>", "JSON settings file, keys as in `oracle settings`")
    .action(async (options: { config?: string }) => {
      const ignored = CLI_OPTIONS_THE_DAEMON_IGNORES.filter(([flag]) => program.getOptionValueSource(flag) === "cli");
      if (ignored.length > 0) {
        console.error(`oracle start takes no ${ignored.map(([flag]) => `--${flag}`).join(", ")}: set ${ignored.map(([, setting]) => `${ENV_PREFIX}${setting}`).join(", ")} (or the --config file) instead`);
        process.exit(EXIT_CONFIG);
      }
      let settings;
      try {
        settings = loadSettings(options.config ? { file: options.config } : {});
      } catch (error) {
        console.error(errorMessage(error), JSON.stringify((error as ConfigError).details ?? {}, null, 2));
        process.exit(EXIT_CONFIG);
      }
      // Signals are handled from the first moment: one during start-up stops the daemon as soon
      // as it is up (its start-up steps are all resumable, so nothing is lost either way).
      let oracleHandle: Awaited<ReturnType<typeof startOracle>> | undefined;
      let stopRequested = false;
      const stop = (handle: NonNullable<typeof oracleHandle>) => void handle.stop().then(() => process.exit(0), () => process.exit(1));
      onTerminationSignals((signal) => {
        stopRequested = true;
        oracleHandle?.common.logger.info({ signal }, "signal received; finishing the steps in hand");
        if (oracleHandle) stop(oracleHandle);
      });
      try {
        oracleHandle = await startOracle({ settings });
      } catch (error) {
        console.error(`oracle failed to start: ${errorMessage(error)}`);
        process.exit(error instanceof ConfigError ? EXIT_CONFIG : 1);
      }
      if (stopRequested) stop(oracleHandle);
    });

  oracle
    .command("settings")
    .description("Print every setting: description, type, default, sensitivity (Markdown with --markdown; the resolved values with --resolved)")
    .option("--markdown", "the settings table as Markdown")
    .option("--resolved", "load and validate the settings (file + environment) and print them, sensitive values redacted")
    .option("-c, --config <file>", "JSON settings file (with --resolved)")
    .action((options: { markdown?: boolean; resolved?: boolean; config?: string }) => {
      if (options.resolved) {
        try {
          console.log(JSON.stringify(printableSettings(loadSettings(options.config ? { file: options.config } : {})), null, 2));
        } catch (error) {
          console.error(errorMessage(error), JSON.stringify((error as ConfigError).details ?? {}, null, 2));
          process.exit(EXIT_CONFIG);
        }
        return;
      }
      console.log(settingsMarkdownTable());
    });

  oracle
    .command("keystore")
    .description(`Write an encrypted JSON keystore (scrypt) for the oracle account. The key comes from --key-file or a new random key; the password from ${ENV_PREFIX}KEYSTORE_PASSWORD.`)
    .requiredOption("-o, --out <file>", "where to write the keystore (mode 600); an existing file is kept unless --force")
    .option("--key-file <file>", "file holding the 0x-hex private key to import (delete it afterwards)")
    .option("--force", "replace an existing keystore at --out (its key is lost unless you hold a copy)", false)
    .action(async (options: { out: string; keyFile?: string; force: boolean }) => {
      const password = process.env[`${ENV_PREFIX}KEYSTORE_PASSWORD`];
      if (!password) {
        console.error(`${ENV_PREFIX}KEYSTORE_PASSWORD must be set`);
        process.exit(EXIT_CONFIG);
      }
      // On a real network the file at --out may hold a funded, authorised account: never
      // replace it by accident (`medcipher keys init` refuses the same way).
      if (!options.force && existsSync(options.out)) {
        console.error(`${options.out} already exists; nothing was written (pass --force to replace it and lose the key it holds)`);
        process.exit(EXIT_CONFIG);
      }
      const wallet = options.keyFile ? new Wallet(readFileSync(options.keyFile, "utf8").trim()) : Wallet.createRandom();
      // "wx" unless --force: a file created between the check and the write is not overwritten either.
      writeFileSync(options.out, await wallet.encrypt(password), { mode: 0o600, flag: options.force ? "w" : "wx" });
      console.log(JSON.stringify({ address: wallet.address, keystore: options.out }));
    });

  return oracle;
}

/** Runs the oracle commands with `argv` (without node and script), e.g. ["start", "-c", "oracle.json"]. */
export async function runOracle(argv: readonly string[]): Promise<void> {
  const program = new Command("medcipher");
  registerOracleCommands(program);
  await program.parseAsync(["node", "medcipher", "oracle", ...argv]);
}
