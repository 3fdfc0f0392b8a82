import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

import { expect } from "chai";

import { serveJsonRpc, type JsonRpcServerHandle } from "../../deploy/jsonRpcServer.js";
import { GATEWAY_ROLE } from "../../gateway/readiness.js";
import { PASSWORD, ROOT, startCliHarness, type CliHarness } from "../cli/harness.js";

type LogLine = { msg: string; [field: string]: unknown };
type ServeProcess = { child: ChildProcess; lines: LogLine[]; url: string; exited: Promise<number | null> };
type Readyz = { ready: boolean; failing: string[]; checks: Record<string, { ok: boolean; error?: string; [field: string]: unknown }> };

/** `medcipher gateway serve` as a real process on a free port; resolves once it logs "gateway listening". */
async function serve(harness: CliHarness, rpcUrl: string, identity: string, env: Record<string, string> = {}): Promise<ServeProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), "gateway-ready-"));
  const argv = ["--import", "tsx", "cli/medcipher.ts", "--home", harness.home, "--rpc", rpcUrl, "--deployment", harness.deployment, "--identity", identity,
    "gateway", "serve", "--port", "0", "--data-dir", dataDir, "--anchor-interval", "0", "--block-ttl-ms", "0"];
  const child = spawn(process.execPath, argv, { cwd: ROOT, env: { ...process.env, MEDCIPHER_PASSWORD: PASSWORD, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  const lines: LogLine[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (text) => {
      const line = JSON.parse(text) as LogLine;
      lines.push(line);
      if (line.msg === "gateway listening") resolve(line.url as string);
    });
    void exited.then((code) => reject(new Error(`gateway serve exited with ${code}: ${stderr}`)));
  });
  return { child, lines, url, exited };
}

async function readyz(url: string): Promise<{ status: number; body: Readyz }> {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, body: (await response.json()) as Readyz };
}

/**
 * /readyz once `until` holds of its answer, or the last answer after 10 s: the gateway's ethers
 * provider reuses a call's answer for 250 ms (cacheTimeout), so a change shows up after that.
 */
async function readyzOnce(url: string, until: (answer: { status: number; body: Readyz }) => boolean): Promise<{ status: number; body: Readyz }> {
  let answer = await readyz(url);
  for (const deadline = Date.now() + 10_000; !until(answer) && Date.now() < deadline;) {
    await new Promise((r) => setTimeout(r, 100));
    answer = await readyz(url);
  }
  return answer;
}

describe("gateway: /readyz, /metrics and the start/stop log lines (medcipher gateway serve processes, chain over HTTP)", function () {
  this.timeout(180_000);
  let harness: CliHarness;
  let chain: JsonRpcServerHandle;
  let gatewayAddress: string;
  const running: ServeProcess[] = [];

  before(async function () {
    harness = await startCliHarness();
    // A JSON-RPC endpoint of the gateways' own, so a test can take the chain away from them.
    chain = await serveJsonRpc(harness.fx.rpc);
    gatewayAddress = (await harness.newIdentity("gw")).address;
  });
  after(async function () {
    for (const p of running) if (p.child.exitCode === null) p.child.kill("SIGKILL");
    await chain.close().catch(() => undefined);
    await harness.close();
  });

  it("answers 503 naming GATEWAY_ROLE while its key lacks the role, then 200 once it is granted; logs address, url, chain id and data dir on start", async function () {
    const gw = await serve(harness, chain.url, "gw");
    running.push(gw);
    const listening = gw.lines.find((l) => l.msg === "gateway listening")!;
    expect(listening.gateway).to.equal(gatewayAddress);
    expect(listening.url).to.equal(gw.url);
    expect(listening.chainId).to.equal(Number((await harness.fx.provider.getNetwork()).chainId));
    expect(listening.dataDir).to.be.a("string");
    expect(gw.lines.some((l) => l.msg.includes("does not hold GATEWAY_ROLE"))).to.equal(true);

    const refused = await readyz(gw.url);
    expect(refused.status).to.equal(503);
    expect(refused.body.ready).to.equal(false);
    expect(refused.body.failing).to.deep.equal(["gatewayRole"]);
    expect(refused.body.checks.gatewayRole!.error).to.include("GATEWAY_ROLE").and.include(gatewayAddress);
    expect(refused.body.checks.chain!.ok).to.equal(true);
    expect(refused.body.checks.storage!.ok).to.equal(true);
    expect((await fetch(`${gw.url}/healthz`)).status).to.equal(200); // alive all the same

    await (await harness.fx.suite.identity.grantRole(GATEWAY_ROLE, gatewayAddress)).wait();
    const ready = await readyzOnce(gw.url, (a) => a.status === 200);
    expect(ready.status, JSON.stringify(ready.body)).to.equal(200);
    expect(ready.body).to.deep.include({ ready: true, failing: [] });
    expect(Object.keys(ready.body.checks).sort()).to.deep.equal(["blobStore", "chain", "database", "gatewayRole", "storage"]);
    // No S3 and no Postgres configured: the embedded stores, reported as such.
    expect(ready.body.checks.blobStore).to.deep.include({ ok: true, kind: "directory" });
    expect(ready.body.checks.database).to.deep.include({ ok: true, kind: "embedded" });
  });

  it("exposes every metric docs/gateway.md lists after a few requests", async function () {
    const gw = running[0]!;
    await fetch(`${gw.url}/v1/info`);
    await fetch(`${gw.url}/v1/blobs/not-a-hash`); // 400: a refusal
    await fetch(`${gw.url}/v1/blobs/0x${"ab".repeat(32)}`, { method: "PUT", body: "x" }); // unsigned: 401
    await readyz(gw.url);
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const doc = await readFile(new URL("../../docs/gateway.md", import.meta.url), "utf8");
    const monitor = doc.slice(doc.indexOf("## Monitor"), doc.indexOf("## For the oracle"));
    const documented = [...monitor.matchAll(/^\| `(gateway_[a-z_]+)/gm)].map((m) => m[1]!).filter((name) => name !== "gateway_process_");
    expect(documented.length).to.be.greaterThan(10);
    for (const name of documented) expect(text, name).to.match(new RegExp(`^# TYPE ${name} `, "m"));
    expect(text).to.match(/^gateway_requests_total\{route="\/v1\/info",status="200"\} 1$/m);
    expect(text).to.match(/^gateway_refusals_total\{code="GATEWAY_BAD_REQUEST"\} 1$/m);
    expect(text).to.match(/^gateway_refusals_total\{code="GATEWAY_AUTH_INVALID"\} 1$/m);
    expect(text).to.match(/^gateway_ready 1$/m);
    expect(text).to.match(/^gateway_process_process_resident_memory_bytes /m);
  });

  it("answers 503 naming the chain when the chain stops answering, and logs the signal and a clean exit on SIGTERM", async function () {
    const gw = running[0]!;
    await chain.close();
    const down = await readyzOnce(gw.url, (a) => a.body.checks.chain?.ok === false);
    expect(down.status).to.equal(503);
    expect(down.body.failing).to.include("chain");
    expect(down.body.checks.chain!.ok).to.equal(false);
    expect(down.body.checks.chain!.error).to.be.a("string").that.is.not.empty;
    expect(down.body.checks.storage!.ok).to.equal(true);
    expect((await fetch(`${gw.url}/healthz`)).status).to.equal(200);

    gw.child.kill("SIGTERM");
    expect(await gw.exited).to.equal(0);
    const signal = gw.lines.find((l) => l.msg === "signal received; gateway stopping");
    const stopped = gw.lines.find((l) => l.msg === "gateway stopped cleanly");
    expect(signal?.signal).to.equal("SIGTERM");
    expect(stopped).to.deep.include({ signal: "SIGTERM", exitCode: 0 });
  });
});
