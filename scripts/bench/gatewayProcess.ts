import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, statSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import type { Wallet } from "ethers";

import type { MedCipherAddresses } from "../../protocol/contracts.js";
import { writeKeystore } from "../../sdk/keystore.js";
import { cpuSecondsOf } from "./proc.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export type GatewayProcess = {
  url: string;
  pid: number;
  /** JSON lines the gateway logged (one per request at the default level). */
  logFile: string;
  /** The home directory (keystore, deployment file, data, log): pass it back as `home` to restart this gateway. */
  home: string;
  /** The port it listens on: pass it back as `port` so clients keep their URL across a restart. */
  port: number;
  /** CPU seconds the process has used so far (Linux /proc), or undefined. */
  cpuSeconds(): number | undefined;
  /** SIGTERM, wait for the exit, remove its files; resolves to the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL (a crash), wait for the exit; keeps its files so it can be restarted on them. */
  kill(): Promise<void>;
};

/**
 * Starts the gateway the way operators run it, `medcipher gateway serve`, as its own process: a
 * keystore for `gatewayKey` (which must hold GATEWAY_ROLE) and a deployment file in a temporary
 * home, logs to a file. Benchmarks use it so the gateway has its own event loop and heap, as in
 * production, instead of sharing the load generator's.
 */
export async function startGatewayProcess(options: {
  rpcUrl: string;
  chainId: number;
  addresses: MedCipherAddresses;
  gatewayKey: Pick<Wallet, "address" | "privateKey">;
  anchorIntervalSeconds: number;
  /** Extra Node flags (profiling, GC tracing). */
  nodeArgs?: string[];
  /** Extra `gateway serve` flags. */
  serveArgs?: string[];
  /** Restart on the home of an earlier process (`GatewayProcess.home`) instead of a fresh one. */
  home?: string;
  /** Listen port (default 0: any free port). */
  port?: number;
}): Promise<GatewayProcess> {
  const home = options.home ?? (await mkdtemp(join(tmpdir(), "medcipher-gateway-")));
  const password = "bench password";
  const keystore = join(home, "keys", "gateway.json");
  if (!existsSync(keystore)) await writeKeystore(keystore, options.gatewayKey.address, { privateKey: options.gatewayKey.privateKey }, password, { N: 1024, r: 8, p: 1 });
  const deploymentFile = join(home, "deployment.json");
  await writeFile(deploymentFile, JSON.stringify({ chainId: options.chainId, contracts: Object.fromEntries(Object.entries(options.addresses).map(([name, address]) => [name, { address }])) }));
  const logFile = join(home, "gateway.log");
  // A restart appends to the same log: look for this process's "url" line after what is there.
  const logStart = existsSync(logFile) ? statSync(logFile).size : 0;
  const logFd = openSync(logFile, "a");
  const child = spawn(process.execPath, [
    ...(options.nodeArgs ?? []), "--import", "tsx", "cli/medcipher.ts", "--home", home, "--rpc", options.rpcUrl, "--deployment", deploymentFile, "--identity", "gateway",
    "gateway", "serve", "--port", String(options.port ?? 0), "--data-dir", join(home, "data"), "--anchor-interval", String(options.anchorIntervalSeconds),
    // Benchmark clients are few signers reading a lot: lift the per-signer rate limit.
    "--block-ttl-ms", "250", "--rate", "10000", "--burst", "10000", ...(options.serveArgs ?? []),
  ], { cwd: ROOT, env: { ...process.env, MEDCIPHER_PASSWORD: password }, stdio: ["ignore", logFd, "inherit"] });
  closeSync(logFd);
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  let url: string | undefined;
  for (let i = 0; i < 600 && !url; i++) {
    url = /"url":"(http:\/\/[^"]+)"/.exec((await readFile(logFile)).subarray(logStart).toString("utf8"))?.[1];
    if (url) break;
    if (child.exitCode !== null) throw new Error(`medcipher gateway serve exited (${child.exitCode}); see ${logFile}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (!url) {
    child.kill("SIGKILL");
    throw new Error("medcipher gateway serve did not start within 60 s");
  }
  return {
    url,
    pid: child.pid!,
    logFile,
    home,
    port: Number(new URL(url).port),
    cpuSeconds: () => cpuSecondsOf(child.pid!),
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      const code = await exited;
      await rm(home, { recursive: true, force: true });
      return code;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}
