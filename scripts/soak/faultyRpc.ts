/**
 * A faulting JSON-RPC endpoint in front of anvil for the daemon (the gateway and the patients use
 * anvil directly): test/oracle/helpers/rpcProxy.ts, the real HTTP proxy the oracle's fault tests
 * use, given an upstream that misbehaves per call, and switched into its transport fault modes
 * for short windows. Per call, drawn from the seeded source:
 *   - delayed: answered after 0.2–1.5 s;
 *   - error: a JSON-RPC error (-32000 header not found, -32005 rate limited, -32603 internal);
 *   - lostAnswer: eth_sendRawTransaction forwarded, then answered with an error (the transaction
 *     went out, its answer did not come back);
 *   - nullReceipt: a lagging replica answers `null` for a receipt mined in the last 3 blocks;
 *   - staleBlockNumber: eth_blockNumber 1–3 blocks behind;
 *   - staleNonce: eth_getTransactionCount(latest) as of 2 blocks ago.
 * Windows (0.2–1.2 s, every 1–3 s): "reset" (connections dropped without a reply), "http500",
 * "timeout" (held unanswered, then dropped), "refuse" (nothing listens), or "lag" (2–5 s behind
 * a replica 2–4 blocks back, consistently: block number, receipts of newer blocks `null`,
 * nonces as of that block).
 */
import { startRpcProxy, type FaultMode, type RpcProxy } from "../../test/oracle/helpers/rpcProxy.js";
import type { AnvilHandle } from "../../deploy/anvil.js";
import type { Random } from "./random.js";
import { sleep } from "./world.js";

export type RpcFaultCounts = {
  delayed: number;
  error: number;
  lostAnswer: number;
  nullReceipt: number;
  staleBlockNumber: number;
  staleNonce: number;
  /** Calls answered by the lagging replica during "lag" windows. */
  lagged: number;
  windows: Record<Exclude<FaultMode, "ok"> | "lag", number>;
};

export type FaultyRpc = {
  url: string;
  counts: RpcFaultCounts;
  /** Faulted calls in all (window faults counted per window). */
  faultedCalls(): number;
  /** Starts the fault windows; per-call faults are on from the start. */
  startWindows(): Promise<void>;
  /** Stops every fault (the chain "settles"); resolves once the proxy answers normally. */
  heal(): Promise<void>;
  close(): Promise<void>;
};

const ERRORS = [
  { code: -32000, message: "header not found" },
  { code: -32005, message: "rate limited" },
  { code: -32603, message: "upstream internal error" },
];

export async function startFaultyRpc(anvil: AnvilHandle, random: Random, rates = { delay: 0.08, error: 0.05, lostAnswer: 0.1, nullReceipt: 0.35, staleBlock: 0.2, staleNonce: 0.2 }): Promise<FaultyRpc> {
  const counts: RpcFaultCounts = { delayed: 0, error: 0, lostAnswer: 0, nullReceipt: 0, staleBlockNumber: 0, staleNonce: 0, lagged: 0, windows: { refuse: 0, timeout: 0, reset: 0, http500: 0, lag: 0 } };
  let faulting = true;
  /** Blocks the lagging replica is behind (0: no lag window open). */
  let lagBlocks = 0;
  const head = async () => Number(await anvil.rpc<string>("eth_blockNumber"));

  const upstream = {
    async request({ method, params = [] }: { method: string; params?: unknown[] }): Promise<unknown> {
      if (!faulting) return anvil.rpc(method, params);
      if (lagBlocks > 0 && ["eth_blockNumber", "eth_getTransactionReceipt", "eth_getTransactionCount"].includes(method)) {
        const behind = Math.max(0, (await head()) - lagBlocks);
        if (method === "eth_blockNumber") {
          counts.lagged++;
          return "0x" + behind.toString(16);
        }
        if (method === "eth_getTransactionReceipt") {
          const receipt = await anvil.rpc<{ blockNumber: string } | null>(method, params);
          if (receipt && Number(receipt.blockNumber) > behind) {
            counts.lagged++;
            return null;
          }
          return receipt;
        }
        if (params[1] === "latest") {
          counts.lagged++;
          return anvil.rpc(method, [params[0], "0x" + behind.toString(16)]);
        }
      }
      if (random.chance(rates.delay)) {
        counts.delayed++;
        await sleep(random.int(200, 1_500));
      }
      if (random.chance(rates.error)) {
        counts.error++;
        const { code, message } = random.pick(ERRORS);
        throw Object.assign(new Error(message), { code });
      }
      if (method === "eth_sendRawTransaction" && random.chance(rates.lostAnswer)) {
        await anvil.rpc(method, params).catch(() => undefined);
        counts.lostAnswer++;
        throw Object.assign(new Error("upstream timeout"), { code: -32603 });
      }
      if (method === "eth_getTransactionReceipt" && random.chance(rates.nullReceipt)) {
        const receipt = await anvil.rpc<{ blockNumber: string } | null>(method, params);
        if (receipt && Number(receipt.blockNumber) >= (await head()) - 2) {
          counts.nullReceipt++;
          return null;
        }
        return receipt;
      }
      if (method === "eth_blockNumber" && random.chance(rates.staleBlock)) {
        counts.staleBlockNumber++;
        return "0x" + Math.max(0, (await head()) - random.int(1, 3)).toString(16);
      }
      if (method === "eth_getTransactionCount" && params[1] === "latest" && random.chance(rates.staleNonce)) {
        counts.staleNonce++;
        return anvil.rpc(method, [params[0], "0x" + Math.max(0, (await head()) - 2).toString(16)]);
      }
      return anvil.rpc(method, params);
    },
  };
  const proxy: RpcProxy = await startRpcProxy(upstream);

  let windows: Promise<void> | undefined;
  return {
    url: proxy.url,
    counts,
    faultedCalls: () => counts.delayed + counts.error + counts.lostAnswer + counts.nullReceipt + counts.staleBlockNumber + counts.staleNonce + counts.lagged + Object.entries(counts.windows).filter(([kind]) => kind !== "lag").map(([, n]) => n).reduce((a, b) => a + b, 0),
    async startWindows() {
      windows = (async () => {
        while (faulting) {
          await sleep(random.int(1_000, 3_000));
          if (!faulting) break;
          const mode = random.pick(["reset", "http500", "timeout", "refuse", "lag"] as const);
          counts.windows[mode]++;
          if (mode === "lag") {
            lagBlocks = random.int(2, 4);
            await sleep(random.int(2_000, 5_000));
            lagBlocks = 0;
            continue;
          }
          await proxy.setMode(mode);
          await sleep(random.int(200, 1_200));
          await proxy.setMode("ok");
        }
      })();
    },
    async heal() {
      faulting = false;
      lagBlocks = 0;
      await windows;
      await proxy.setMode("ok");
    },
    close: () => proxy.close(),
  };
}
