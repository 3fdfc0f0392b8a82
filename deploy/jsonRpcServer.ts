import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** An EIP-1193 provider: the embedded chain of `network.create()`, or any wallet provider. */
export type Eip1193Provider = { request(args: { method: string; params?: unknown[] }): Promise<unknown> };

export type JsonRpcServerHandle = { url: string; close(): Promise<void> };

type Call = { jsonrpc?: string; id?: unknown; method?: unknown; params?: unknown };

/** A JSON-RPC request body larger than this is refused (a whole block of calldata is well under). */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

/**
 * Serves an in-process chain over real JSON-RPC HTTP on loopback, so separate components (the
 * oracle daemon, the CLI, a browser dapp) reach the very chain the demo or a test deployed to —
 * what `hardhat node` does, without a second process. Batches are answered in order.
 *
 * @example
 * const connection = await network.create();
 * const rpc = await serveJsonRpc(connection.provider);   // rpc.url = "http://127.0.0.1:<port>"
 */
export async function serveJsonRpc(provider: Eip1193Provider, options: { host?: string; port?: number; corsOrigins?: readonly string[] } = {}): Promise<JsonRpcServerHandle> {
  // A page on another origin (the dapp of `npm run app`) posts JSON, which needs a preflight;
  // only the origins named get an answer it may read, as with the gateway's allow-list.
  const corsOrigins = new Set(options.corsOrigins ?? []);
  const corsHeaders = (origin: string | undefined): Record<string, string> =>
    origin !== undefined && corsOrigins.has(origin) ? { "access-control-allow-origin": origin, vary: "Origin" } : {};

  const answer = async (call: Call) => {
    if (typeof call !== "object" || call === null || typeof call.method !== "string") {
      return { jsonrpc: "2.0", id: call?.id ?? null, error: { code: -32600, message: "Invalid request: a JSON-RPC call needs a string method" } };
    }
    try {
      const params = Array.isArray(call.params) ? call.params : [];
      return { jsonrpc: "2.0", id: call.id ?? null, result: await provider.request({ method: call.method, params }) };
    } catch (error) {
      const e = error as { code?: unknown; message?: string; data?: unknown };
      return { jsonrpc: "2.0", id: call.id ?? null, error: { code: typeof e.code === "number" ? e.code : -32603, message: e.message ?? String(error), data: e.data } };
    }
  };

  const server: Server = createServer((req, res) => {
    const cors = corsHeaders(req.headers.origin);
    for (const [name, value] of Object.entries(cors)) res.setHeader(name, value);
    if (req.method === "OPTIONS" && cors["access-control-allow-origin"]) {
      res.writeHead(204, { "access-control-allow-methods": "POST", "access-control-allow-headers": "content-type", "access-control-max-age": "600" }).end();
      return;
    }
    if (req.method !== "POST") {
      res.writeHead(405, { allow: "POST" }).end();
      return;
    }
    readBody(req).then(
      async (text) => {
        let body: Call | Call[];
        try {
          body = JSON.parse(text) as Call | Call[];
        } catch {
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } }));
          return;
        }
        const reply = Array.isArray(body) ? await Promise.all(body.map(answer)) : await answer(body);
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(reply));
      },
      () => res.writeHead(413).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? "127.0.0.1", resolve));
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}`,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new RangeError("request body too large"));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
