/**
 * `medcipher relayer start` as a real process against a chain served over JSON-RPC: configured
 * from RELAYER_* alone, it serves the relay API, answers with its own address and the deployment's
 * contracts, stops cleanly on SIGTERM, and ends with 78 (EX_CONFIG) on a bad configuration.
 */
import { spawn, spawnSync } from "node:child_process";

import { expect } from "chai";
import { Wallet } from "ethers";

import { RELAYER_INFO_PATH } from "../../protocol/relayer.js";
import { ROOT, startCliHarness, type CliHarness } from "./harness.js";

describe("cli: medcipher relayer start", function () {
  this.timeout(120_000);
  let h: CliHarness;
  before(async () => {
    h = await startCliHarness();
  });
  after(() => h?.close());

  it("serves from RELAYER_* settings and stops on SIGTERM", async () => {
    const key = Wallet.createRandom();
    await h.fx.fund(key.address);
    const env = { ...process.env, RELAYER_RPC_URL: h.rpcUrl, RELAYER_PRIVATE_KEY: key.privateKey, RELAYER_DEPLOYMENT_FILE: h.deployment, RELAYER_PORT: "0" };
    const child = spawn(process.execPath, ["--import", "tsx", "cli/medcipher.ts", "relayer", "start"], { cwd: ROOT, env });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`relayer did not start: ${stdout}`)), 60_000);
      child.stdout.on("data", () => {
        const line = stdout.split("\n").find((l) => l.includes("relayer listening"));
        if (line) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { url: string }).url);
        }
      });
    });
    expect(stdout).not.to.include(key.privateKey.slice(2));
    const info = (await (await fetch(`${url}${RELAYER_INFO_PATH}`)).json()) as { address: string; calls: { to: string }[] };
    expect(info.address).to.equal(key.address);
    expect(info.calls.map((c) => c.to)).to.include(h.fx.addresses.PredictionRouter).and.to.include(h.fx.addresses.ConsentManager);
    child.kill("SIGTERM");
    expect(await exited).to.equal(0);
  });

  it("exits 78 listing every problem of a bad configuration, and on the CLI's global --rpc (it reads RELAYER_* only)", () => {
    const run = spawnSync(process.execPath, ["--import", "tsx", "cli/medcipher.ts", "relayer", "start"], { cwd: ROOT, env: { ...process.env, RELAYER_MAX_GAS: "10", RELAYER_TYPO: "1" }, encoding: "utf8" });
    expect(run.status).to.equal(78);
    const flags = spawnSync(process.execPath, ["--import", "tsx", "cli/medcipher.ts", "--rpc", "http://127.0.0.1:9", "relayer", "start"], { cwd: ROOT, encoding: "utf8" });
    expect(flags.status).to.equal(78);
    expect(flags.stderr).to.include("relayer start takes no --rpc").and.to.include("RELAYER_RPC_URL");
    expect(run.stderr).to.include("RELAYER_TYPO is not a relayer setting").and.to.include("MAX_GAS must be an integer").and.to.include("PRIVATE_KEY or KEYSTORE_FILE is required");
  });
});
