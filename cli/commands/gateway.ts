import { resolve } from "node:path";

import type { Command } from "commander";
import { pino } from "pino";

import {
  GATEWAY_ENV_PREFIX,
  gatewaySettingsMarkdownTable,
  GatewayConfigError,
  gatewayBackends,
  gatewayCorsOrigins,
  loadGatewaySettings,
  printableGatewaySettings,
  type GatewaySettingName,
  type GatewaySettings,
} from "../../gateway/config/settings.js";
import { startGatewayService } from "../../gateway/service.js";
import { connectRpc, globalOptions, loadAddresses, loadIdentity } from "../context.js";

/** sysexits EX_CONFIG, as the oracle: systemd's RestartPreventExitStatus=78 does not restart it. */
export const EXIT_CONFIG = 78;

/** `gateway serve` flags and the settings they override (flags win over file and environment). */
const FLAG_SETTINGS: ReadonlyArray<[flag: string, setting: GatewaySettingName]> = [
  ["dataDir", "DATA_DIR"], ["port", "PORT"], ["host", "HOST"], ["anchorInterval", "ANCHOR_INTERVAL_SECONDS"], ["blockTtlMs", "BLOCK_TTL_MS"],
  ["rate", "RATE_PER_SECOND"], ["burst", "BURST"], ["timeoutMs", "REQUEST_TIMEOUT_MS"],
];

type ServeOptions = { config?: string } & Partial<Record<string, string>>;

/** The settings from --config, GATEWAY_* and the flags; a configuration error ends the process with 78, every problem listed. */
function settingsOrExit(options: ServeOptions): GatewaySettings {
  const overrides: Partial<Record<GatewaySettingName, string>> = {};
  for (const [flag, setting] of FLAG_SETTINGS) if (options[flag] !== undefined) overrides[setting] = options[flag];
  try {
    return loadGatewaySettings({ ...(options.config ? { file: options.config } : {}), overrides });
  } catch (error) {
    if (!(error instanceof GatewayConfigError)) throw error;
    const problems = error.details.problems as string[];
    console.error(`${error.shortMessage}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    process.exit(EXIT_CONFIG);
  }
}

export function registerGatewayCommands(program: Command): void {
  const gateway = program.command("gateway").description("The encrypted storage gateway");

  gateway
    .command("serve")
    .description(`Serve the gateway over HTTP until SIGINT/SIGTERM. The identity's key signs responses and anchors the audit head; it must hold GATEWAY_ROLE (/readyz answers 503 until it does). Settings: --config (JSON), ${GATEWAY_ENV_PREFIX}* variables, then these flags (see \`gateway settings\`). Logs are JSON lines on stdout`)
    .option("-c, --config <file>", "JSON settings file, keys as in `gateway settings`")
    .option("--data-dir <dir>", "where blobs, metadata and the audit log are kept (DATA_DIR, default ./gateway-data)")
    .option("--port <port>", "TCP port (PORT, default 8787)")
    .option("--host <host>", "interface to listen on (HOST, default 127.0.0.1)")
    .option("--anchor-interval <seconds>", "anchor the audit-log head on-chain this often, 0: never (ANCHOR_INTERVAL_SECONDS, default 60)")
    .option("--block-ttl-ms <ms>", "reuse a fetched block number this long: chain views are cached per block, so authorisation is at most one block plus this stale (BLOCK_TTL_MS, default 250)")
    .option("--rate <per-second>", "sustained requests per second per signer (RATE_PER_SECOND, default 100)")
    .option("--burst <n>", "requests a signer may burst before --rate applies (BURST, default 200)")
    .option("--timeout-ms <ms>", "per-request time limit (REQUEST_TIMEOUT_MS, default 30000)")
    .action(async (options: ServeOptions, command: Command) => {
      const settings = settingsOrExit(options);
      const logger = pino({ name: "gateway", level: settings.LOG_LEVEL });
      const global = globalOptions(command);
      const identity = await loadIdentity(global);
      const provider = await connectRpc(global.rpc);
      const chainId = Number((await provider.getNetwork()).chainId);
      const addresses = await loadAddresses(global, chainId, provider); // refuses a chain without the contracts
      logger.info({ address: identity.address, rpc: global.rpc, chainId, settings: printableGatewaySettings(settings) }, "gateway starting");
      const anchorSeconds = settings.ANCHOR_INTERVAL_SECONDS;
      const service = await startGatewayService({
        dataDir: resolve(settings.DATA_DIR),
        backends: gatewayBackends(settings),
        provider,
        addresses,
        signingKey: identity.wallet.signingKey,
        anchorSigner: anchorSeconds > 0 ? identity.wallet.connect(provider) : undefined,
        anchorIntervalMs: anchorSeconds * 1000,
        blockNumberTtlMs: settings.BLOCK_TTL_MS,
        fromBlock: settings.START_BLOCK,
        port: settings.PORT,
        host: settings.HOST,
        limits: {
          ratePerSecond: settings.RATE_PER_SECOND, burst: settings.BURST, requestTimeoutMs: settings.REQUEST_TIMEOUT_MS,
          timestampWindowSeconds: settings.TIMESTAMP_WINDOW_SECONDS, maxInFlightUploadBytes: settings.MAX_IN_FLIGHT_UPLOAD_BYTES,
          recordSignatureMaxAgeSeconds: settings.RECORD_SIGNATURE_MAX_AGE_SECONDS,
        },
        readiness: { chainTimeoutMs: settings.READY_CHAIN_TIMEOUT_MS, maxBlockAgeSeconds: settings.READY_MAX_BLOCK_AGE_SECONDS },
        corsOrigins: gatewayCorsOrigins(settings),
        firewall: settings.FIREWALL as "required" | "offered" | "off",
        firewallMaxCachedKeys: settings.FIREWALL_KEY_CACHE,
        logger,
      });
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, "signal received; gateway stopping");
        service.close().then(
          () => {
            logger.info({ signal, exitCode: 0 }, "gateway stopped cleanly");
            process.exit(0);
          },
          (error: unknown) => {
            logger.error({ signal, err: error, exitCode: 1 }, "gateway stop failed");
            process.exit(1);
          },
        );
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });

  gateway
    .command("settings")
    .description("Print every setting of `gateway serve` (Markdown table); with --resolved, load and validate file + environment and print the values")
    .option("--resolved", "load and validate the settings (file + environment) and print them as JSON, sensitive values redacted")
    .option("-c, --config <file>", "JSON settings file (with --resolved)")
    .action((options: { resolved?: boolean; config?: string }) => {
      if (options.resolved) {
        console.log(JSON.stringify(printableGatewaySettings(settingsOrExit({ config: options.config })), null, 2));
        return;
      }
      console.log(gatewaySettingsMarkdownTable());
    });
}
