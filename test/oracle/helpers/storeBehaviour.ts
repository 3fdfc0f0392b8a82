/**
 * Behaviour every job store must have (SQLite and Postgres), run against each by
 * test/oracle/pgJobStore.test.ts: shared behaviour functions, as OpenZeppelin's
 * shouldBehaveLikeAccessControl().
 */
import { expect } from "chai";

import type { JobStore, RequestLog } from "../../../oracle/store/types.js";

export const hash = (n: number) => `0x${n.toString(16).padStart(64, "0")}`;

export function requestLog(id: number, block: number, blockHash = hash(1000 + block), logIndex = 0): RequestLog {
  return {
    blockNumber: block, blockHash, logIndex, transactionHash: hash(5000 + id),
    request: {
      requestId: hash(id), specId: hash(0), requester: "0x" + "11".repeat(20), payment: "1", callbackAddr: "0x" + "11".repeat(20),
      callbackFunctionId: "0x12345678", cancelExpiration: "100", dataVersion: "2", data: "0x",
      prediction: { patient: "0x" + "22".repeat(20), modelId: 1, requester: "0x" + "22".repeat(20), inputHash: hash(7), inputUri: "u", keysHash: hash(8) },
    },
  };
}

export function shouldBehaveLikeAJobStore(open: () => Promise<JobStore>): void {
  it("records a log once and moves the cursor in the same step", async function () {
    const store = await open();
    expect(await store.commitRange([requestLog(1, 10)], { blockNumber: 10, blockHash: hash(1010) }, 64)).to.deep.equal(["new"]);
    expect(await store.commitRange([requestLog(1, 10), requestLog(2, 11)], { blockNumber: 11, blockHash: hash(1011) }, 64)).to.deep.equal(["duplicate", "new"]);
    expect((await store.countsByState()).seen).to.equal(2);
    expect(await store.getCursor()).to.deep.equal({ blockNumber: 11, blockHash: hash(1011) });
    await store.close();
  });

  it("moves jobs with compare-and-set only, and patches without changing the state", async function () {
    const store = await open();
    await store.commitRange([requestLog(1, 10)], { blockNumber: 10, blockHash: hash(1010) }, 64);
    expect(await store.transition(hash(1), "confirmed", "fetched")).to.equal(false);
    expect(await store.confirmUpTo(9)).to.equal(0);
    expect(await store.confirmUpTo(10)).to.equal(1);
    expect(await store.dueJobIds(10)).to.deep.equal([hash(1)]);
    expect(await store.transition(hash(1), ["confirmed", "fetched"], "fetched", { lastError: "x" })).to.equal(true);
    expect(await store.transition(hash(1), "confirmed", "fetched")).to.equal(false);
    expect(await store.patch(hash(1), "fetched", { attempts: 3, nextAttemptAt: Date.now() + 60_000 })).to.equal(true);
    const job = await store.getJob(hash(1));
    expect(job).to.include({ state: "fetched", attempts: 3, lastError: "x" });
    expect(job?.request.prediction.inputHash).to.equal(hash(7));
    expect(await store.dueJobIds(10), "a job waiting for its retry time is not due").to.deep.equal([]);
    await store.close();
  });

  it("forgets dropped blocks on rollback and re-opens a fulfilment mined in one", async function () {
    const store = await open();
    await store.commitRange([requestLog(1, 10), requestLog(2, 12)], { blockNumber: 12, blockHash: hash(1012) }, 64);
    await store.confirmUpTo(12);
    await store.transition(hash(1), "confirmed", "stored", { resultHash: hash(77), resultUri: "u" });
    await store.recordSubmissions([{ hash: hash(9), nonce: 0, requestId: hash(1), raw: "0xaa", maxFeePerGas: "1", maxPriorityFeePerGas: "1", sentAt: 0 }], 1);
    await store.resolveMined(0, hash(9), hash(1), "fulfilled", 11);
    expect((await store.getJob(hash(1)))?.state).to.equal("fulfilled");
    const generation = store.generation();
    const { dropped, reopened } = await store.rollbackTo({ blockNumber: 10, blockHash: hash(1010) });
    expect(store.generation()).to.equal(generation + 1);
    expect(dropped).to.deep.equal([hash(2)]);
    expect(reopened).to.deep.equal([hash(1)]);
    expect((await store.getJob(hash(1)))?.state).to.equal("submitted");
    expect((await store.pendingTxs()).map((t) => t.hash)).to.deep.equal([hash(9)]);
    expect((await store.getCursor())?.blockNumber).to.equal(10);
    expect((await store.ringAtOrBelow(100)).map((c) => c.blockNumber)).to.deep.equal([10]);
    await store.close();
  });

  it("re-opens a quorum vote (`voted`) mined in a dropped block, as it does a fulfilment", async function () {
    const store = await open();
    await store.commitRange([requestLog(1, 10)], { blockNumber: 12, blockHash: hash(1012) }, 64);
    await store.confirmUpTo(12);
    await store.transition(hash(1), "confirmed", "stored", { resultHash: hash(77), resultUri: "u" });
    await store.recordSubmissions([{ hash: hash(9), nonce: 0, requestId: hash(1), raw: "0xaa", maxFeePerGas: "1", maxPriorityFeePerGas: "1", sentAt: 0 }], 1);
    await store.resolveMined(0, hash(9), hash(1), "voted", 11, "vote counted");
    expect((await store.getJob(hash(1)))?.state).to.equal("voted");
    expect((await store.countsByState()).voted).to.equal(1);
    const { reopened } = await store.rollbackTo({ blockNumber: 10, blockHash: hash(1010) });
    expect(reopened).to.deep.equal([hash(1)]);
    expect((await store.getJob(hash(1)))?.state).to.equal("submitted");
    expect((await store.pendingTxs()).map((t) => t.hash)).to.deep.equal([hash(9)]);
    await store.close();
  });

  it("records submissions atomically: a job that left the submit step fails the whole batch", async function () {
    const store = await open();
    await store.commitRange([requestLog(1, 10), requestLog(2, 10, hash(1010), 1)], { blockNumber: 10, blockHash: hash(1010) }, 64);
    await store.confirmUpTo(10);
    await store.transition(hash(2), "confirmed", "fulfilled");
    const txs = [1, 2].map((n) => ({ hash: hash(90 + n), nonce: n, requestId: hash(n), raw: "0x", maxFeePerGas: "1", maxPriorityFeePerGas: "1", sentAt: 0 }));
    let code: string | undefined;
    try {
      await store.recordSubmissions(txs, 3);
    } catch (error) {
      code = (error as { code?: string }).code;
    }
    expect(code).to.equal("ORACLE_JOB_RACE");
    expect(await store.pendingTxs()).to.deep.equal([]);
    expect((await store.getJob(hash(1)))?.state).to.equal("confirmed");
    expect(await store.getNextNonce()).to.equal(undefined);
    await store.close();
  });

  it("resolves transactions by nonce: replacements, drops, pruning and meta", async function () {
    const store = await open();
    await store.commitRange([requestLog(1, 10)], { blockNumber: 10, blockHash: hash(1010) }, 64);
    await store.confirmUpTo(10);
    await store.transition(hash(1), "confirmed", "stored");
    await store.recordSubmissions([{ hash: hash(9), nonce: 4, requestId: hash(1), raw: "0xaa", maxFeePerGas: "10", maxPriorityFeePerGas: "1", sentAt: 1 }], 5);
    await store.recordReplacement({ hash: hash(10), nonce: 4, requestId: hash(1), raw: "0xbb", maxFeePerGas: "13", maxPriorityFeePerGas: "2", sentAt: 2 });
    expect(await store.getNextNonce()).to.equal(5);
    expect((await store.txsOfNonce(4)).map((t) => t.hash)).to.deep.equal([hash(9), hash(10)]);
    expect((await store.getJob(hash(1)))?.fulfilTxHash).to.equal(hash(10));
    await store.resolveDropped(4, hash(1), "stored", "nonce taken");
    expect(await store.getJob(hash(1))).to.include({ state: "stored", nonce: null, lastError: "nonce taken" });
    expect((await store.jobsInState("stored")).map((j) => j.requestId)).to.deep.equal([hash(1)]);
    expect(await store.pruneTxs(5, 5)).to.equal(2);
    expect(await store.txCount()).to.equal(0);
    await store.setMeta("account", "0xabc");
    expect(await store.getMeta("account")).to.equal("0xabc");
    expect(await store.getMeta("missing")).to.equal(undefined);
    await store.close();
  });
}
