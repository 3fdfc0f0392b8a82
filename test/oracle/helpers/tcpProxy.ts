import { connect, createServer, type AddressInfo, type Socket } from "node:net";

/**
 * A loopback TCP proxy that can be cut: `freeze()` simulates a network partition between the
 * client and the server. Both TCP connections stay open, nothing more reaches either side, and
 * neither end hears of a close: what a client sees when a link or a middlebox silently drops
 * everything, the case keepalive-free protocols take minutes to notice.
 */
export type TcpProxy = {
  /** host:port clients connect to. */
  address: string;
  freeze(): void;
  close(): Promise<void>;
};

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let frozen = false;
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => undefined);
  };
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    track(client);
    track(upstream);
    client.on("data", (chunk) => { if (!frozen) upstream.write(chunk); });
    upstream.on("data", (chunk) => { if (!frozen) client.write(chunk); });
    client.on("end", () => { if (!frozen) upstream.end(); });
    upstream.on("end", () => { if (!frozen) client.end(); });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    freeze() {
      frozen = true;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
