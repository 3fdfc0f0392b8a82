/**
 * One HTTP exchange with the whole body in memory: what the gateway client (protocol/) needs from
 * the network, so it can run on `fetch` in a browser and on node:http keep-alive connections in
 * Node (core/node/httpTransport.ts). Signing and verification stay in the client; a transport
 * only carries bytes.
 */
export type HttpRequest = {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: Uint8Array;
  /** Abort after this many milliseconds (connect, send and receive together). */
  timeoutMs?: number;
};

export type HttpResponse = {
  status: number;
  /** A response header (lower-case name), or null. */
  header(name: string): string | null;
  body: Uint8Array;
};

export type HttpTransport = {
  send(request: HttpRequest): Promise<HttpResponse>;
  /** Releases pooled connections (the node:http transport); a no-op for fetch. */
  close(): void;
};

/** WHATWG fetch: browsers, Node, and any fetch-compatible implementation. The default transport. */
export function createFetchTransport(fetchImpl: typeof fetch = globalThis.fetch.bind(globalThis)): HttpTransport {
  return {
    async send(request) {
      const response = await fetchImpl(request.url, {
        method: request.method,
        headers: request.headers,
        body: request.body as BodyInit | undefined,
        signal: request.timeoutMs ? AbortSignal.timeout(request.timeoutMs) : undefined,
      });
      const body = new Uint8Array(await response.arrayBuffer());
      return { status: response.status, header: (name) => response.headers.get(name), body };
    },
    close() {},
  };
}
