import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/**
 * Foundry's anvil as a separate chain process on loopback: a chain that really replaces blocks
 * (`anvil_reorg`: same heights, new hashes, the transactions you list re-included), which EDR's
 * `evm_revert` cannot do. The binary ships inside `@foundry-rs/anvil-linux-amd64` (npm), so
 * nothing is downloaded. Used by the reorg tests and `npm run soak:reorg`.
 */
export type AnvilOptions = {
  /** Seconds between blocks; omitted = a block per transaction (automine). */
  blockTimeSeconds?: number;
  chainId?: number;
  /** Dev accounts funded with 10,000 ETH each (anvil's default mnemonic). */
  accounts?: number;
  /** Keep EIP-170's contract size limit (off by default: coverage-instrumented contracts exceed it). */
  enforceCodeSizeLimit?: boolean;
  /** Extra anvil arguments (e.g. ["--no-mining"]). */
  args?: string[];
};

export type AnvilHandle = {
  url: string;
  port: number;
  process: ChildProcess;
  /** One JSON-RPC call; a JSON-RPC error is thrown as an Error carrying `code` and `data`. */
  rpc<T = unknown>(method: string, params?: unknown[]): Promise<T>;
  /**
   * Replaces the last `depth` blocks with new ones at the same heights and re-includes the raw
   * transactions listed, each at its block offset (0 = the first replaced height). Transactions
   * not listed are dropped, not returned to the pool: re-send them to play a mempool.
   */
  reorg(depth: number, reincluded?: Array<[rawTransaction: string, blockOffset: number]>): Promise<void>;
  stop(): Promise<void>;
};

/** Anvil's default mnemonic: the same accounts and keys as Hardhat's default. */
export const ANVIL_MNEMONIC = "test test test test test test test test test test test junk";

const require = createRequire(import.meta.url);

/** The anvil binary from the npm platform package (Linux x64 here; others per the package). */
export function anvilBinary(): string {
  const platformPackage = `@foundry-rs/anvil-${process.platform}-${process.arch === "x64" ? "amd64" : process.arch}`;
  return join(dirname(require.resolve(`${platformPackage}/package.json`)), "bin", process.platform === "win32" ? "anvil.exe" : "anvil");
}

/** Starts anvil on a free loopback port and resolves once it answers JSON-RPC. */
export async function startAnvil(options: AnvilOptions = {}): Promise<AnvilHandle> {
  const args = ["--host", "127.0.0.1", "--port", "0", "--accounts", String(options.accounts ?? 20), "--mnemonic", ANVIL_MNEMONIC];
  // `hardhat test --coverage` deploys instrumented contracts, which outgrow EIP-170's 24 KiB
  // (measured: "EVM error CreateContractSizeLimit" for the router). The size of the real
  // bytecode is the compiler's and EDR's business; anvil is here for its reorgs.
  if (options.enforceCodeSizeLimit !== true) args.push("--disable-code-size-limit");
  if (options.chainId !== undefined) args.push("--chain-id", String(options.chainId));
  if (options.blockTimeSeconds !== undefined) args.push("--block-time", String(options.blockTimeSeconds));
  args.push(...(options.args ?? []));
  const child = spawn(anvilBinary(), args, { stdio: ["ignore", "pipe", "pipe"] });

  // anvil prints "Listening on 127.0.0.1:<port>" once its server is bound.
  const port = await new Promise<number>((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`anvil did not start within 20 s; it printed: ${seen.slice(-500)}`)), 20_000);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /Listening on [\d.]+:(\d+)/.exec(seen);
      if (match) {
        clearTimeout(timer);
        child.stdout.off("data", onData);
        child.stdout.resume(); // keep draining so a chatty anvil never blocks on a full pipe
        resolve(Number(match[1]));
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (chunk: Buffer) => (seen += chunk.toString()));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`anvil exited with code ${code} before it listened: ${seen.slice(-500)}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;

  let id = 0;
  const rpc = async <T>(method: string, params: unknown[] = []): Promise<T> => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params }),
    });
    const body = (await response.json()) as { result?: T; error?: { code: number; message: string; data?: unknown } };
    if (body.error) throw Object.assign(new Error(`${method}: ${body.error.message}`), { code: body.error.code, data: body.error.data });
    return body.result as T;
  };

  return {
    url,
    port,
    process: child,
    rpc,
    reorg: async (depth, reincluded = []) => {
      await rpc("anvil_reorg", [depth, reincluded]);
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
