import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import type { BaseWallet } from "ethers";

import type { GatewayBackends } from "../../../gateway/store/dataDir.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export type GatewayChild = { url: string; address: string; process: ChildProcess };

/** The gateway in its own process (test/gateway/process/gatewayProcess.ts), over `dir`, keyed by `key`; `backends`: S3/Postgres. */
export async function spawnGateway(dir: string, key: BaseWallet, limits?: Record<string, unknown>, backends?: GatewayBackends, env: Record<string, string> = {}): Promise<GatewayChild> {
  const child = spawn(process.execPath, ["--import", "tsx", "test/gateway/process/gatewayProcess.ts", dir], {
    cwd: ROOT,
    env: { ...process.env, ...env, GATEWAY_KEY: key.privateKey, GATEWAY_LIMITS: limits ? JSON.stringify(limits) : "", TEST_GATEWAY_BACKENDS: backends ? JSON.stringify(backends) : "" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`gateway process exited with ${code}`)));
  });
  return { ...(JSON.parse(line) as { url: string; address: string }), process: child };
}

export function kill(child: GatewayChild, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  return new Promise((resolve) => {
    if (child.process.exitCode !== null || child.process.signalCode !== null) return resolve();
    child.process.once("exit", () => resolve());
    child.process.kill(signal);
  });
}

