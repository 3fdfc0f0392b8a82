import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createTcpServer, type AddressInfo, type Socket } from "node:net";

import { expect } from "chai";

import { Wallet } from "ethers";

import { InvalidInputError } from "../../sdk/errors.js";
import { createGatewayClient } from "../../sdk/gateway/client.js";
import { createFetchTransport, type GatewayTransport } from "../../sdk/gateway/transport.js";
import { createNodeHttpTransport } from "../../sdk/node/transport.js";

/** A raw HTTP/1.1 server: each connection answers requests with `respond(index on this connection)`. */
async function rawServer(respond: (socket: Socket, requestOnConnection: number, connection: number) => void) {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    let requests = 0;
    let buffered = "";
    socket.on("data", (chunk) => {
      buffered += chunk.toString("latin1");
      while (buffered.includes("\r\n\r\n")) {
        buffered = buffered.slice(buffered.indexOf("\r\n\r\n") + 4);
        respond(socket, ++requests, connection);
      }
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`, connections: () => connections,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    }),
  };
}

const ok = (body: string) => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: keep-alive\r\nX-Body: ${body}\r\n\r\n${body}`;

describe("sdk: gateway transports", function () {
  let transport: GatewayTransport;
  afterEach(() => transport?.close());

  it("node:http reuses one keep-alive connection and returns each body whole, in its own buffer", async function () {
    const server = await rawServer((socket, n) => socket.write(ok(`reply-${n}`)));
    transport = createNodeHttpTransport();
    for (const n of [1, 2, 3]) {
      const response = await transport.send({ url: server.url, method: "GET", headers: {} });
      expect(response.status).to.equal(200);
      expect(Buffer.from(response.body).toString()).to.equal(`reply-${n}`);
      expect(response.header("x-body")).to.equal(`reply-${n}`);
      expect(response.header("x-absent")).to.equal(null);
      // Transferable to a worker without detaching anything else.
      expect(response.body.byteOffset).to.equal(0);
      expect(response.body.buffer.byteLength).to.equal(response.body.length);
    }
    expect(server.connections()).to.equal(1);
    await server.close();
  });

  it("node:http sends the request again on a fresh connection when the server drops a reused idle one", async function () {
    // The server answers the first request of a connection, then resets the connection when a
    // second arrives on it (what a server does whose keep-alive timeout fired at that moment).
    const server = await rawServer((socket, n, connection) => {
      if (n === 1) socket.write(ok(`connection-${connection}`));
      else socket.resetAndDestroy();
    });
    transport = createNodeHttpTransport();
    expect(Buffer.from((await transport.send({ url: server.url, method: "GET", headers: {} })).body).toString()).to.equal("connection-1");
    expect(Buffer.from((await transport.send({ url: server.url, method: "GET", headers: {} })).body).toString()).to.equal("connection-2");
    expect(server.connections()).to.equal(2);
    await server.close();
  });

  it("node:http refuses a body shorter than announced, and a server that never answers within the time limit", async function () {
    const short = await rawServer((socket) => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
    transport = createNodeHttpTransport();
    const failure = await transport.send({ url: short.url, method: "GET", headers: {} }).then(() => undefined, (error: Error) => error);
    expect(failure?.message).to.match(/ended after 3 of 10|closed before the response was complete|aborted/);
    await short.close();

    const silent = await rawServer(() => {});
    const started = performance.now();
    const timeout = await transport.send({ url: silent.url, method: "GET", headers: {}, timeoutMs: 200 }).then(() => undefined, (error: Error) => error);
    expect(timeout?.name).to.match(/AbortError|TimeoutError/);
    expect(performance.now() - started).to.be.lessThan(5_000);
    await silent.close();
  });

  it("node:http and fetch deliver the same request and response", async function () {
    const seen: { method?: string; header?: string; body: string }[] = [];
    const server: Server = createHttpServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => { body += chunk.toString(); });
      req.on("end", () => {
        seen.push({ method: req.method, header: req.headers["x-test"] as string | undefined, body });
        res.writeHead(201, { "x-reply": "yes", "content-type": "application/octet-stream" }).end(Buffer.from([1, 2, 3]));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/blob`;
    for (const candidate of [createNodeHttpTransport(), createFetchTransport()]) {
      transport = candidate;
      const response = await candidate.send({ url, method: "PUT", headers: { "x-test": "t" }, body: new TextEncoder().encode("payload") });
      expect(response.status).to.equal(201);
      expect(response.header("x-reply")).to.equal("yes");
      expect([...response.body]).to.deep.equal([1, 2, 3]);
      candidate.close();
    }
    expect(seen).to.deep.equal([{ method: "PUT", header: "t", body: "payload" }, { method: "PUT", header: "t", body: "payload" }]);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("refuses a malformed blob id, ref or owner as input, before anything is signed or sent", async function () {
    let sent = 0;
    const counting: GatewayTransport = { send: () => { sent++; return Promise.reject(new Error("not reached")); }, close() {} };
    const wallet = Wallet.createRandom();
    const client = createGatewayClient({ url: "http://127.0.0.1:9", signer: wallet, chainId: 31337, gatewayAddress: wallet.address, transport: counting });
    const refusals = await Promise.all([
      client.get("abc", { purpose: 1 }),
      client.get(`0x${"ab".repeat(31)}`, { purpose: 1 }),
      client.get(`0x${"ab".repeat(32)}`, { purpose: 1, ref: "0x1234" }),
      client.put(new Uint8Array([1]), { owner: "0xnot-an-address", kind: "record", category: 1 }),
      client.put(new Uint8Array([1]), { owner: wallet.address, kind: "record", category: 1, ref: "record-1" }),
    ].map((p) => p.then(() => undefined, (error: unknown) => error)));
    for (const refusal of refusals) expect(refusal).to.be.instanceOf(InvalidInputError);
    expect(sent).to.equal(0);
    // An upper-case id is the same blob: it goes out (here: to a transport that fails).
    const upper = await client.get(`0x${"AB".repeat(32)}`, { purpose: 1 }).then(() => undefined, (error: Error) => error);
    expect(upper?.name).to.equal("GatewayUnavailableError");
    expect(sent).to.equal(1);
  });
});
