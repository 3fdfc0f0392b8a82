// Reverts decode to their custom error's name and arguments on every path ethers reports them
// (issue 11 §1): a view call, a transaction's gas estimate, the node refusing the send, a mined
// status-0 transaction; and a sender without gas money is told so in words.
import { readFile } from "node:fs/promises";
import path from "node:path";

import { expect } from "chai";
import { ContractFactory, JsonRpcProvider, parseEther, Wallet, ZeroHash } from "ethers";

import { startAnvil, type AnvilHandle } from "../../deploy/anvil.js";
import { linkTokenAbi } from "../../protocol/abi/generated.js";
import { Category, Purpose, scopeOf } from "../../protocol/codes.js";
import { connectContract } from "../../protocol/contracts.js";
import { decodeRevert, decodeRevertData, medCipherErrors } from "../../protocol/revert.js";
import { sendTransaction } from "../../sdk/chain/send.js";
import { ChainError } from "../../sdk/errors.js";
import { ROOT, startCliHarness, type CliHarness } from "../cli/harness.js";
import { startHardhatNode, type HardhatNode } from "../deploy/hardhatNode.js";

const LINK_ARTIFACT = path.join(ROOT, "artifacts/@chainlink/contracts/src/v0.8/shared/token/ERC677/LinkToken.sol/LinkToken.json");
/** Two of the well-known development keys (Hardhat's and anvil's default mnemonic, accounts 1 and 2). */
const OWNER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const STRANGER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";

/** A LinkToken deployed by `owner` (its only minter is nobody until granted): mint from anyone reverts SenderNotMinter. */
async function deployLink(owner: Wallet) {
  const artifact = JSON.parse(await readFile(LINK_ARTIFACT, "utf8")) as { bytecode: string };
  const deployed = await new ContractFactory(linkTokenAbi, artifact.bytecode, owner).deploy();
  await deployed.waitForDeployment();
  return connectContract(linkTokenAbi, await deployed.getAddress(), owner);
}

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return expect.fail("expected a rejection");
}

function expectChainError(error: unknown, reason: string): ChainError {
  expect(error, String(error)).to.be.instanceOf(ChainError);
  const chain = error as ChainError;
  expect(chain.details.reason, chain.shortMessage).to.equal(reason);
  return chain;
}

describe("sdk: reverts decode to the custom error and its arguments", function () {
  this.timeout(180_000);

  it("decodes Error(string), Panic and an unknown selector without throwing", function () {
    const message = decodeRevertData(medCipherErrors.encodeErrorResult("Error(string)", ["Must have a valid requestId"]));
    expect(message).to.deep.include({ reason: "Error", args: { "0": "Must have a valid requestId" } });
    const panic = decodeRevertData(medCipherErrors.encodeErrorResult("Panic(uint256)", [0x11]));
    expect(panic).to.deep.include({ reason: "Panic", args: { "0": "17", description: "arithmetic overflow or underflow" } });
    expect(decodeRevertData("0xdeadbeef").reason).to.equal("unknown custom error 0xdeadbeef");
    expect(decodeRevert(new Error("no data here"))).to.equal(undefined);
  });

  describe("on the in-process chain, through the SDK's typed contracts (and the CLI over JSON-RPC)", function () {
    let cli: CliHarness;
    before(async function () {
      cli = await startCliHarness();
    });
    after(async () => cli?.close());

    it("a view call: UnknownModel with its id", async function () {
      const actor = await cli.fx.actor("reader");
      const error = await failureOf(actor.client.contracts.models.modelOf(999));
      expect(decodeRevert(error)).to.deep.include({ reason: "UnknownModel", args: { modelId: "999" }, signature: "UnknownModel(uint32)" });
    });

    it("a transaction's gas estimate: OpenZeppelin's AccessControlUnauthorizedAccount with the account and the role", async function () {
      const actor = await cli.fx.actor("stranger");
      const role = await actor.client.contracts.identity.PROVIDER_ROLE();
      const error = await failureOf(sendTransaction("grantRole", () => actor.client.contracts.identity.grantRole(role, Wallet.createRandom().address)));
      const chain = expectChainError(error, "AccessControlUnauthorizedAccount");
      expect(chain.details.args).to.deep.equal({ account: actor.wallet.address, neededRole: ZeroHash });
      expect(chain.shortMessage).to.equal(`grantRole failed on-chain: AccessControlUnauthorizedAccount(account=${actor.wallet.address}, neededRole=${ZeroHash}).`);
    });

    it("OpenZeppelin's ECDSA: a 10-byte signature is ECDSAInvalidSignatureLength(10)", async function () {
      const [patient, relayer] = [await cli.fx.actor("patient"), await cli.fx.actor("relayer")];
      const consent = patient.client.contracts.consent.connect(relayer.wallet);
      const now = Math.floor(Date.now() / 1000);
      const error = await failureOf(sendTransaction("grantConsentBySig", () =>
        consent.grantConsentBySig(patient.wallet.address, relayer.wallet.address, Purpose.TREAT, scopeOf([Category.VITAL_SIGNS]), 0, now + 86_400, now + 3_600, `0x${"11".repeat(10)}`)));
      expect(expectChainError(error, "ECDSAInvalidSignatureLength").details.args).to.deep.equal({ length: "10" });
    });

    it("the CLI prints the reason and its arguments and exits 7", async function () {
      const stranger = await cli.newIdentity("stranger");
      const run = await cli.medcipher("stranger", ["admin", "grant-role", "provider", Wallet.createRandom().address]);
      expect(run.code, run.stderr).to.equal(7);
      expect(run.stderr).to.include(`grantRole failed on-chain: AccessControlUnauthorizedAccount(account=${stranger.address}, neededRole=${ZeroHash})`);
      const json = await cli.medcipher("stranger", ["--json", "admin", "grant-role", "provider", Wallet.createRandom().address]);
      const printed = JSON.parse(json.stderr) as { error: { details: { reason: string; args: Record<string, string> } } };
      expect(printed.error.details).to.deep.include({ reason: "AccessControlUnauthorizedAccount", args: { account: stranger.address, neededRole: ZeroHash } });
    });

    it("the CLI says an unfunded account has 0 ETH instead of 'could not coalesce error'", async function () {
      const init = await cli.medcipher("pauper", ["--json", "keys", "init", "--scrypt-n", "1024"]);
      const { address } = init.json<{ address: string }>();
      // Revoking never reverts: the only thing in its way is the missing gas money.
      const run = await cli.medcipher("pauper", ["consent", "revoke", "--grantee", Wallet.createRandom().address, "--purpose", "TREAT"]);
      expect(run.code, run.stderr).to.equal(7);
      expect(run.stderr, run.stderr).to.include(`account ${address} has 0 ETH; it needs gas to send revokeConsent`);
      expect(run.stderr).not.to.include("coalesce");
    });
  });

  describe("over JSON-RPC to a `hardhat node` (ethers' JsonRpcProvider)", function () {
    let node: HardhatNode;
    let provider: JsonRpcProvider;
    let owner: Wallet;
    let stranger: Wallet;
    before(async function () {
      node = await startHardhatNode();
      provider = new JsonRpcProvider(node.url, undefined, { cacheTimeout: -1, staticNetwork: true });
      [owner, stranger] = [new Wallet(OWNER_KEY, provider), new Wallet(STRANGER_KEY, provider)];
      for (const w of [owner, stranger]) await node.rpc("hardhat_setBalance", [w.address, `0x${parseEther("100").toString(16)}`]);
    });
    after(async () => {
      provider?.destroy();
      await node?.stop();
    });

    it("the gas estimate (ethers leaves `revert` empty; the data sits in the error): Chainlink's SenderNotMinter", async function () {
      const link = (await deployLink(owner)).connect(stranger);
      const error = await failureOf(sendTransaction("mint", () => link.mint(stranger.address, 1n)));
      expect(expectChainError(error, "SenderNotMinter").details.args).to.deep.equal({ sender: stranger.address });
    });

    it("the node refusing the send of a transaction with an explicit gas limit ('could not coalesce'): SenderNotMinter", async function () {
      const link = (await deployLink(owner)).connect(stranger);
      const error = await failureOf(sendTransaction("mint", () => link.mint(stranger.address, 1n, { gasLimit: 200_000n })));
      expect(expectChainError(error, "SenderNotMinter").details.args).to.deep.equal({ sender: stranger.address });
    });

    it("an unfunded wallet: 'account 0x… has 0 ETH; it needs gas to send transfer'", async function () {
      const link = await deployLink(owner);
      const pauper = Wallet.createRandom(provider);
      const error = await failureOf(sendTransaction("transfer", () => link.connect(pauper).transfer(owner.address, 0n)));
      const chain = expectChainError(error, "InsufficientFunds");
      expect(chain.shortMessage).to.equal(`account ${pauper.address} has 0 ETH; it needs gas to send transfer.`);
      expect(chain.details.args).to.deep.equal({ account: pauper.address, balanceWei: "0" });
    });
  });

  describe("a mined status-0 transaction (anvil mines reverting transactions)", function () {
    let anvil: AnvilHandle;
    let provider: JsonRpcProvider;
    let owner: Wallet;
    let stranger: Wallet;
    before(async function () {
      anvil = await startAnvil({ accounts: 3 });
      provider = new JsonRpcProvider(anvil.url, undefined, { cacheTimeout: -1, staticNetwork: true });
      [owner, stranger] = [new Wallet(OWNER_KEY, provider), new Wallet(STRANGER_KEY, provider)];
    });
    after(async () => {
      provider?.destroy();
      await anvil?.stop();
    });

    it("is re-run as a call at its block: SenderNotMinter with the sender", async function () {
      const link = (await deployLink(owner)).connect(stranger);
      let hash = "";
      const error = await failureOf(sendTransaction("mint", () => link.mint(stranger.address, 1n, { gasLimit: 200_000n }), { onSent: (h) => (hash = h) }));
      expect((await provider.getTransactionReceipt(hash))?.status, "the transaction was mined and failed").to.equal(0);
      expect(expectChainError(error, "SenderNotMinter").details.args).to.deep.equal({ sender: stranger.address });
    });

    it("one that used all its gas ran out of it: OutOfGas", async function () {
      const link = (await deployLink(owner)).connect(stranger);
      const error = await failureOf(sendTransaction("transfer", () => link.transfer(owner.address, 0n, { gasLimit: 25_000n })));
      expect(expectChainError(error, "OutOfGas").details.args).to.deep.equal({ gasLimit: "25000", gasUsed: "25000" });
    });

    it("an unfunded wallet is told so on anvil's wording too", async function () {
      const link = await deployLink(owner);
      const pauper = Wallet.createRandom(provider);
      const error = await failureOf(sendTransaction("transfer", () => link.connect(pauper).transfer(owner.address, 0n)));
      // anvil's words name neither the sender nor its balance; the signed transaction names the sender.
      expect(expectChainError(error, "InsufficientFunds").shortMessage).to.equal(`account ${pauper.address} has too little ETH; it needs gas to send transfer.`);
    });
  });
});
