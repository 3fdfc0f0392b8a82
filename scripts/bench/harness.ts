/**
 * The moving parts the end-to-end benchmarks start and watch: a `hardhat node` process with its
 * own chain id, the oracle daemon as its own process, and a watcher that sees, block by block,
 * when each prediction request was mined and when it settled. JSON-RPC is spoken directly
 * (batched where the load generator sends many transactions) so the load generator costs little.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, readdirSync, rmdirSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { routerInterface } from "../../oracle/chain/abi.js";

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

export type ChainProcess = { url: string; pid: number; stop(): void };

/**
 * A `hardhat node` on a free port with a chain id of its own (Ignition journals deployments per
 * chain id under deploy/deployments/: the journal is removed on exit so reruns start clean).
 */
export async function startHardhatNode(chainId: number): Promise<ChainProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const journal = join(ROOT, "deploy", "deployments", `chain-${chainId}`);
  const removeJournal = () => {
    rmSync(journal, { recursive: true, force: true });
    try {
      rmdirSync(join(ROOT, "deploy", "deployments"));
    } catch {
      // not empty: other chains' journals live there
    }
  };
  removeJournal();
  process.on("exit", removeJournal);
  const node = spawn(process.execPath, [join(ROOT, "node_modules/hardhat/dist/src/cli.js"), "node", "--port", String(port), "--chain-id", String(chainId)], { cwd: ROOT, stdio: "ignore" });
  children.push(node);
  await waitUntil(async () => Boolean(await rpc(url, "eth_chainId")), "hardhat node", 60_000);
  return { url, pid: node.pid!, stop: () => void node.kill("SIGTERM") };
}

export type OracleProcess = { pid: number; opsUrl: string; logFile: string; stop(): Promise<void> };

/** The daemon as operators run it (`oracle/main.ts start`), configured by ORACLE_* variables; resolves once it logged "oracle started". */
export async function startOracleProcess(env: Record<string, string>, workDir: string): Promise<OracleProcess> {
  mkdirSync(workDir, { recursive: true });
  const opsPort = await freePort();
  const logFile = join(workDir, "oracle.log");
  const oracle = spawn(process.execPath, ["--import", "tsx", "oracle/main.ts", "start"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ORACLE_HTTP_PORT: String(opsPort), ORACLE_DATA_DIR: join(workDir, "data"), ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(oracle);
  const log = createWriteStream(logFile);
  let tail = "";
  let started = false;
  oracle.stdout!.on("data", (chunk: Buffer) => {
    log.write(chunk);
    tail = (tail + chunk.toString("utf8")).slice(-20_000);
    if (/oracle started/.test(tail)) started = true;
  });
  await waitUntil(() => started || oracle.exitCode !== null, "oracle start", 180_000);
  if (oracle.exitCode !== null) throw new Error(`oracle exited: ${tail.slice(-2000)}`);
  return {
    pid: oracle.pid!, opsUrl: `http://127.0.0.1:${opsPort}`, logFile,
    stop: async () => {
      if (oracle.exitCode !== null) return;
      oracle.kill("SIGTERM");
      await new Promise((r) => oracle.once("exit", r));
    },
  };
}

export type Settlement = { at: number; kind: string; block: number; transactionHash: string };

/**
 * Follows the router's events from `fromBlock`: when each request was mined and when it settled
 * (PredictionFulfilled, PredictionFailed …), timed by when the watcher first saw each block.
 */
export function watchRequests(url: string, router: string, fromBlock: number) {
  const blockSeenAt = new Map<number, number>();
  const minedAt = new Map<string, { at: number; block: number; transactionHash: string }>();
  const settled = new Map<string, Settlement>();
  let last = fromBlock - 1;
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const head = Number(await rpc(url, "eth_blockNumber"));
        if (head > last) {
          const now = performance.now();
          for (let b = last + 1; b <= head; b++) blockSeenAt.set(b, now);
          const logs = (await rpc(url, "eth_getLogs", [{ fromBlock: "0x" + (last + 1).toString(16), toBlock: "0x" + head.toString(16), address: router }])) as { topics: string[]; data: string; blockNumber: string; transactionHash: string }[];
          for (const entry of logs) {
            const parsed = routerInterface.parseLog(entry);
            if (!parsed) continue;
            const requestId = parsed.args[0] as string;
            const block = Number(entry.blockNumber);
            const at = blockSeenAt.get(block) ?? now;
            if (parsed.name === "PredictionRequested") minedAt.set(requestId, { at, block, transactionHash: entry.transactionHash });
            else if (/^Prediction(Fulfilled|Failed)$/.test(parsed.name) && !settled.has(requestId)) settled.set(requestId, { at, kind: parsed.name, block, transactionHash: entry.transactionHash });
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
    minedAt, settled,
    /** Request ids mined in transactions `hashes` (the load generator's own). */
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
