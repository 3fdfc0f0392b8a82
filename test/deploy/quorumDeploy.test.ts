import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";
import { Interface, type InterfaceAbi } from "ethers";

import type { DeploymentFile } from "../../deploy/deployment-file.js";
import { ROOT } from "../cli/harness.js";
import { npmDeploy, removeJournals, startHardhatNode, type HardhatNode } from "./hardhatNode.js";

const OPERATORS = ["0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", "0x90F79bf6EB2c4f870365E785982E1f101E93b906"];

/** `npm run deploy` with deploy/parameters/localhost-quorum.json against a real `hardhat node`: a 2-of-3 OracleQuorum, journalled. */
describe("deploy: a 2-of-3 OracleQuorum through npm run deploy against a hardhat node process", function () {
  this.timeout(240_000);
  let node: HardhatNode;
  let out: string;
  const deploymentIds = new Set<string>();
  const deploy = () => npmDeploy(["--network", "localhost", "--rpc", node.url, "--out", out, "--parameters", join(ROOT, "deploy", "parameters", "localhost-quorum.json")]);
  const readFileOf = async () => {
    const file = JSON.parse(await readFile(join(out, "31337.json"), "utf8")) as DeploymentFile;
    if (file.deploymentId) deploymentIds.add(file.deploymentId);
    return file;
  };
  const call = async (file: DeploymentFile, fn: string, args: unknown[] = []) => {
    const quorum = new Interface(file.contracts.OracleQuorum!.abi as InterfaceAbi);
    const raw = await node.rpc<string>("eth_call", [{ to: file.contracts.OracleQuorum!.address, data: quorum.encodeFunctionData(fn, args) }, "latest"]);
    return quorum.decodeFunctionResult(fn, raw);
  };

  before(async function () {
    out = await mkdtemp(join(tmpdir(), "medcipher-quorum-deploy-"));
    node = await startHardhatNode();
  });
  after(async function () {
    await node?.stop();
    await removeJournals(deploymentIds);
    await rm(out, { recursive: true, force: true });
  });

  it("deploys the quorum in the Operator's place, admits its three operators, and a re-run is a no-op", async function () {
    const run = await deploy();
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.include("OracleQuorum in the Operator's place (MedCipherLocalQuorum)");
    for (const op of OPERATORS) expect(run.stdout).to.include(`granted ORACLE_ROLE to ${op}`);
    const file = await readFileOf();
    expect(file.contracts.OracleQuorum?.address).to.equal(file.contracts.Operator.address);
    expect([...await call(file, "quorum")]).to.deep.equal([2n, 3n]);
    expect([...(await call(file, "getAuthorizedSenders"))[0] as string[]]).to.deep.equal(OPERATORS);
    expect((await call(file, "owner"))[0]).to.equal(file.contracts.PredictionRouter.address);

    const head = await node.rpc<string>("eth_blockNumber");
    const again = await deploy();
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.include("Nothing to do");
    expect(await node.rpc<string>("eth_blockNumber")).to.equal(head);
    expect((await readFileOf()).contracts.OracleQuorum?.address).to.equal(file.contracts.OracleQuorum?.address);
  });
});
