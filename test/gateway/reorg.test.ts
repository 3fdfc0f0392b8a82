import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

import { expect } from "chai";
import { ContractFactory, hexlify, JsonRpcProvider, randomBytes, Wallet, ZeroAddress, ZeroHash, type InterfaceAbi } from "ethers";

import { startAnvil, type AnvilHandle } from "../../deploy/anvil.js";
import { createChainAccessPolicy } from "../../gateway/chainPolicy.js";
import { ForbiddenError } from "../../gateway/errors.js";
import { connectContracts } from "../../protocol/contracts.js";

const ARTIFACT = fileURLToPath(new URL("../../artifacts/contracts/identity/IdentityRegistry.sol/IdentityRegistry.json", import.meta.url));

describe("gateway: chain views across a reorg (anvil, real block replacement)", function () {
  this.timeout(120_000);
  let anvil: AnvilHandle;
  let provider: JsonRpcProvider;

  before(async function () {
    anvil = await startAnvil({ accounts: 3 });
    // cacheTimeout -1: ethers would otherwise reuse call results for 250 ms.
    provider = new JsonRpcProvider(anvil.url, undefined, { cacheTimeout: -1 });
  });
  after(async function () {
    provider.destroy();
    await anvil.stop();
  });

  it("drops views cached for a block a same-height reorg replaced, so the gateway never judges against a dropped branch", async function () {
    const deployer = await provider.getSigner(0);
    const artifact = JSON.parse(await readFile(ARTIFACT, "utf8")) as { abi: InterfaceAbi; bytecode: string };
    const identity = await new ContractFactory(artifact.abi, artifact.bytecode, deployer).deploy(0, await deployer.getAddress());
    await identity.waitForDeployment();
    const address = await identity.getAddress();
    const contracts = connectContracts({
      IdentityRegistry: address, ConsentManager: ZeroAddress, RecordRegistry: ZeroAddress, ModelRegistry: ZeroAddress, PredictionRouter: ZeroAddress, AuditLogAnchor: ZeroAddress, PrivacyGroups: ZeroAddress, Semaphore: ZeroAddress,
    }, provider);
    const policy = createChainAccessPolicy({ contracts, provider, blockNumberTtlMs: 0 });

    // The patient's registration, signed but not sent: the reorg will include it.
    const funder = await provider.getSigner(1);
    const patient = Wallet.createRandom().connect(provider);
    await (await funder.sendTransaction({ to: patient.address, value: 10n ** 18n })).wait();
    const register = await contracts.identity.connect(patient).getFunction("registerPatient")
      .populateTransaction(hexlify(randomBytes(32)), hexlify(randomBytes(32)), "medcipher://blob/keys", hexlify(randomBytes(32)));
    const raw = await patient.signTransaction(await patient.populateTransaction({ ...register, gasLimit: 500_000n }));

    await anvil.rpc("evm_mine");
    const height = await provider.getBlockNumber();
    const write = { signer: patient.address, owner: patient.address, blobId: ZeroHash as `0x${string}`, kind: "record" as const, category: 0, purpose: 0, ref: ZeroHash };
    const before = await policy.authorizeWrite(write).then(() => undefined, (e: unknown) => e);
    expect(before).to.be.instanceOf(ForbiddenError); // not registered on this branch

    // Replace the head block with one, at the same height, that registers the patient.
    const dropped = (await provider.getBlock(height))!.hash;
    await anvil.reorg(1, [[raw, 0]]);
    const replaced = (await provider.getBlock(height))!;
    expect(await provider.getBlockNumber()).to.equal(height);
    expect(replaced.hash).to.not.equal(dropped);
    expect(await contracts.identity.isPatient!(patient.address)).to.equal(true);

    expect(await policy.authorizeWrite(write)).to.equal("owner");
  });
});
