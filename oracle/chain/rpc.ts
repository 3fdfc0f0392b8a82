import { OracleError, RetryableError } from "../errors.js";

/**
 * A small JSON-RPC client over fetch. Written here rather than taken from ethers so the daemon
 * decides itself about timeouts, batching and which failures are retryable: every transport
 * failure (refused, reset, timeout, 5xx, garbage) is a RetryableError; a JSON-RPC error object
 * is an RpcResponseError carrying the node's code, message and revert data.
 */
export type RpcCall = { method: string; params: readonly unknown[] };

export class RpcTransportError extends RetryableError {
  override name = "RpcTransportError";
}

/**
 * The node answered with a JSON-RPC error. A revert (the call itself fails) is permanent; any
 * other error (a lagging or overloaded node: "header not found", "busy", internal errors) is
 * treated as transient.
 */
export class RpcResponseError extends OracleError {
  override name = "RpcResponseError";
  readonly rpcCode: number;
  readonly data: unknown;
  readonly isRevert: boolean;
  readonly retryable: boolean;
  constructor(method: string, error: { code: number; message: string; data?: unknown }) {
    super(`${method}: ${error.message}`, { code: "ORACLE_RPC_ERROR", details: { method, rpcCode: error.code } });
    this.rpcCode = error.code;
    this.data = error.data;
    this.isRevert = error.code === 3 || /revert|invalid opcode|out of gas/i.test(error.message);
    this.retryable = !this.isRevert && !/nonce|replacement|underpriced|already known|insufficient funds|invalid/i.test(error.message);
  }
}

export type RpcClient = {
  readonly url: string;
  request<T = unknown>(method: string, params?: readonly unknown[]): Promise<T>;
  /** One HTTP round trip for many calls; each settles on its own. */
  batch(calls: readonly RpcCall[]): Promise<PromiseSettledResult<unknown>[]>;
};

export type CreateRpcClientOptions = {
  url: string;
  timeoutMs: number;
  signal?: AbortSignal;
  onError?: (method: string, error: unknown) => void;
  /** Called with each round trip's duration (for the oracle_rpc_seconds histogram). */
  onTiming?: (method: string, seconds: number) => void;
};

type JsonRpcResponse = { id: number; result?: unknown; error?: { code: number; message: string; data?: unknown } };

export function createRpcClient({ url, timeoutMs, signal, onError, onTiming }: CreateRpcClientOptions): RpcClient {
  let nextId = 1;

  async function post(body: unknown, label: string): Promise<unknown> {
    const started = performance.now();
    try {
      return await postOnce(body, label);
    } finally {
      onTiming?.(label.startsWith("batch") ? "batch" : label, (performance.now() - started) / 1000);
    }
  }

  async function postOnce(body: unknown, label: string): Promise<unknown> {
    const signals = [AbortSignal.timeout(timeoutMs)];
    if (signal) signals.push(signal);
    let response: Response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.any(signals),
      });
    } catch (cause) {
      throw new RpcTransportError(`${label}: RPC unreachable`, { code: "ORACLE_RPC_UNREACHABLE", cause, details: { url } });
    }
    let text: string;
    try {
      text = await response.text();
    } catch (cause) {
      throw new RpcTransportError(`${label}: RPC response interrupted`, { code: "ORACLE_RPC_UNREACHABLE", cause });
    }
    if (!response.ok && response.status >= 500) {
      throw new RpcTransportError(`${label}: RPC answered HTTP ${response.status}`, { code: "ORACLE_RPC_HTTP", details: { status: response.status } });
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (cause) {
      throw new RpcTransportError(`${label}: RPC answered non-JSON`, { code: "ORACLE_RPC_GARBAGE", cause, details: { status: response.status } });
    }
  }

  return {
    url,
    async request<T>(method: string, params: readonly unknown[] = []): Promise<T> {
      const id = nextId++;
      try {
        const reply = (await post({ jsonrpc: "2.0", id, method, params }, method)) as JsonRpcResponse;
        if (reply.error) throw new RpcResponseError(method, reply.error);
        return reply.result as T;
      } catch (error) {
        onError?.(method, error);
        throw error;
      }
    },
    async batch(calls: readonly RpcCall[]): Promise<PromiseSettledResult<unknown>[]> {
      if (calls.length === 0) return [];
      const firstId = nextId;
      nextId += calls.length;
      const body = calls.map((call, i) => ({ jsonrpc: "2.0", id: firstId + i, method: call.method, params: call.params }));
      let replies: JsonRpcResponse[];
      try {
        const reply = await post(body, `batch(${calls.length})`);
        if (!Array.isArray(reply)) throw new RpcTransportError("batch: RPC did not answer with an array", { code: "ORACLE_RPC_GARBAGE" });
        replies = reply as JsonRpcResponse[];
      } catch (error) {
        onError?.("batch", error);
        return calls.map(() => ({ status: "rejected", reason: error }));
      }
      const byId = new Map(replies.map((r) => [r.id, r]));
      return calls.map((call, i): PromiseSettledResult<unknown> => {
        const reply = byId.get(firstId + i);
        if (reply === undefined) {
          return { status: "rejected", reason: new RpcTransportError(`${call.method}: missing from batch reply`, { code: "ORACLE_RPC_GARBAGE" }) };
        }
        if (reply.error) {
          const error = new RpcResponseError(call.method, reply.error);
          onError?.(call.method, error);
          return { status: "rejected", reason: error };
        }
        return { status: "fulfilled", value: reply.result };
      });
    },
  };
}

export type RpcBlock = { number: string; hash: string; parentHash: string; timestamp: string; baseFeePerGas?: string };
export type RpcLog = {
  address: string; topics: string[]; data: string; blockNumber: string; blockHash: string;
  logIndex: string; transactionHash: string; removed?: boolean;
};
export type RpcReceipt = { status: string; blockNumber: string; blockHash: string; transactionHash: string; logs: RpcLog[]; from: string };

export const toQuantity = (n: number | bigint): string => `0x${n.toString(16)}`;
