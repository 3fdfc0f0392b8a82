import type { Command } from "commander";

import { RelayerConfigError } from "../../relayer/errors.js";
import { startRelayerService } from "../../relayer/service.js";
import { loadRelayerSettings, printableRelayerSettings, relayerSettingsMarkdownTable, RELAYER_ENV_PREFIX, type RelayerSettings } from "../../relayer/settings.js";

/** sysexits EX_CONFIG, as the oracle and the gateway. */
const EXIT_CONFIG = 78;

function settingsOrExit(): RelayerSettings {
  try {
    return loadRelayerSettings();
  } catch (error) {
    if (!(error instanceof RelayerConfigError)) throw error;
    console.error(`${error.shortMessage}:\n${(error.details.problems as string[]).map((p) => `  - ${p}`).join("\n")}`);
    process.exit(EXIT_CONFIG);
  }
}

export function registerRelayerCommands(program: Command): void {
  const relayer = program.command("relayer").description("The relayer: sends anonymous prediction requests and private consents from its own wallet");
  relayer.configureHelp({ showGlobalOptions: false });

  relayer
    .command("start")
    .description(`Serve the relayer over HTTP until SIGINT/SIGTERM. Settings come from ${RELAYER_ENV_PREFIX}* environment variables (see \`relayer settings\`). Logs are JSON lines on stdout`)
    .action(async () => {
      // The relayer reads only RELAYER_*: a global --rpc / --deployment would be silently ignored.
      const ignored = (["rpc", "deployment", "identity", "keystore"] as const).filter((flag) => program.getOptionValueSource(flag) === "cli");
      if (ignored.length > 0) {
        console.error(`relayer start takes no ${ignored.map((flag) => `--${flag}`).join(", ")}: set RELAYER_RPC_URL, RELAYER_DEPLOYMENT_FILE, RELAYER_PRIVATE_KEY or RELAYER_KEYSTORE_FILE instead (see \`relayer settings\`)`);
        process.exit(EXIT_CONFIG);
      }
      const settings = settingsOrExit();
      let service: Awaited<ReturnType<typeof startRelayerService>>;
      try {
        service = await startRelayerService(settings);
      } catch (error) {
        if (error instanceof RelayerConfigError) {
          console.error(`${error.shortMessage}:\n${(error.details.problems as string[]).map((p) => `  - ${p}`).join("\n")}`);
          process.exit(EXIT_CONFIG);
        }
        throw error;
      }
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        service.close().then(() => process.exit(0), () => process.exit(1));
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });

  relayer
    .command("settings")
    .description("Print every setting of `relayer start` (Markdown table); with --resolved, validate the environment and print the values")
    .option("--resolved", "load and validate the RELAYER_* environment and print it as JSON, sensitive values redacted")
    .action((options: { resolved?: boolean }) => {
      console.log(options.resolved ? JSON.stringify(printableRelayerSettings(settingsOrExit()), null, 2) : relayerSettingsMarkdownTable());
    });
}
