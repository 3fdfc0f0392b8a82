import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";

import type { DeploymentFile } from "../../deploy/deployment-file.js";
import { freePort, removeJournals, startHardhatNode, type HardhatNode } from "../deploy/hardhatNode.js";
import { ROOT } from "./harness.js";

type Walk = { code: number | null; output: string; deployment?: DeploymentFile };

/**
 * docs/walkthrough.sh, the CLI journey the docs show, run as a user runs it against a
 * `hardhat node` process over HTTP: `npm run deploy`, then keys to audit with the gateway and the
 * oracle daemon as processes, and a prediction fulfilled, with no other step.
 */
describe("cli: docs/walkthrough.sh end to end against a hardhat node", function () {
  this.timeout(600_000);
  let node: HardhatNode;
  const deploymentIds = new Set<string>();
  const dirs: string[] = [];

  async function walk(): Promise<Walk> {
    const work = await mkdtemp(join(tmpdir(), "medcipher-walkthrough-"));
    dirs.push(work);
    const env = { ...process.env, MEDCIPHER_RPC: node.url, WALKTHROUGH_DIR: work, GATEWAY_PORT: String(await freePort()), ORACLE_PORT: String(await freePort()) };
    const child = spawn("bash", [join(ROOT, "docs", "walkthrough.sh")], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", (exitCode) => resolve(exitCode)));
    let deployment: DeploymentFile | undefined;
    try {
      deployment = JSON.parse(await readFile(join(work, "deployments", "31337.json"), "utf8")) as DeploymentFile;
      if (deployment.deploymentId) deploymentIds.add(deployment.deploymentId);
    } catch {
      // the walkthrough failed before the deploy wrote it; the output says why
    }
    return { code, output, deployment };
  }

  function expectComplete(run: Walk): void {
    const human = run.output.split("\n").filter((line) => !line.startsWith("{")).join("\n");
    expect(run.code, human.slice(-4000)).to.equal(0);
    // The steps the docs promise, each seen: a fulfilled prediction decrypted, the refusal after revocation, the audit verified.
    expect(human).to.include("registered maternal-risk-v1 as model");
    expect(human).to.match(/result 0x[0-9a-f]{64} \(verified against the chain, decrypted locally\)/);
    expect(human).to.match(/#1 {2}high risk/);
    expect(human).to.include("GATEWAY_FORBIDDEN");
    expect(human).to.match(/^verified: /m);
    expect(human).to.match(/anchored audit head 0x[0-9a-f]{64} at entry \d+: verified/);
    expect(human).to.include("walkthrough complete");
  }

  before(async function () {
    node = await startHardhatNode();
  });
  after(async function () {
    await node?.stop();
    await removeJournals(deploymentIds);
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("runs deploy → keys → register → device → ingest → consent → share → read → predict → result → revoke → refused read → verify → audit", async function () {
    const run = await walk();
    expectComplete(run);
    // The patient is not the oracle's account: they would share a nonce.
    expect(run.output).to.match(/patient 0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc/);
    expect(run.output).to.include("granted ORACLE_ROLE to 0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
  });

  it("works the same after the node is restarted (a fresh chain: the deploy deploys anew)", async function () {
    await node.stop();
    node = await startHardhatNode(node.port);
    const run = await walk();
    expectComplete(run);
    expect(run.output).to.include("deploying the contracts");
    expect(deploymentIds.size).to.equal(2);
  });
});
