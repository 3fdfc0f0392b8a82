/**
 * The moving parts the end-to-end benchmarks start and watch: a `hardhat node` process with its
 * own chain id, the oracle daemon as its own process, and a watcher that sees, block by block,
 * when each prediction request was mined and when it settled. JSON-RPC is spoken directly
 * (batched where the load generator sends many transactions) so the load generator costs little.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readdirSync, rmdirSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { operatorInterface, routerInterface } from "../../oracle/chain/abi.js";
import type { Settings } from "../../oracle/config/settings.js";
import { spawnOracle } from "../../test/oracle/helpers/child.js";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

export type RpcReply = { result?: unknown; error?: { message: string } };

/**
 * POSTs a JSON-RPC body. A keep-alive socket the node closed while the load generator was busy
 * (Node's server drops idle sockets after 5 s) fails before the request is sent: retried, twice.
 */
async function post(url: string, body: unknown): Promise<unknown> {
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      return await response.json();
    } catch (error) {
      if (attempt >= 2 || !(error instanceof TypeError)) throw error;
    }
  }
}

export async function rpc(url: string, method: string, params: unknown[] = []): Promise<unknown> {
  const reply = (await post(url, { jsonrpc: "2.0", id: 1, method, params })) as RpcReply;
  if (reply.error) throw new Error(`${method}: ${reply.error.message}`);
  return reply.result;
}

/** One JSON-RPC batch; replies in call order. */
export async function rpcBatch(url: string, calls: { method: string; params: unknown[] }[]): Promise<RpcReply[]> {
  if (calls.length === 0) return [];
  const replies = (await post(url, calls.map((c, i) => ({ jsonrpc: "2.0", id: i, ...c })))) as (RpcReply & { id: number })[];
  return replies.sort((a, b) => a.id - b.id);
}

/** Sends signed transactions in batches of `chunk`; throws on the first the node rejects. Returns their hashes. */
export async function sendRawBatches(url: string, raws: string[], chunk = 200): Promise<string[]> {
  const hashes: string[] = [];
  for (let i = 0; i < raws.length; i += chunk) {
    const replies = await rpcBatch(url, raws.slice(i, i + chunk).map((raw) => ({ method: "eth_sendRawTransaction", params: [raw] })));
    for (const reply of replies) {
      if (reply.error) throw new Error(`transaction rejected: ${reply.error.message}`);
      hashes.push(reply.result as string);
    }
  }
  return hashes;
}

export async function waitUntil(check: () => Promise<boolean> | boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await Promise.resolve().then(check).catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Nearest-rank percentile; NaN for no values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Bytes of every file under `dir`, except those `skip` names (e.g. a request log). */
export function directoryBytes(dir: string, skip: (name: string) => boolean = () => false): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skip(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += directoryBytes(path, skip);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}

const children: ChildProcess[] = [];
process.on("exit", () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
});

/**
 * Removes Ignition's journal for `chainId` (deploy/deployments/chain-<id>). Ignition journals
 * deployments per chain id; a journal left by an earlier throw-away chain with the same id makes
 * the next deployment resume against contracts that no longer exist.
 */
export function removeIgnitionJournal(chainId: number): void {
  rmSync(join(ROOT, "deploy", "deployments", `chain-${chainId}`), { recursive: true, force: true });
  try {
    rmdirSync(join(ROOT, "deploy", "deployments"));
  } catch {
    // not empty: other chains' journals live there
  }
}

export type ChainProcess = { url: string; pid: number; stop(): void };

/** A `hardhat node` on a free port with a chain id of its own; `nodeArgs` are Node flags for its process. */
export async function startHardhatNode(chainId: number, nodeArgs: string[] = []): Promise<ChainProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  removeIgnitionJournal(chainId);
  process.on("exit", () => removeIgnitionJournal(chainId));
  const node = spawn(process.execPath, [...nodeArgs, join(ROOT, "node_modules/hardhat/dist/src/cli.js"), "node", "--port", String(port), "--chain-id", String(chainId)], { cwd: ROOT, stdio: "ignore" });
  children.push(node);
  await waitUntil(async () => Boolean(await rpc(url, "eth_chainId")), "hardhat node", 60_000);
  return { url, pid: node.pid!, stop: () => void node.kill("SIGTERM") };
}

export type OracleProcess = { pid: number; opsUrl: string; text(): string; stop(): Promise<void> };

/**
 * The daemon as operators run it (test/oracle/helpers/child.ts `spawnOracle`), with its data and
 * ops port of its own; resolves once it logged "oracle started" (which it logs at level info).
 * `nodeArgs` are Node flags for its process (profiling, GC tracing).
 */
export async function startOracleProcess(settings: Partial<Settings>, dataDir: string, nodeArgs: string[] = []): Promise<OracleProcess> {
  mkdirSync(dataDir, { recursive: true });
  const opsPort = await freePort();
  const oracle = spawnOracle({ HTTP_PORT: opsPort, DATA_DIR: dataDir, ...settings }, nodeArgs.length > 0 ? { NODE_OPTIONS: nodeArgs.join(" ") } : {});
  children.push(oracle.process);
  const started = () => oracle.output.some((line) => line.includes('"oracle started"'));
  await waitUntil(() => started() || oracle.process.exitCode !== null, "oracle start", 180_000);
  if (oracle.process.exitCode !== null) throw new Error(`oracle exited: ${oracle.output.slice(-20).join("\n")}`);
  return {
    pid: oracle.process.pid!, opsUrl: `http://127.0.0.1:${opsPort}`, text: oracle.text,
    stop: async () => {
      if (oracle.process.exitCode !== null) return;
      oracle.process.kill("SIGTERM");
      await oracle.exited;
    },
  };
}

export type Settlement = { at: number; kind: string; block: number; transactionHash: string };

/**
 * Follows the router's events from `fromBlock`: when each request was mined and when it settled
 * (the first later router event naming it: PredictionFulfilled, PredictionFailed, a cancellation),
 * timed by when the watcher first saw each block. With `operator`, also counts each request's
 * OracleResponse events there (more than one would be a duplicate fulfilment).
 */
export function watchRequests(url: string, contracts: { router: string; operator?: string }, fromBlock: number) {
  const blockSeenAt = new Map<number, number>();
  const minedAt = new Map<string, { at: number; block: number; transactionHash: string }>();
  const settled = new Map<string, Settlement>();
  const responses = new Map<string, number>();
  const operator = contracts.operator?.toLowerCase();
  let last = fromBlock - 1;
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const head = Number(await rpc(url, "eth_blockNumber"));
        if (head > last) {
          const now = performance.now();
          for (let b = last + 1; b <= head; b++) blockSeenAt.set(b, now);
          const address = operator ? [contracts.router, contracts.operator!] : contracts.router;
          const logs = (await rpc(url, "eth_getLogs", [{ fromBlock: "0x" + (last + 1).toString(16), toBlock: "0x" + head.toString(16), address }])) as { address: string; topics: string[]; data: string; blockNumber: string; transactionHash: string }[];
          for (const entry of logs) {
            if (entry.address.toLowerCase() === operator) {
              const parsed = operatorInterface.parseLog(entry);
              if (parsed?.name === "OracleResponse") responses.set(parsed.args[0] as string, (responses.get(parsed.args[0] as string) ?? 0) + 1);
              continue;
            }
            const parsed = routerInterface.parseLog(entry);
            if (!parsed) continue;
            const requestId = parsed.args[0] as string;
            const block = Number(entry.blockNumber);
            const at = blockSeenAt.get(block) ?? now;
            if (parsed.name === "PredictionRequested") minedAt.set(requestId, { at, block, transactionHash: entry.transactionHash.toLowerCase() });
            else if (minedAt.has(requestId) && !settled.has(requestId)) settled.set(requestId, { at, kind: parsed.name, block, transactionHash: entry.transactionHash });
          }
          last = head;
        }
      } catch {
        // keep watching: a busy node answers late, not never
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    blockSeenAt, minedAt, settled, responses,
    /** Request ids mined in transactions `hashes` (lower-case: the load generator's own). */
    requestsOf(hashes: Set<string>): string[] {
      return [...minedAt.entries()].filter(([, m]) => hashes.has(m.transactionHash)).map(([id]) => id);
    },
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** gasUsed of each transaction, in order (one batch of receipts). */
export async function gasUsedOf(url: string, hashes: string[]): Promise<bigint[]> {
  const replies = await rpcBatch(url, hashes.map((hash) => ({ method: "eth_getTransactionReceipt", params: [hash] })));
  return replies.map((r, i) => {
    const receipt = r.result as { gasUsed: string } | null;
    if (!receipt) throw new Error(`no receipt for ${hashes[i]}`);
    return BigInt(receipt.gasUsed);
  });
}
