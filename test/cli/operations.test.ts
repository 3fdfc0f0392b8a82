import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { expect } from "chai";
import { Wallet } from "ethers";

import { MIN_NODE_VERSION, unsupportedNodeMessage } from "../../core/nodeVersion.js";
import type { Fixture } from "../sdk/fixture.js";
import { startCliHarness, type CliHarness } from "./harness.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const EXIT_CONFIG = 78;

type Run = { code: number; stdout: string; stderr: string };

function run(command: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: ROOT, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const node = (args: string[], env?: Record<string, string>) => run(process.execPath, ["--import", "tsx", ...args], env);

/** Collects a child's output and resolves when a line matches. */
function waitForLine(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 60_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`${what} did not print ${pattern} within ${timeoutMs} ms: ${seen.slice(-2000)}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const match = pattern.exec(seen);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) before printing ${pattern}: ${seen.slice(-2000)}`));
    });
  });
}

/** True once nothing answers at `url` (the service behind it is gone, not just its parent). */
async function stopsAnswering(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      await fetch(url, { signal: AbortSignal.timeout(1_000) });
    } catch {
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

/** Ends whatever is left of a detached child's process group (orphans of a failed run included). */
function killGroup(child: ChildProcess) {
  try {
    process.kill(-child.pid!, "SIGKILL");
  } catch {
    // already gone
  }
}

/** A Node.js on this machine older than MedCipher needs (CI's system Node 20), if there is one. */
function oldNode(): string | undefined {
  for (const candidate of ["/usr/bin/node", "/usr/local/bin/node"]) {
    if (!existsSync(candidate)) continue;
    const version = spawnSync(candidate, ["--version"], { encoding: "utf8" }).stdout.trim();
    if (version && unsupportedNodeMessage(version) !== undefined) return candidate;
  }
  return undefined;
}

describe("operations: entry points, keystores, signals and service units", function () {
  this.timeout(180_000);

  describe("Node.js version check", function () {
    it("names the version needed and the one found, and accepts the minimum and newer", function () {
      const message = unsupportedNodeMessage("v20.20.2", "medcipher");
      expect(message).to.include(`Node.js >= ${MIN_NODE_VERSION}`).and.to.include("20.20.2").and.to.include("medcipher");
      expect(unsupportedNodeMessage("22.12.9")).to.be.a("string");
      expect(unsupportedNodeMessage(MIN_NODE_VERSION)).to.equal(undefined);
      expect(unsupportedNodeMessage("22.14.0")).to.equal(undefined);
      expect(unsupportedNodeMessage("24.21.0")).to.equal(undefined);
      expect(unsupportedNodeMessage("v25.0.0")).to.equal(undefined);
    });

    it("stops the CLI and the daemon on an old Node with that message, before anything loads", async function () {
      const old = oldNode();
      if (!old) {
        console.log(`      (skipped: no Node.js older than ${MIN_NODE_VERSION} on this machine; CI's system Node 20 runs it)`);
        this.skip();
      }
      for (const [entry, name] of [["cli/medcipher.ts", "medcipher"], ["oracle/main.ts", "the MedCipher oracle"]] as const) {
        const result = await run(old!, ["--import", "tsx", entry, "--help"]);
        expect(result.code, `${entry}: ${result.stderr}`).to.equal(1);
        expect(result.stderr).to.include(`${name} needs Node.js >= ${MIN_NODE_VERSION}`);
        expect(result.stderr, "no stack trace from a dependency").not.to.match(/ERR_UNKNOWN_BUILTIN_MODULE|WebAssembly|\n\s+at /);
      }
    });
  });

  describe("oracle keystore", function () {
    let dir: string;
    before(async () => (dir = await mkdtemp(join(tmpdir(), "medcipher-ops-"))));
    after(async () => rm(dir, { recursive: true, force: true }));

    it("refuses to overwrite an existing keystore without --force, and keeps it", async function () {
      const out = join(dir, "keystore.json");
      const keyFile = join(dir, "key.txt");
      const imported = Wallet.createRandom();
      await writeFile(keyFile, imported.privateKey);
      const env = { ORACLE_KEYSTORE_PASSWORD: "operator password" };
      const first = await node(["oracle/main.ts", "keystore", "--out", out, "--key-file", keyFile], env);
      expect(first.code, first.stderr).to.equal(0);
      const original = await readFile(out, "utf8");

      const again = await node(["oracle/main.ts", "keystore", "--out", out], env);
      expect(again.code).to.equal(EXIT_CONFIG);
      expect(again.stderr).to.include("already exists").and.to.include("--force");
      expect(await readFile(out, "utf8"), "the imported key is still there").to.equal(original);

      const forced = await node(["oracle/main.ts", "keystore", "--out", out, "--force"], env);
      expect(forced.code, forced.stderr).to.equal(0);
      expect((JSON.parse(forced.stdout) as { address: string }).address).not.to.equal(imported.address);
    });
  });

  describe("oracle settings", function () {
    it("refuses a misspelt ORACLE_* variable and suggests the setting", async function () {
      const result = await node(["oracle/main.ts", "settings", "--resolved"], { ORACLE_CONFIRMATION: "3", ORACLE_PRIVATE_KEY: Wallet.createRandom().privateKey, ORACLE_GATEWAY_ADDRESS: Wallet.createRandom().address });
      expect(result.code).to.equal(EXIT_CONFIG);
      expect(result.stderr).to.include("ORACLE_CONFIRMATION is not a setting (did you mean ORACLE_CONFIRMATIONS?)");
    });

    it("leaves Oracle Database's own ORACLE_HOME and ORACLE_SID alone", async function () {
      const result = await node(["oracle/main.ts", "settings", "--resolved"], { ORACLE_HOME: "/u01/app/oracle", ORACLE_SID: "ORCL", ORACLE_PRIVATE_KEY: Wallet.createRandom().privateKey, ORACLE_GATEWAY_ADDRESS: Wallet.createRandom().address });
      expect(result.code, result.stderr).to.equal(0);
    });

    it("refuses the CLI's --rpc and --gateway for `oracle start` (it reads ORACLE_RPC_URL and ORACLE_GATEWAY_URL), and does not list them in its help", async function () {
      const refused = await node(["cli/medcipher.ts", "--rpc", "http://127.0.0.1:9", "--gateway", "http://127.0.0.1:9", "oracle", "start"]);
      expect(refused.code).to.equal(EXIT_CONFIG);
      expect(refused.stderr).to.include("ORACLE_RPC_URL").and.to.include("ORACLE_GATEWAY_URL");
      const help = await node(["cli/medcipher.ts", "oracle", "start", "--help"]);
      expect(help.code).to.equal(0);
      expect(help.stdout).to.include("--config").and.not.to.include("--rpc").and.not.to.include("--gateway <url>");
    });
  });

  describe("SIGTERM through the npm scripts", function () {
    let cli: CliHarness;
    let fx: Fixture;
    let home: string;
    let deployment: string;
    let rpcUrl: string;

    before(async function () {
      cli = await startCliHarness();
      ({ fx, home, deployment, rpcUrl } = cli);
    });
    after(async () => cli?.close());

    /** SIGTERM to the npm process must stop the service itself, not only npm. */
    async function expectSigtermStops(child: ChildProcess, url: string) {
      expect((await fetch(`${url}/healthz`)).status).to.equal(200);
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      expect(await exited, "npm exits").to.not.equal(undefined);
      expect(await stopsAnswering(`${url}/healthz`, 15_000), "the service behind npm stopped too").to.equal(true);
    }

    it("`npm run medcipher -- gateway serve` stops on SIGTERM", async function () {
      const env = { ...process.env, MEDCIPHER_PASSWORD: "test password" };
      const init = await run("npm", ["run", "-s", "medcipher", "--", "--home", home, "-i", "gateway", "keys", "init", "--scrypt-n", "1024"], env as Record<string, string>);
      expect(init.code, init.stderr).to.equal(0);
      const child = spawn("npm", ["run", "-s", "medcipher", "--", "--home", home, "--rpc", rpcUrl, "--deployment", deployment, "-i", "gateway",
        "gateway", "serve", "--port", "0", "--anchor-interval", "0", "--data-dir", join(home, "gateway-data")], { cwd: ROOT, env, detached: true });
      try {
        const [, url] = await waitForLine(child, /"url":"(http:\/\/[^"]+)"/, "the gateway");
        await expectSigtermStops(child, url!);
      } finally {
        killGroup(child);
      }
    });

    it("`npm run oracle` stops on SIGTERM", async function () {
      const oracle = await fx.actor("oracle");
      const env = {
        ...process.env,
        ORACLE_RPC_URL: rpcUrl,
        ORACLE_ROUTER_ADDRESS: fx.addresses.PredictionRouter,
        ORACLE_OPERATOR_ADDRESS: fx.suite.addresses.Operator,
        ORACLE_GATEWAY_URL: fx.service.url,
        ORACLE_GATEWAY_ADDRESS: fx.gatewayKey.address,
        ORACLE_PRIVATE_KEY: oracle.wallet.privateKey,
        ORACLE_DATA_DIR: join(home, "oracle-data"),
        ORACLE_HTTP_PORT: "0",
        ORACLE_WORKER_THREADS: "1",
      };
      const child = spawn("npm", ["run", "-s", "oracle"], { cwd: ROOT, env, detached: true });
      try {
        const [, url] = await waitForLine(child, /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"oracle started"|"msg":"oracle started"[^\n]*"url":"(http:\/\/[^"]+)"/, "the oracle");
        await expectSigtermStops(child, url!);
      } finally {
        killGroup(child);
      }
    });
  });

  describe("systemd units", function () {
    it("deploy/systemd/*.service pass `systemd-analyze verify` without a warning, and do not restart on a configuration error", async function () {
      const check = spawnSync("systemd-analyze", ["--version"], { encoding: "utf8" });
      if (check.error) {
        console.log("      (skipped: systemd-analyze is not installed; .ci/run installs it)");
        this.skip();
      }
      const units = (await readdir(join(ROOT, "deploy/systemd"))).filter((name) => name.endsWith(".service"));
      expect(units).to.have.members(["medcipher-gateway.service", "medcipher-oracle.service"]);
      // The units name /opt/medcipher; verify checks that ExecStart is executable, so point a copy at this checkout.
      const dir = await mkdtemp(join(tmpdir(), "medcipher-units-"));
      try {
        for (const unit of units) {
          const text = await readFile(join(ROOT, "deploy/systemd", unit), "utf8");
          expect(text).to.match(/^Restart=on-failure$/m).and.to.match(/^RestartPreventExitStatus=78$/m).and.to.match(/^KillSignal=SIGTERM$/m);
          await writeFile(join(dir, unit), text.replaceAll("/opt/medcipher", ROOT.replace(/\/$/, "")));
        }
        const verify = spawnSync("systemd-analyze", ["verify", "--man=no", ...units.map((unit) => join(dir, unit))], { encoding: "utf8" });
        expect(verify.status, verify.stderr).to.equal(0);
        expect(verify.stderr.trim(), "no warnings (unknown keys only warn)").to.equal("");
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
