/**
 * Item 2 of issue 9 on a chain that really replaces blocks (anvil): two requests mined in one
 * block are re-included in the other order at the same height. With counter-based Chainlink
 * request ids the fulfilment signed for the first request on the dropped branch landed on the
 * second one (another patient's input); with content-derived ids it lands on its own request.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";

import { expect } from "chai";
import { network } from "hardhat";
import { HDNodeWallet, Mnemonic } from "ethers";

import { ANVIL_MNEMONIC, startAnvil, type AnvilHandle } from "../../deploy/anvil.js";
import { encodeFulfilment, jobsFromReceipt, type OracleJob } from "../../deploy/prediction.js";
import { RequestStatus } from "../../protocol/codes.js";
import { Category, DAY, Purpose, blobUri, categoryBit, deploySuite, randomHash, registerPatient, type Suite } from "./fixtures.js";

/** A chain id of its own: Ignition journals deployments per chain id under deploy/deployments/. */
const CHAIN_ID = 31_998;
const JOURNAL = join(import.meta.dirname, "..", "..", "deploy", "deployments", `chain-${CHAIN_ID}`);

function devWallet(index: number): HDNodeWallet {
  return HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(ANVIL_MNEMONIC), `m/44'/60'/0'/0/${index}`);
}

describe("PredictionRouter across a same-height reorg (anvil)", function () {
  this.timeout(120_000);
  let anvil: AnvilHandle;
  let suite: Suite;

  before(async function () {
    rmSync(JOURNAL, { recursive: true, force: true });
    anvil = await startAnvil({ chainId: CHAIN_ID });
    const connection = await network.connect({ network: "localhost", override: { url: anvil.url, chainId: CHAIN_ID } });
    suite = await deploySuite(connection);
    await registerPatient(suite, suite.actors.patient);
    await registerPatient(suite, suite.actors.otherPatient);
  });

  after(async function () {
    await anvil?.stop();
    rmSync(JOURNAL, { recursive: true, force: true });
  });

  async function signedRequest(wallet: HDNodeWallet, inputHash: string, patient = wallet.address): Promise<string> {
    const provider = suite.router.runner!.provider!;
    const { chainId } = await provider.getNetwork();
    const fees = await provider.getFeeData();
    return wallet.signTransaction({
      to: suite.addresses.PredictionRouter,
      data: suite.router.interface.encodeFunctionData("requestPrediction", [patient, 1, inputHash, blobUri(inputHash)]),
      nonce: await provider.getTransactionCount(wallet.address),
      gasLimit: 600_000n,
      maxFeePerGas: fees.maxFeePerGas! * 2n,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas!,
      chainId,
      type: 2,
    });
  }

  /** Mines the raw transactions into one block, in this order; returns their hashes. */
  async function mineTogether(raws: string[]): Promise<string[]> {
    await anvil.rpc("evm_setAutomine", [false]);
    const hashes: string[] = [];
    for (const raw of raws) hashes.push(await anvil.rpc<string>("eth_sendRawTransaction", [raw]));
    await anvil.rpc("evm_mine");
    await anvil.rpc("evm_setAutomine", [true]);
    return hashes;
  }

  function fulfilAs(job: OracleJob) {
    const resultHash = randomHash();
    const data = encodeFulfilment({ requestId: job.requestId, resultHash, resultUri: blobUri(resultHash) });
    return suite.operator
      .connect(suite.actors.oracle)
      .fulfillOracleRequest2(job.requestId, job.payment, job.callbackAddress, job.callbackFunctionId, job.expiration, data, { gasLimit: 2_000_000 });
  }

  async function jobOf(txHash: string): Promise<OracleJob> {
    const receipt = await suite.router.runner!.provider!.getTransactionReceipt(txHash);
    const [job] = jobsFromReceipt(receipt!, suite.addresses.Operator, suite.addresses.PredictionRouter);
    if (!job) throw new Error(`no job in ${txHash}`);
    return job;
  }

  it("a fulfilment signed on the dropped branch lands only on the request with the very same input", async function () {
    const [alice, bob] = [devWallet(2), devWallet(3)];
    expect(alice.address).to.equal(suite.actors.patient.address);
    expect(bob.address).to.equal(suite.actors.otherPatient.address);
    const [aliceInput, bobInput] = [randomHash(), randomHash()];
    const [aliceRaw, bobRaw] = [await signedRequest(alice, aliceInput), await signedRequest(bob, bobInput)];

    // One block: Alice's request, then Bob's.
    const [aliceTx, bobTx] = (await mineTogether([aliceRaw, bobRaw])) as [string, string];
    const aliceJob = await jobOf(aliceTx);
    const bobJob = await jobOf(bobTx);
    const before = await suite.router.runner!.provider!.getTransactionReceipt(aliceTx);

    // The same height again, Bob's request first (as the oracle saw Alice's first).
    await anvil.reorg(1, [[bobRaw, 0], [aliceRaw, 0]]);
    const after = await suite.router.runner!.provider!.getTransactionReceipt(aliceTx);
    expect(after!.blockNumber).to.equal(before!.blockNumber);
    expect(after!.blockHash).to.not.equal(before!.blockHash);
    expect(after!.index).to.be.greaterThan((await suite.router.runner!.provider!.getTransactionReceipt(bobTx))!.index);

    // The oracle re-sends what it signed for Alice's request on the dropped branch.
    await (await fulfilAs(aliceJob)).wait();

    const fulfilled = await suite.router.getRequest(aliceJob.requestId);
    expect(fulfilled.status).to.equal(BigInt(RequestStatus.Fulfilled));
    expect(fulfilled.patient).to.equal(alice.address);
    expect(fulfilled.inputHash).to.equal(aliceInput);
    // Bob's request kept its own id and is still waiting for its own result.
    const bobState = await suite.router.getRequest(bobJob.requestId);
    expect(bobState.patient).to.equal(bob.address);
    expect(bobState.inputHash).to.equal(bobInput);
    expect(bobState.status).to.equal(BigInt(RequestStatus.Pending));
  });

  it("when one patient's requests are re-ordered, the fulfilment signed on the dropped branch finds no request and reverts harmlessly", async function () {
    const [alice, provider] = [devWallet(2), devWallet(4)];
    expect(provider.address).to.equal(suite.actors.provider.address);
    const now = BigInt((await suite.router.runner!.provider!.getBlock("latest"))!.timestamp);
    await (await suite.consent.connect(suite.actors.patient).grantConsent(provider.address, Purpose.TREATDS, categoryBit(Category.PREDICTION), 0, now + DAY)).wait();
    const [byProvider, byAlice] = [randomHash(), randomHash()];
    const providerRaw = await signedRequest(provider, byProvider, alice.address);
    const aliceRaw = await signedRequest(alice, byAlice);
    const [providerTx, aliceTx] = await mineTogether([providerRaw, aliceRaw]);
    const providerJob = await jobOf(providerTx!);
    const aliceJob = await jobOf(aliceTx!);

    await anvil.reorg(1, [[aliceRaw, 0], [providerRaw, 0]]);
    // Each request moved to the other's place in Alice's sequence, so each has a new id.
    const providerAgain = await jobOf(providerTx!);
    const aliceAgain = await jobOf(aliceTx!);
    expect(providerAgain.requestId).to.not.equal(providerJob.requestId);
    expect(aliceAgain.requestId).to.not.equal(aliceJob.requestId);
    expect(aliceAgain.requestId).to.not.equal(providerJob.requestId);

    for (const old of [providerJob, aliceJob]) {
      await expect(fulfilAs(old)).to.be.revertedWith("Must have a valid requestId");
      expect((await suite.router.getRequest(old.requestId)).status).to.equal(BigInt(RequestStatus.None));
    }
    // The requests under their new ids are untouched and get their own results.
    for (const [job, inputHash] of [[providerAgain, byProvider], [aliceAgain, byAlice]] as const) {
      expect((await suite.router.getRequest(job.requestId)).inputHash).to.equal(inputHash);
      await (await fulfilAs(job)).wait();
      expect((await suite.router.getRequest(job.requestId)).status).to.equal(BigInt(RequestStatus.Fulfilled));
    }
  });
});
