import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";
import { Wallet } from "ethers";

import { ExitCode } from "../../cli/exitCodes.js";
import type { DeploymentFile } from "../../deploy/deployment-file.js";
import { HARDHAT_ACCOUNT_0, PASSWORD, ROOT } from "../cli/harness.js";
import { npmDeploy, removeJournals, startHardhatNode, type HardhatNode } from "./hardhatNode.js";

/**
 * `npm run deploy -- --network localhost` against a real `hardhat node` process, as issue 10's
 * deployer ran it: a re-run, a restarted node, changed parameters, and the CLI on a chain
 * without the contracts.
 */
describe("deploy: npm run deploy against a hardhat node process", function () {
  this.timeout(240_000);
  let node: HardhatNode;
  let out: string;
  const deploymentIds = new Set<string>();

  const deploy = async (...args: string[]) => {
    const run = await npmDeploy(["--network", "localhost", "--rpc", node.url, "--out", out, ...args]);
    return run;
  };
  const readFileOf = async () => {
    const file = JSON.parse(await readFile(join(out, "31337.json"), "utf8")) as DeploymentFile;
    if (file.deploymentId) deploymentIds.add(file.deploymentId);
    return file;
  };
  const codeless = async (file: DeploymentFile) => {
    const names: string[] = [];
    for (const [name, { address }] of Object.entries(file.contracts)) if ((await node.rpc<string>("eth_getCode", [address, "latest"])) === "0x") names.push(name);
    return names;
  };

  before(async function () {
    out = await mkdtemp(join(tmpdir(), "medcipher-deploy-"));
    node = await startHardhatNode();
  });
  after(async function () {
    await node?.stop();
    await removeJournals(deploymentIds);
    await rm(out, { recursive: true, force: true });
  });

  it("leaves a working system: the oracle admitted through the router, roles, sponsor, models, the deployment block, step by step", async function () {
    const gateway = Wallet.createRandom().address;
    const vendor = Wallet.createRandom().address;
    const patient = Wallet.createRandom().address;
    const run = await deploy("--gateway", gateway, "--vendor", vendor, "--sponsor", patient);
    expect(run.code, run.stderr).to.equal(0);
    for (const line of ["deploying the contracts", "granted GATEWAY_ROLE", "granted DEVICE_VENDOR_ROLE", "granted ORACLE_ROLE to 0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "sponsored", "registered maternal-risk-v1"]) {
      expect(run.stdout).to.include(line);
    }
    const file = await readFileOf();
    expect(await codeless(file)).to.deep.equal([]);
    expect(file.deploymentBlock).to.be.a("number").and.be.greaterThan(0);
    // The deployment block holds the suite's first transaction: the block before has no IdentityRegistry.
    expect(await node.rpc("eth_getCode", [file.contracts.IdentityRegistry.address, `0x${(file.deploymentBlock! - 1).toString(16)}`])).to.equal("0x");
    expect(await node.rpc("eth_getCode", [file.contracts.IdentityRegistry.address, `0x${file.deploymentBlock!.toString(16)}`])).to.not.equal("0x");
    expect(file.deploymentId).to.match(/^chain-31337-[0-9a-f]{8}$/);
  });

  it("re-running the deploy is a no-op that succeeds: same addresses, no transaction", async function () {
    const before = await readFileOf();
    const head = await node.rpc<string>("eth_blockNumber");
    const run = await deploy();
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.include("Nothing to do").and.include("maternal-risk-v1: already model");
    expect(await node.rpc<string>("eth_blockNumber")).to.equal(head);
    const after = await readFileOf();
    expect(after.contracts.PredictionRouter.address).to.equal(before.contracts.PredictionRouter.address);
    expect(after.deploymentBlock).to.equal(before.deploymentBlock);
  });

  it("changed parameters are refused with a message naming --reset; --reset deploys a new suite", async function () {
    const parameters = join(out, "fee.json");
    const base = JSON.parse(await readFile(join(ROOT, "deploy", "parameters", "localhost.json"), "utf8")) as Record<string, Record<string, unknown>>;
    await writeFile(parameters, JSON.stringify({ ...base, LocalPredictionRouter: { ...base.LocalPredictionRouter, fee: "200000000000000000n" } }));
    const before = await readFileOf();
    const refused = await deploy("--parameters", parameters);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.include("DEPLOY_CONFLICT").and.include("--reset").and.include("Argument at index 7 has been changed");
    expect(refused.stderr).to.not.match(/^\s+at /m); // one message, no stack trace

    const reset = await deploy("--parameters", parameters, "--reset");
    expect(reset.code, reset.stderr).to.equal(0);
    expect(reset.stdout).to.include("journal set aside (--reset)");
    const after = await readFileOf();
    expect(after.contracts.PredictionRouter.address).to.not.equal(before.contracts.PredictionRouter.address);
    expect(await codeless(after)).to.deep.equal([]);
  });

  it("after a node restart the CLI refuses to act on the old deployment file, and the deploy deploys anew", async function () {
    const old = await readFileOf();
    await node.stop();
    node = await startHardhatNode(node.port);

    // The CLI, as governance, on a chain where the file's contracts have no code: refused, naming the address and the chain.
    const home = await mkdtemp(join(tmpdir(), "medcipher-deploy-cli-"));
    const cli = (...args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ["--import", "tsx", "cli/medcipher.ts", "--home", home, "--rpc", node.url, "--deployment", join(out, "31337.json"), "--identity", "admin", ...args],
        { cwd: ROOT, env: { ...process.env, MEDCIPHER_PASSWORD: PASSWORD, ADMIN_KEY: HARDHAT_ACCOUNT_0 } },
        (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }));
    });
    try {
      expect((await cli("keys", "init", "--scrypt-n", "1024", "--import-env", "ADMIN_KEY")).code).to.equal(0);
      const refused = await cli("admin", "grant-role", "gateway", Wallet.createRandom().address);
      expect(refused.code, refused.stdout).to.equal(ExitCode.UNAVAILABLE);
      expect(refused.stdout).to.not.include("granted");
      expect(refused.stderr).to.include("CLI_DEPLOYMENT_NOT_ON_CHAIN").and.include(old.contracts.IdentityRegistry.address).and.include("chain 31337").and.include(node.url);
      expect(refused.stderr).to.not.match(/^\s+at /m);
    } finally {
      await rm(home, { recursive: true, force: true });
    }

    const run = await deploy();
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.include("deploying the contracts");
    const fresh = await readFileOf();
    expect(fresh.deploymentId).to.not.equal(old.deploymentId);
    expect(fresh.genesisHash).to.not.equal(old.genesisHash);
    expect(await codeless(fresh)).to.deep.equal([]);
  });
});
