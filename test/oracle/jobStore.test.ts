import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";

import { createJobStore, JobStoreError, type RequestLog } from "../../oracle/store/jobStore.js";

const hash = (n: number) => `0x${n.toString(16).padStart(64, "0")}`;

function requestLog(id: number, block: number, blockHash = hash(1000 + block), logIndex = 0): RequestLog {
  return {
    blockNumber: block, blockHash, logIndex, transactionHash: hash(5000 + id),
    request: {
      requestId: hash(id), specId: hash(0), requester: "0x" + "11".repeat(20), payment: "1", callbackAddr: "0x" + "11".repeat(20),
      callbackFunctionId: "0x12345678", cancelExpiration: "100", dataVersion: "2", data: "0x",
      prediction: { patient: "0x" + "22".repeat(20), modelId: 1, requester: "0x" + "22".repeat(20), inputHash: hash(7), inputUri: "u", keysHash: hash(8) },
    },
  };
}

describe("oracle job store", function () {
  const path = () => join(mkdtempSync(join(tmpdir(), "oracle-store-")), "oracle.db");

  it("records a log once: the same log again, also after reopening, is a no-op", async function () {
    const file = path();
    let store = createJobStore({ path: file });
    expect(await store.commitRange([requestLog(1, 10)], { blockNumber: 10, blockHash: hash(1010) }, 64)).to.deep.equal(["new"]);
    expect(await store.commitRange([requestLog(1, 10)], { blockNumber: 10, blockHash: hash(1010) }, 64)).to.deep.equal(["duplicate"]);
    await store.close();
    store = createJobStore({ path: file });
    expect(await store.commitRange([requestLog(1, 10), requestLog(2, 11)], { blockNumber: 11, blockHash: hash(1011) }, 64)).to.deep.equal(["duplicate", "new"]);
    expect((await store.countsByState()).seen).to.equal(2);
    expect(await store.getCursor()).to.deep.equal({ blockNumber: 11, blockHash: hash(1011) });
    await store.close();
  });

  it("moves jobs through the state machine with compare-and-set only", async function () {
    const store = createJobStore({ path: path() });
    await store.commitRange([requestLog(1, 10)], { blockNumber: 10, blockHash: hash(1010) }, 64);
    expect(await store.transition(hash(1), "confirmed", "fetched")).to.equal(false);
    expect(await store.confirmUpTo(9)).to.equal(0);
    expect(await store.confirmUpTo(10)).to.equal(1);
    expect(await store.transition(hash(1), "confirmed", "fetched")).to.equal(true);
    expect(await store.transition(hash(1), "confirmed", "fetched")).to.equal(false);
    expect((await store.getJob(hash(1)))?.state).to.equal("fetched");
    await store.close();
  });

  it("forgets every job of dropped blocks on rollback, keeps the progress of a re-included identical request, and restarts a changed one", async function () {
    const store = createJobStore({ path: path() });
    await store.commitRange([requestLog(1, 10), requestLog(2, 12), requestLog(3, 12, hash(1012), 1)], { blockNumber: 12, blockHash: hash(1012) }, 64);
    await store.confirmUpTo(12);
    await store.recordSubmissions([{ hash: hash(9), nonce: 0, requestId: hash(3), raw: "0x", maxFeePerGas: "1", maxPriorityFeePerGas: "1", sentAt: 0 }], 1);
    const { dropped } = await store.rollbackTo({ blockNumber: 10, blockHash: hash(1010) });
    // The submitted one too: its request is not on the chain until its log reappears.
    expect(dropped.sort()).to.deep.equal([hash(2), hash(3)]);
    expect(await store.getJob(hash(3))).to.equal(undefined);
    // Its transaction stays recorded (the transaction manager treats it as an orphan).
    expect((await store.pendingTxs()).map((t) => t.hash)).to.deep.equal([hash(9)]);
    expect((await store.getCursor())?.blockNumber).to.equal(10);
    expect(await store.commitRange([requestLog(2, 11, hash(2011)), requestLog(3, 11, hash(2011), 1)], { blockNumber: 11, blockHash: hash(2011) }, 64)).to.deep.equal(["new", "new"]);

    // A request id seen again elsewhere without a rollback in between: same content keeps its
    // progress, other content (request ids are a counter) starts again.
    await store.confirmUpTo(11);
    await store.transition(hash(2), "confirmed", "stored", { resultHash: hash(77) });
    expect(await store.commitRange([requestLog(2, 13, hash(2013))], { blockNumber: 13, blockHash: hash(2013) }, 64)).to.deep.equal(["moved"]);
    expect((await store.getJob(hash(2)))?.state).to.equal("stored");
    const changed = requestLog(2, 14, hash(2014));
    changed.request.prediction.inputHash = hash(70);
    expect(await store.commitRange([changed], { blockNumber: 14, blockHash: hash(2014) }, 64)).to.deep.equal(["moved"]);
    expect((await store.getJob(hash(2)))?.state).to.equal("seen");
    expect((await store.getJob(hash(2)))?.request.prediction.inputHash).to.equal(hash(70));
    await store.close();
  });

  it("re-opens a job whose fulfilment was mined in a block a reorg dropped (the request's block survived)", async function () {
    const store = createJobStore({ path: path() });
    await store.commitRange([requestLog(1, 10)], { blockNumber: 10, blockHash: hash(1010) }, 64);
    await store.confirmUpTo(10);
    await store.transition(hash(1), "confirmed", "stored", { resultHash: hash(77), resultUri: "u" });
    await store.recordSubmissions([{ hash: hash(9), nonce: 0, requestId: hash(1), raw: "0xaa", maxFeePerGas: "1", maxPriorityFeePerGas: "1", sentAt: 0 }], 1);
    await store.resolveMined(0, hash(9), hash(1), "fulfilled", 11);
    expect((await store.getJob(hash(1)))?.state).to.equal("fulfilled");
    const { reopened } = await store.rollbackTo({ blockNumber: 10, blockHash: hash(1010) });
    expect(reopened).to.deep.equal([hash(1)]);
    expect((await store.getJob(hash(1)))?.state).to.equal("submitted");
    expect((await store.pendingTxs()).map((t) => t.hash)).to.deep.equal([hash(9)]);
    await store.close();
  });

  it("records a re-signed transaction with the same hash idempotently (no UNIQUE constraint failed: txs.hash)", async function () {
    const store = createJobStore({ path: path() });
    await store.commitRange([requestLog(1, 10)], { blockNumber: 10, blockHash: hash(1010) }, 64);
    await store.confirmUpTo(10);
    await store.transition(hash(1), "confirmed", "stored", { resultHash: hash(77), resultUri: "u" });
    const tx = { hash: hash(9), nonce: 0, requestId: hash(1), raw: "0xaa", maxFeePerGas: "1", maxPriorityFeePerGas: "1", sentAt: 0 };
    await store.recordSubmissions([tx], 1);
    // The nonce was judged taken; the job goes round again and is signed at the same nonce and fees.
    await store.resolveDropped(0, hash(1), "stored", "nonce taken by another transaction");
    expect((await store.getJob(hash(1)))?.state).to.equal("stored");
    await store.recordSubmissions([{ ...tx, sentAt: 5 }], 1);
    expect((await store.getJob(hash(1)))?.state).to.equal("submitted");
    expect(await store.pendingTxs()).to.have.length(1);
    await store.recordReplacement({ ...tx, sentAt: 6 });
    expect(await store.pendingTxs()).to.have.length(1);
    await store.close();
  });

  it("keeps the txs table bounded: settled records below the history horizon are deleted", async function () {
    const store = createJobStore({ path: path() });
    for (let n = 0; n < 10; n++) {
      await store.recordReplacement({ hash: hash(100 + n), nonce: n, requestId: "", raw: "0x", maxFeePerGas: "1", maxPriorityFeePerGas: "1", sentAt: 0 });
      await store.recordReplacement({ hash: hash(200 + n), nonce: n, requestId: "", raw: "0x", maxFeePerGas: "2", maxPriorityFeePerGas: "1", sentAt: 1 });
      await store.resolveMined(n, hash(200 + n), "", "fulfilled", 1);
    }
    expect(await store.txCount()).to.equal(20);
    await store.pruneTxs(8, 8);
    expect(await store.txCount()).to.equal(4);
    await store.close();
  });

  it("names the path when the data directory cannot be used", async function () {
    // A regular file where the directory should be: no one (root included) can create the store.
    const dir = mkdtempSync(join(tmpdir(), "oracle-store-"));
    const blocker = join(dir, "not-a-dir");
    writeFileSync(blocker, "x");
    const file = join(blocker, "oracle.db");
    expect(() => createJobStore({ path: file })).to.throw(JobStoreError, file);
  });

  it("records signed transactions and their jobs atomically, and resolves them by nonce", async function () {
    const store = createJobStore({ path: path() });
    await store.commitRange([requestLog(1, 10)], { blockNumber: 10, blockHash: hash(1010) }, 64);
    await store.confirmUpTo(10);
    await store.transition(hash(1), "confirmed", "stored", { resultHash: hash(77), resultUri: "u" });
    await store.recordSubmissions([{ hash: hash(9), nonce: 4, requestId: hash(1), raw: "0xaa", maxFeePerGas: "10", maxPriorityFeePerGas: "1", sentAt: 1 }], 5);
    await store.recordReplacement({ hash: hash(10), nonce: 4, requestId: hash(1), raw: "0xbb", maxFeePerGas: "13", maxPriorityFeePerGas: "2", sentAt: 2 });
    expect(await store.getNextNonce()).to.equal(5);
    expect((await store.txsOfNonce(4)).map((t) => t.hash)).to.deep.equal([hash(9), hash(10)]);
    await store.resolveMined(4, hash(10), hash(1), "fulfilled", 11);
    expect((await store.getJob(hash(1)))?.state).to.equal("fulfilled");
    expect((await store.getJob(hash(1)))?.fulfilTxHash).to.equal(hash(10));
    expect(await store.pendingTxs()).to.deep.equal([]);
    await store.close();
  });
});

describe("oracle transaction manager start-up", function () {
  it("refuses another account while the store holds unsettled transactions of the previous one", async function () {
    const { Wallet } = await import("ethers");
    const { createTxManager } = await import("../../oracle/chain/txManager.js");
    const { createRpcClient } = await import("../../oracle/chain/rpc.js");
    const { createLogger } = await import("../../oracle/logger.js");
    const { createMetrics } = await import("../../oracle/metrics.js");
    const { createShutdown } = await import("../../oracle/shutdown.js");
    const { loadSettings } = await import("../../oracle/config/settings.js");
    const { ConfigError } = await import("../../oracle/errors.js");
    const previous = Wallet.createRandom();
    const next = Wallet.createRandom();
    const store = createJobStore({ path: join(mkdtempSync(join(tmpdir(), "oracle-store-")), "oracle.db") });
    await store.setMeta("account", previous.address);
    await store.commitRange([requestLog(1, 10)], { blockNumber: 10, blockHash: hash(1010) }, 64);
    await store.confirmUpTo(10);
    await store.recordSubmissions([{ hash: hash(9), nonce: 0, requestId: hash(1), raw: "0x", maxFeePerGas: "1", maxPriorityFeePerGas: "1", sentAt: 0 }], 1);
    const settings = loadSettings({ env: {}, overrides: { PRIVATE_KEY: next.privateKey, GATEWAY_ADDRESS: previous.address, LOG_LEVEL: "silent" } });
    const common = { settings, logger: createLogger({ level: "silent" }), metrics: createMetrics(), shutdown: createShutdown() };
    // No RPC is reached: the check comes first.
    const rpc = createRpcClient({ url: "http://127.0.0.1:9", timeoutMs: 200 });
    const manager = createTxManager({ common, rpc, store, account: { address: next.address, signingKey: next.signingKey }, chainId: 31337n, operatorAddress: previous.address });
    let thrown: unknown;
    try {
      await manager.init();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).to.be.instanceOf(ConfigError);
    await store.close();
  });

  it("does nothing in a round that gets its turn after the nonce state stopped being this replica's (canSend)", async function () {
    const { Wallet } = await import("ethers");
    const { createTxManager } = await import("../../oracle/chain/txManager.js");
    const { createRpcClient } = await import("../../oracle/chain/rpc.js");
    const { createLogger } = await import("../../oracle/logger.js");
    const { createMetrics } = await import("../../oracle/metrics.js");
    const { createShutdown } = await import("../../oracle/shutdown.js");
    const { loadSettings } = await import("../../oracle/config/settings.js");
    const account = Wallet.createRandom();
    const store = createJobStore({ path: join(mkdtempSync(join(tmpdir(), "oracle-store-")), "oracle.db") });
    const settings = loadSettings({ env: {}, overrides: { PRIVATE_KEY: account.privateKey, GATEWAY_ADDRESS: account.address, LOG_LEVEL: "silent" } });
    const common = { settings, logger: createLogger({ level: "silent" }), metrics: createMetrics(), shutdown: createShutdown() };
    // Nothing listens here: a round that reaches the RPC fails.
    const rpc = createRpcClient({ url: "http://127.0.0.1:9", timeoutMs: 200 });
    let ours = false;
    const manager = createTxManager({ common, rpc, store, account: { address: account.address, signingKey: account.signingKey }, chainId: 31337n, operatorAddress: account.address, canSend: () => ours });
    await manager.monitor();
    ours = true;
    let thrown: unknown;
    try {
      await manager.monitor();
    } catch (error) {
      thrown = error;
    }
    expect(thrown, "with the lease, the round reaches the (unreachable) RPC").to.not.equal(undefined);
    await store.close();
  });
});
