import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/**
 * A real HTTP JSON-RPC endpoint on loopback in front of a chain: either an EIP-1193 provider
 * (the in-process EDR chain of `network.create()`) or an upstream URL (a `hardhat node`). Tests
 * switch it into fault modes to see the daemon survive them:
 *   - "refuse": nothing listens on the port (ECONNREFUSED);
 *   - "timeout": requests are accepted and never answered;
 *   - "reset": the connection is dropped without a reply;
 *   - "http500": the endpoint answers HTTP 500.
 */
export type FaultMode = "ok" | "refuse" | "timeout" | "reset" | "http500";
type Eip1193 = { request(args: { method: string; params?: unknown[] }): Promise<unknown> };

export type RpcProxy = {
  url: string;
  setMode(mode: FaultMode): Promise<void>;
  /** Calls seen per method (for asserting batching and ranges). */
  calls: Map<string, number>;
  /** Optional hook rewriting results (e.g. to duplicate logs). */
  rewrite?: (method: string, params: unknown[], result: unknown) => unknown;
  /** Optional hook answering a call with a JSON-RPC error instead (e.g. a provider's range limit). */
  fail?: (method: string, params: unknown[]) => { code: number; message: string } | undefined;
  /** Optional hook holding a call back this many ms before it is forwarded (a slow replica). */
  delay?: (method: string, params: unknown[]) => number | undefined;
  close(): Promise<void>;
};

export async function startRpcProxy(target: Eip1193 | string): Promise<RpcProxy> {
  let mode: FaultMode = "ok";
  const sockets = new Set<Socket>();
  const held: ServerResponse[] = [];
  const calls = new Map<string, number>();
  const proxyRef: { current?: RpcProxy } = {};

  async function forwardOne(call: { id: unknown; method: string; params?: unknown[] }) {
    calls.set(call.method, (calls.get(call.method) ?? 0) + 1);
    const delayMs = proxyRef.current?.delay?.(call.method, call.params ?? []);
    if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
    const refusal = proxyRef.current?.fail?.(call.method, call.params ?? []);
    if (refusal) return { jsonrpc: "2.0", id: call.id, error: refusal };
    try {
      let result: unknown;
      if (typeof target === "string") {
        const response = await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: call.method, params: call.params ?? [] }) });
        const reply = (await response.json()) as { result?: unknown; error?: unknown };
        if (reply.error) return { jsonrpc: "2.0", id: call.id, error: reply.error };
        result = reply.result;
      } else {
        result = await target.request({ method: call.method, params: call.params ?? [] });
      }
      if (proxyRef.current?.rewrite) result = proxyRef.current.rewrite(call.method, call.params ?? [], result);
      return { jsonrpc: "2.0", id: call.id, result: result ?? null };
    } catch (error) {
      const e = error as { code?: number; message?: string; data?: unknown };
      return { jsonrpc: "2.0", id: call.id, error: { code: typeof e.code === "number" ? e.code : -32603, message: e.message ?? String(error), data: e.data } };
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (mode === "timeout") {
      held.push(res);
      return;
    }
    if (mode === "reset") {
      req.socket.destroy();
      return;
    }
    if (mode === "http500") {
      res.writeHead(500).end("upstream down");
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
    // Sequential, as a node serves a batch: keeps nonces in order for sendRawTransaction batches.
    let reply: unknown;
    if (Array.isArray(body)) {
      const out = [];
      for (const call of body) out.push(await forwardOne(call as { id: unknown; method: string; params?: unknown[] }));
      reply = out;
    } else {
      reply = await forwardOne(body as { id: unknown; method: string; params?: unknown[] });
    }
    const text = JSON.stringify(reply);
    res.writeHead(200, { "content-type": "application/json" }).end(text);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => res.writeHead(500).end(String(error)));
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;

  const stopListening = () => new Promise<void>((resolve) => {
    server.close(() => resolve());
    for (const socket of sockets) socket.destroy();
  });

  const proxy: RpcProxy = {
    url: `http://127.0.0.1:${port}`,
    calls,
    async setMode(next) {
      if (mode === "refuse" && next !== "refuse") await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
      if (next === "refuse" && mode !== "refuse") await stopListening();
      if (next !== "timeout") for (const res of held.splice(0)) res.destroy();
      mode = next;
    },
    async close() {
      for (const res of held.splice(0)) res.destroy();
      if (mode !== "refuse") await stopListening();
    },
  };
  proxyRef.current = proxy;
  return proxy;
}
