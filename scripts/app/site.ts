/**
 * The app's origin: the built dapp (app/dist, or a placeholder page until it is built), its
 * /config.json, the demo accounts' keystore backups, the model artifacts the registered
 * weightsUri point at, the dev faucet and the consent relay. One origin for all of these, so the
 * page reaches them without CORS; the chain and the gateway are other origins that allow this one.
 */
import { readFile, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, resolve, sep } from "node:path";

import { BaseError } from "../../core/errors.js";
import { AppBadRequestError, AppStackError, AppStackStartingError } from "./errors.js";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8", ".json": "application/json", ".wasm": "application/wasm", ".svg": "image/svg+xml",
  ".png": "image/png", ".ico": "image/x-icon", ".txt": "text/plain; charset=utf-8", ".map": "application/json",
};

/** JSON bodies the faucet and relay take are a few hundred bytes. */
const MAX_JSON_BYTES = 64 * 1024;

export type SiteRoutes = {
  config(): unknown;
  /** Files served at exact paths (keystore backups), by URL path. */
  files(): Record<string, Uint8Array>;
  faucet(body: unknown): Promise<unknown>;
  relay(body: unknown): Promise<unknown>;
};

export type AppSite = {
  url: string;
  /** The page's origins: `http://127.0.0.1:<port>` and `http://localhost:<port>` (both reach this server). */
  origins: string[];
  /** Connects the routes once the stack behind them is up; until then they answer 503. */
  ready(routes: SiteRoutes): void;
  close(): Promise<void>;
};

export const PLACEHOLDER_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MedCipher (app not built)</title></head>
<body data-placeholder="true" style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto">
<h1>MedCipher local stack</h1>
<p>The stack is running, but the reference dapp is not built: <code>app/dist</code> does not exist.
Build it (<code>npm run app:build</code>, i.e. <code>vite build app</code>) and reload.</p>
<p>What the app would load: <a href="config.json">config.json</a>.</p>
</body></html>
`;

export async function startAppSite(options: { port: number; host?: string; appDist: string; modelDir: string }): Promise<AppSite> {
  let routes: SiteRoutes | undefined;
  const appBuilt = await stat(join(options.appDist, "index.html")).then(() => true, () => false);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://app.invalid").pathname);
    if (req.method === "POST") {
      const handler = path === "/faucet" ? routes?.faucet : path === "/relay/consent" ? routes?.relay : undefined;
      if (path !== "/faucet" && path !== "/relay/consent") return sendJson(res, 404, errorBody("APP_NOT_FOUND", `No POST route ${path}.`));
      if (!handler) throw new AppStackStartingError(`POST ${path}`);
      return sendJson(res, 200, await handler(await readJson(req, `POST ${path}`)));
    }
    if (req.method !== "GET" && req.method !== "HEAD") return sendJson(res, 405, errorBody("APP_METHOD_NOT_ALLOWED", `Method ${req.method} not allowed.`));
    if (path === "/config.json") {
      if (!routes) throw new AppStackStartingError("GET /config.json");
      return sendJson(res, 200, routes.config());
    }
    const file = routes?.files()[path];
    if (file) return sendBytes(res, 200, file, CONTENT_TYPES[extname(path)] ?? "application/octet-stream");
    if (path.startsWith("/models/") && extname(path) === ".json") return sendFile(res, options.modelDir, path.slice("/models".length));
    // Browsers ask for a favicon on every page; 204 when the app has none keeps consoles free of 404s.
    if (path === "/favicon.ico" && !(appBuilt && (await stat(join(options.appDist, "favicon.ico")).then(() => true, () => false)))) {
      res.writeHead(204).end();
      return;
    }
    if (!appBuilt) {
      if (path === "/" || path === "/index.html") return sendBytes(res, 200, new TextEncoder().encode(PLACEHOLDER_PAGE), CONTENT_TYPES[".html"]!);
      return sendJson(res, 404, errorBody("APP_NOT_FOUND", `No file ${path} (the app is not built).`));
    }
    // A path without an extension is a route of the single-page app: its index.html.
    return sendFile(res, options.appDist, path === "/" || extname(path) === "" ? "/index.html" : path);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) { res.destroy(); return; }
      if (error instanceof AppStackError) return sendJson(res, error.httpStatus, errorBody(error.code, error.shortMessage, error.details));
      if (error instanceof BaseError) return sendJson(res, 500, errorBody(error.code, error.shortMessage, error.details));
      sendJson(res, 500, errorBody("APP_INTERNAL", `Internal error: ${error instanceof Error ? error.message : String(error)}`));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    origins: [`http://127.0.0.1:${port}`, `http://localhost:${port}`],
    ready(next) { routes = next; },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

function errorBody(code: string, message: string, details?: Record<string, unknown>) {
  return { error: { code, message, ...(details ? { details } : {}) } };
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  sendBytes(res, status, new TextEncoder().encode(JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v))), CONTENT_TYPES[".json"]!);
}

function sendBytes(res: ServerResponse, status: number, body: Uint8Array, contentType: string): void {
  res.writeHead(status, { "content-type": contentType, "content-length": body.length, "cache-control": "no-store" });
  res.end(body);
}

/** A file under `root`, never outside it (`..` in the path is refused). */
async function sendFile(res: ServerResponse, root: string, path: string): Promise<void> {
  const resolved = resolve(normalize(join(root, path)));
  // resolve() drops a trailing slash ("app/dist/" and "app/dist" must serve the same files).
  if (!resolved.startsWith(resolve(root) + sep)) return sendJson(res, 403, errorBody("APP_FORBIDDEN", "Path outside the served directory."));
  const bytes = await readFile(resolved).catch(() => undefined);
  if (!bytes) return sendJson(res, 404, errorBody("APP_NOT_FOUND", `No file ${path}.`));
  sendBytes(res, 200, bytes, CONTENT_TYPES[extname(resolved)] ?? "application/octet-stream");
}

async function readJson(req: IncomingMessage, route: string): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_JSON_BYTES) throw new AppBadRequestError(route, [`the body is over ${MAX_JSON_BYTES} bytes`]);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
  } catch {
    throw new AppBadRequestError(route, ["the body is not JSON"]);
  }
}
