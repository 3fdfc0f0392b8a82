import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

import type { HttpRequest, HttpResponse, HttpTransport } from "../http.js";

/**
 * node:http(s) with keep-alive connections, for Node processes that move many blobs (the oracle,
 * the CLI, benchmarks; fetch is the default elsewhere). For a 200 KiB blob it costs about half
 * the CPU of Node's fetch (undici and web streams copy each chunk, then the whole body once
 * more), and it allocates the body once, at its announced length. Fewer large allocations
 * matter as much as fewer cycles: each one counts towards V8's external-memory budget, and a
 * client reading hundreds of blobs a second otherwise runs a full garbage collection several
 * times a second.
 */
export function createNodeHttpTransport(options: { maxSockets?: number } = {}): HttpTransport {
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 64 };
  const httpAgent = new HttpAgent(agentOptions);
  const httpsAgent = new HttpsAgent(agentOptions);

  function once(request: HttpRequest): Promise<HttpResponse & { reusedSocketReset?: boolean }> {
    const url = new URL(request.url);
    const secure = url.protocol === "https:";
    const send = secure ? httpsRequest : httpRequest;
    const headers: Record<string, string | number> = { ...request.headers };
    if (request.body) headers["content-length"] = request.body.length;
    return new Promise((resolve, reject) => {
      let received = false;
      const req = send(url, {
        method: request.method,
        headers,
        agent: secure ? httpsAgent : httpAgent,
        signal: request.timeoutMs ? AbortSignal.timeout(request.timeoutMs) : undefined,
      }, (res) => {
        received = true;
        readBody(res).then((body) => resolve({
          status: res.statusCode ?? 0,
          header: (name) => {
            const value = res.headers[name];
            return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
          },
          body,
        }), reject);
      });
      req.on("error", (error: NodeJS.ErrnoException) => {
        // A keep-alive connection the server closed just as it was reused: nothing was
        // processed, so the caller may send the request again on a fresh connection.
        if (!received && req.reusedSocket && error.code === "ECONNRESET") resolve({ status: 0, header: () => null, body: new Uint8Array(), reusedSocketReset: true });
        else reject(error);
      });
      req.end(request.body);
    });
  }

  return {
    async send(request) {
      const first = await once(request);
      if (!first.reusedSocketReset) return first;
      return once(request);
    },
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/**
 * The whole body, in one buffer of its own when the length is announced. Never a slice of Node's
 * shared Buffer pool: callers may transfer `body.buffer` to another thread.
 */
function readBody(res: IncomingMessage): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const announced = Number(res.headers["content-length"]);
    let whole = Number.isSafeInteger(announced) && announced >= 0 && announced <= MAX_PREALLOCATED_BYTES ? new Uint8Array(announced) : undefined;
    const chunks: Uint8Array[] = [];
    let size = 0;
    res.on("data", (chunk: Buffer) => {
      if (whole && size + chunk.length <= whole.length) whole.set(chunk, size);
      else {
        // No length announced, or more bytes than announced: collect the chunks instead.
        if (whole) chunks.push(whole.subarray(0, size));
        whole = undefined;
        chunks.push(chunk);
      }
      size += chunk.length;
    });
    res.on("end", () => {
      if (whole && size !== whole.length) return reject(new Error(`Response ended after ${size} of ${whole.length} announced bytes.`));
      if (whole) return resolve(whole);
      const body = new Uint8Array(size);
      let offset = 0;
      for (const chunk of chunks) {
        body.set(chunk, offset);
        offset += chunk.length;
      }
      resolve(body);
    });
    res.on("error", reject);
    res.on("close", () => {
      if (!res.complete) reject(new Error("The connection closed before the response was complete."));
    });
  });
}

const MAX_PREALLOCATED_BYTES = 256 * 1024 * 1024;
