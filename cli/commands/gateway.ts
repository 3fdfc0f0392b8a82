import { resolve } from "node:path";

import type { Command } from "commander";
import { pino } from "pino";

import { startGatewayService } from "../../gateway/service.js";
import { connectRpc, globalOptions, loadAddresses, loadIdentity } from "../context.js";

export function registerGatewayCommands(program: Command): void {
  const gateway = program.command("gateway").description("The encrypted storage gateway");

  gateway
    .command("serve")
    .description("Serve the gateway over HTTP until SIGINT/SIGTERM. The identity's key signs responses and anchors the audit head; it must hold GATEWAY_ROLE. Logs are JSON lines on stdout")
    .option("--data-dir <dir>", "where blobs, metadata and the audit log are kept", "./gateway-data")
    .option("--port <port>", "TCP port", "8787")
    .option("--host <host>", "interface to listen on", "127.0.0.1")
    .option("--anchor-interval <seconds>", "anchor the audit-log head on-chain this often (0: never)", "60")
    .option("--block-ttl-ms <ms>", "reuse a fetched block number this long: chain views are cached per block, so authorisation is at most one block plus this stale", "250")
    .option("--rate <per-second>", "sustained requests per second per signer", "100")
    .option("--burst <n>", "requests a signer may burst before --rate applies", "200")
    .option("--timeout-ms <ms>", "per-request time limit", "30000")
    .action(async (options: { dataDir: string; port: string; host: string; anchorInterval: string; blockTtlMs: string; rate: string; burst: string; timeoutMs: string }, command: Command) => {
      const global = globalOptions(command);
      const identity = await loadIdentity(global);
      const provider = await connectRpc(global.rpc);
      const chainId = Number((await provider.getNetwork()).chainId);
      const addresses = await loadAddresses(global, chainId);
      const anchorSeconds = Number(options.anchorInterval);
      const service = await startGatewayService({
        dataDir: resolve(options.dataDir),
        provider,
        addresses,
        signingKey: identity.wallet.signingKey,
        anchorSigner: anchorSeconds > 0 ? identity.wallet.connect(provider) : undefined,
        anchorIntervalMs: anchorSeconds * 1000,
        blockNumberTtlMs: Number(options.blockTtlMs),
        port: Number(options.port),
        host: options.host,
        limits: { ratePerSecond: Number(options.rate), burst: Number(options.burst), requestTimeoutMs: Number(options.timeoutMs) },
        logger: pino({ name: "gateway" }),
      });
      const stop = () => void service.close().then(() => process.exit(0), () => process.exit(1));
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
}
