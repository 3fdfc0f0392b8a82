import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import type { Common } from "../common.js";
import { resetJobGauge } from "../metrics.js";
import type { ExternalAdapter } from "./adapter.js";
import type { ReadinessReport } from "./readiness.js";

/**
 * The ops server: Prometheus `/metrics`, liveness `/healthz`, readiness `/readyz`, and (when
 * enabled) the Chainlink external-adapter endpoint `POST /adapter` (also `POST /`, what a bridge
 * URL usually points at).
 */
export type Readiness = () => Promise<ReadinessReport>;

const MAX_BODY_BYTES = 16 * 1024;

export type OpsServer = { server: Server; url: string; close: () => Promise<void> };

export async function startOpsServer({ common, jobCounts, readiness, adapter }: {
  common: Common;
  jobCounts: () => Promise<Record<string, number>>;
  readiness: Readiness;
  adapter?: ExternalAdapter;
}): Promise<OpsServer> {
  const { settings, metrics, logger } = common;
  const startedAt = Date.now();

  const send = (res: ServerResponse, status: number, body: unknown, type = "application/json") => {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(text) });
    res.end(text);
  };

  async function readJson(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) throw Object.assign(new Error("body too large"), { statusCode: 413 });
      chunks.push(chunk as Buffer);
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
    } catch {
      throw Object.assign(new Error("body is not JSON"), { statusCode: 400 });
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/metrics") {
      resetJobGauge(metrics, await jobCounts());
      return send(res, 200, await metrics.registry.metrics(), metrics.registry.contentType);
    }
    if (req.method === "GET" && path === "/healthz") {
      return send(res, common.shutdown.isKilled() ? 503 : 200, { status: common.shutdown.isKilled() ? "stopping" : "ok", uptimeSeconds: Math.round((Date.now() - startedAt) / 1000) });
    }
    if (req.method === "GET" && path === "/readyz") {
      const report = await readiness();
      return send(res, report.ready ? 200 : 503, report);
    }
    if (req.method === "POST" && (path === "/adapter" || path === "/") && adapter) {
      if (settings.ADAPTER_TOKEN !== "" && req.headers.authorization !== `Bearer ${settings.ADAPTER_TOKEN}`) {
        return send(res, 401, { status: "errored", statusCode: 401, error: { name: "Unauthorized", message: "missing or wrong bearer token" } });
      }
      let body: unknown;
      try {
        body = await readJson(req);
      } catch (error) {
        const status = (error as { statusCode?: number }).statusCode ?? 400;
        return send(res, status, { status: "errored", statusCode: status, error: { name: "BadRequest", message: (error as Error).message } });
      }
      const response = await adapter.handle(body);
      return send(res, response.statusCode, response);
    }
    send(res, 404, { error: "not found" });
  }

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      logger.error({ err: String(error) }, "ops server request failed");
      if (!res.headersSent) send(res, 500, { error: "internal error" });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(settings.HTTP_PORT, settings.HTTP_HOST, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${settings.HTTP_HOST}:${address.port}`;
  logger.info({ url, adapter: adapter !== undefined }, "ops server listening");
  return {
    server,
    url,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
