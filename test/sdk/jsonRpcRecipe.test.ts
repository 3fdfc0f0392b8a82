import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";
import { JsonRpcProvider, Wallet } from "ethers";
import { pino } from "pino";

import { startGatewayService, type GatewayService } from "../../gateway/service.js";
import { Category, Purpose } from "../../protocol/codes.js";
import { loadDeployment } from "../../sdk/node.js";
import { readKeystore } from "../../sdk/keystore/file.js";
import { ROOT } from "../cli/harness.js";
import { npmDeploy, removeJournals, startHardhatNode, type HardhatNode } from "../deploy/hardhatNode.js";

const RECIPE = join(ROOT, "docs/examples/node-recipe.ts");

function runRecipe(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", RECIPE], { cwd: ROOT, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/**
 * The docs' Node recipe (docs/examples/node-recipe.ts, included in docs/sdk.md) as its own
 * process against a `hardhat node` over HTTP — not Hardhat's in-process provider, which has no
 * call cache and so never shows the nonce problem — with the deployment `npm run deploy` writes
 * and a real gateway.
 */
describe("sdk: the docs' JSON-RPC recipe, back-to-back transactions through a hardhat node", function () {
  this.timeout(240_000);
  let node: HardhatNode;
  let dir: string;
  let gateway: GatewayService;
  let deploymentId: string | undefined;
  const gatewayKey = Wallet.createRandom();

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), "medcipher-recipe-"));
    node = await startHardhatNode();
    const deployed = await npmDeploy(["--network", "localhost", "--rpc", node.url, "--out", dir, "--gateway", gatewayKey.address]);
    expect(deployed.code, deployed.stderr).to.equal(0);
    deploymentId = (JSON.parse(await readFile(join(dir, "31337.json"), "utf8")) as { deploymentId?: string }).deploymentId;
    const provider = new JsonRpcProvider(node.url, undefined, { cacheTimeout: -1 });
    gateway = await startGatewayService({
      dataDir: join(dir, "gateway"), provider, addresses: (await loadDeployment(join(dir, "31337.json"))).addresses, signingKey: gatewayKey.signingKey,
      anchorIntervalMs: 0, blockNumberTtlMs: 0, logger: pino({ level: "silent" }),
    });
  });
  after(async function () {
    await gateway?.close();
    await node?.stop();
    if (deploymentId) await removeJournals([deploymentId]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function fundedKey(): Promise<string> {
    const wallet = Wallet.createRandom();
    await node.rpc("hardhat_setBalance", [wallet.address, "0x8ac7230489e80000"]);
    return wallet.privateKey;
  }

  it("is what ethers' default JsonRpcProvider gets wrong: two sends within its 250 ms cache reuse a nonce", async function () {
    const wallet = new Wallet(await fundedKey(), new JsonRpcProvider(node.url));
    await (await wallet.sendTransaction({ to: wallet.address, value: 1n })).wait();
    const second = await wallet.sendTransaction({ to: wallet.address, value: 2n }).then(() => "sent", (error: Error) => error.message);
    expect(second).to.match(/nonce/i);
    wallet.provider!.destroy();
  });

  it("registers, grants, revokes and grants again from one connectJsonRpc wallet, as docs/sdk.md shows", async function () {
    const privateKey = await fundedKey();
    const clinician = Wallet.createRandom().address;
    const keystorePath = join(dir, "patient.json");
    const run = await runRecipe({
      MEDCIPHER_RPC_URL: node.url, MEDCIPHER_DEPLOYMENT: join(dir, "31337.json"), MEDCIPHER_GATEWAY_URL: gateway.url,
      MEDCIPHER_KEYSTORE: keystorePath, MEDCIPHER_PASSWORD: "recipe password", PATIENT_PRIVATE_KEY: privateKey, CLINICIAN_ADDRESS: clinician,
    });
    expect(run.code, run.stderr).to.equal(0);
    const result = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as { patient: string; keysHash: string; consents: { grantee: string; purpose: number; active: boolean; categories: number[] }[] };
    const address = new Wallet(privateKey).address;
    expect(result.patient).to.equal(address);
    expect(result.consents).to.deep.equal([{ grantee: clinician, purpose: Purpose.TREAT, active: true, categories: [Category.VITAL_SIGNS, Category.PREDICTION] }]);
    // Four transactions from the patient's account (register, grant, revoke, grant): none lost or replaced.
    expect(await node.rpc<string>("eth_getTransactionCount", [address, "latest"])).to.equal("0x4");
    // The key set registered on-chain is the one the keystore kept.
    const { secrets } = await readKeystore(keystorePath, "recipe password");
    expect(secrets.heKeySets?.map((k) => k.keysHash)).to.deep.equal([result.keysHash]);
  });
});

describe("docs/sdk.md shows exactly the recipes the tests run", function () {
  it("holds docs/examples/node-recipe.ts, browser-recipe.ts and vite.config.ts verbatim, each as one ts block", async function () {
    const docs = await readFile(join(ROOT, "docs/sdk.md"), "utf8");
    const blocks = [...docs.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);
    for (const example of ["node-recipe.ts", "browser-recipe.ts", "vite.config.ts"]) {
      expect(blocks, `docs/sdk.md lacks docs/examples/${example} as it stands`).to.include(await readFile(join(ROOT, "docs/examples", example), "utf8"));
    }
  });
});
