import { expect } from "chai";
import { id as keccakUtf8, parseUnits, Wallet } from "ethers";

import { HARDHAT_ACCOUNT_0, startCliHarness, type CliHarness } from "./harness.js";

/** The governance commands the docs name, each run as a real CLI process against a real chain. */
describe("cli: admin (governance)", function () {
  this.timeout(180_000);
  let cli: CliHarness;

  before(async function () {
    cli = await startCliHarness();
    await cli.newIdentity("governance", { GOV_KEY: HARDHAT_ACCOUNT_0 }, "--import-env", "GOV_KEY");
  });
  after(async () => cli?.close());

  it("revoke-role takes back what grant-role gave", async function () {
    const provider = Wallet.createRandom().address;
    const role = keccakUtf8("PROVIDER_ROLE");
    expect((await cli.medcipher("governance", ["admin", "grant-role", "provider", provider])).code).to.equal(0);
    expect(await cli.fx.suite.identity.hasRole(role, provider)).to.equal(true);
    const revoked = await cli.medcipher("governance", ["admin", "revoke-role", "provider", provider]);
    expect(revoked.code, revoked.stderr).to.equal(0);
    expect(await cli.fx.suite.identity.hasRole(role, provider)).to.equal(false);
    expect((await cli.medcipher("governance", ["admin", "revoke-role", "surgeon", provider])).code, "an unknown role is bad input").to.equal(3);
  });

  it("fund-router adds to the router's LINK pool (not to the sender's own deposit)", async function () {
    // Governance (the deployer) is the development LinkToken's minter.
    await (await cli.fx.suite.link.mint(new Wallet(HARDHAT_ACCOUNT_0).address, parseUnits("10", 18))).wait();
    const before = await cli.fx.suite.router.poolBalance();
    const run = await cli.medcipher("governance", ["admin", "fund-router", "2.5"]);
    expect(run.code, run.stderr).to.equal(0);
    expect(await cli.fx.suite.router.poolBalance()).to.equal(before + parseUnits("2.5", 18));
    expect((await cli.medcipher("governance", ["admin", "fund-router", "lots"])).code).to.equal(3);
  });

  it("retire-model stops new requests for the model", async function () {
    const registered = await cli.medcipher("governance", ["--json", "admin", "register-model", "maternal-risk-v1"]);
    expect(registered.code, registered.stderr).to.equal(0);
    const { modelId } = registered.json<{ modelId: number }>();
    expect((await cli.fx.suite.models.modelStatus(modelId)).active).to.equal(true);
    const run = await cli.medcipher("governance", ["admin", "retire-model", String(modelId)]);
    expect(run.code, run.stderr).to.equal(0);
    expect((await cli.fx.suite.models.modelStatus(modelId)).active).to.equal(false);
    expect((await cli.medcipher("governance", ["admin", "retire-model", "zero"])).code).to.equal(3);
  });
});
