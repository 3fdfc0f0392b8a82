import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { chown, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

import pg from "pg";

const run = promisify(execFile);

/** A private Postgres cluster a test started (and stops): its own directory, port and socket. */
export type PostgresCluster = {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust auth, loopback only). */
  url: string;
  port: number;
  dir: string;
  /** Creates an empty database and returns its URL (one per test keeps them apart). */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
};

/** Debian's server binaries live in /usr/lib/postgresql/<major>/bin, not on PATH. */
export function postgresBinDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root).filter((d) => existsSync(join(root, d, "bin", "initdb"))).sort((a, b) => Number(b) - Number(a));
  return majors.length > 0 ? join(root, majors[0]!, "bin") : undefined;
}

export function postgresAvailable(): boolean {
  return postgresBinDir() !== undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/**
 * Starts a throw-away cluster (initdb + pg_ctl, ~4–9 s). initdb refuses to run as root, so as root
 * (CI) the cluster belongs to the `postgres` user Debian's package creates.
 */
export async function startPostgres(): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("Postgres is not installed (apt-get install -y postgresql); .ci/run installs it");
  const dir = await mkdtemp(join(tmpdir(), "medcipher-pg-"));
  const asRoot = process.getuid?.() === 0;
  const as = async (file: string, args: string[]) => {
    if (asRoot) return run("runuser", ["-u", "postgres", "--", join(bin, file), ...args]);
    return run(join(bin, file), args);
  };
  if (asRoot) {
    const { stdout } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const data = join(dir, "data");
  await as("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
  const port = await freePort();
  // fsync off: a test cluster's durability is the test's lifetime; it makes commits ~10× faster.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  await as("pg_ctl", ["-D", data, "-o", options, "-l", join(dir, "server.log"), "-w", "-t", "60", "start"]);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let stopped = false;
  return {
    url,
    port,
    dir,
    async createDatabase(name: string) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`database name ${name} must be lower-case letters, digits and _`);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await as("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
