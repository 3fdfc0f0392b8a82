import { execFile, spawn, type ChildProcess } from "node:child_process";
import { readdir, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";

import { ROOT } from "../cli/harness.js";

/** A `hardhat node` as its own process on a loopback port, as a deployer runs it. */
export type HardhatNode = { url: string; port: number; process: ChildProcess; rpc<T = unknown>(method: string, params?: unknown[]): Promise<T>; stop(): Promise<void> };

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts `hardhat node --port <port>` (a free one by default) and resolves once it answers JSON-RPC. */
export async function startHardhatNode(port?: number): Promise<HardhatNode> {
  const chosen = port ?? (await freePort());
  const url = `http://127.0.0.1:${chosen}`;
  const child = spawn(process.execPath, [join(ROOT, "node_modules/hardhat/dist/src/cli.js"), "node", "--port", String(chosen)], { cwd: ROOT, stdio: "ignore" });
  let id = 0;
  const rpc = async <T>(method: string, params: unknown[] = []): Promise<T> => {
    const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params }) });
    const body = (await response.json()) as { result?: T; error?: { message: string } };
    if (body.error) throw new Error(`${method}: ${body.error.message}`);
    return body.result as T;
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`hardhat node exited with ${child.exitCode} before it answered`);
    try {
      await rpc("eth_chainId");
      break;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`hardhat node did not answer at ${url} within 60 s: ${String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  return {
    url,
    port: chosen,
    process: child,
    rpc,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

export type Run = { code: number; stdout: string; stderr: string };

/** `npm run deploy -- <args>`, as the docs say (the script is `exec node --import tsx scripts/deploy.ts`). */
export function npmDeploy(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile("npm", ["run", "-s", "deploy", "--", "--no-compile", "--quiet-ignition", ...args], { cwd: ROOT, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Removes the Ignition journals a test's deployments left under deploy/deployments/ (by deployment id, set-aside copies too). */
export async function removeJournals(deploymentIds: Iterable<string>): Promise<void> {
  const root = join(ROOT, "deploy", "deployments");
  const entries = await readdir(root).catch(() => [] as string[]);
  for (const id of deploymentIds) {
    for (const entry of entries.filter((name) => name === id || name.startsWith(`${id}.replaced-`))) await rm(join(root, entry), { recursive: true, force: true });
  }
}
