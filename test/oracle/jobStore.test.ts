import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";

import { createJobStore, type RequestLog } from "../../oracle/store/jobStore.js";

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

  it("records a log once: the same log again, also after reopening, is a no-op", function () {
    const file = path();
    let store = createJobStore({ path: file });
    expect(store.commitRange([requestLog(1, 10)], { blockNumber: 10, blockHash: hash(1010) }, 64)).to.deep.equal(["new"]);
    expect(store.commitRange([requestLog(1, 10)], { blockNumber: 10, blockHash: hash(1010) }, 64)).to.deep.equal(["duplicate"]);
    store.close();
    store = createJobStore({ path: file });
    expect(store.commitRange([requestLog(1, 10), requestLog(2, 11)], { blockNumber: 11, blockHash: hash(1011) }, 64)).to.deep.equal(["duplicate", "new"]);
    expect(store.countsByState().seen).to.equal(2);
    expect(store.getCursor()).to.deep.equal({ blockNumber: 11, blockHash: hash(1011) });
    store.close();
  });

  it("moves jobs through the state machine with compare-and-set only", function () {
    const store = createJobStore({ path: path() });
    store.commitRange([requestLog(1, 10)], { blockNumber: 10, blockHash: hash(1010) }, 64);
    expect(store.transition(hash(1), "confirmed", "fetched")).to.equal(false);
    expect(store.confirmUpTo(9)).to.equal(0);
    expect(store.confirmUpTo(10)).to.equal(1);
    expect(store.transition(hash(1), "confirmed", "fetched")).to.equal(true);
    expect(store.transition(hash(1), "confirmed", "fetched")).to.equal(false);
    expect(store.getJob(hash(1))?.state).to.equal("fetched");
    store.close();
  });

  it("forgets unsubmitted jobs of dropped blocks on rollback, keeps submitted ones, and restarts a reappearing one", function () {
    const store = createJobStore({ path: path() });
    store.commitRange([requestLog(1, 10), requestLog(2, 12), requestLog(3, 12, hash(1012), 1)], { blockNumber: 12, blockHash: hash(1012) }, 64);
    store.confirmUpTo(12);
    store.recordSubmissions([{ hash: hash(9), nonce: 0, requestId: hash(3), raw: "0x", maxFeePerGas: "1", maxPriorityFeePerGas: "1", sentAt: 0 }], 1);
    const dropped = store.rollbackTo({ blockNumber: 10, blockHash: hash(1010) });
    expect(dropped).to.deep.equal([hash(2)]);
    expect(store.getJob(hash(2))).to.equal(undefined);
    expect(store.getJob(hash(3))?.state).to.equal("submitted");
    expect(store.getCursor()?.blockNumber).to.equal(10);
    // The same requests come back in a different block of the new branch.
    const outcomes = store.commitRange([requestLog(2, 11, hash(2011)), requestLog(3, 11, hash(2011), 1)], { blockNumber: 11, blockHash: hash(2011) }, 64);
    expect(outcomes).to.deep.equal(["new", "moved"]);
    expect(store.getJob(hash(3))?.blockHash).to.equal(hash(2011));
    // Judged on the dropped branch: it starts again (the chain refuses a second fulfilment).
    expect(store.getJob(hash(3))?.state).to.equal("seen");
    expect(store.getJob(hash(3))?.nonce).to.equal(null);
    store.close();
  });

  it("records signed transactions and their jobs atomically, and resolves them by nonce", function () {
    const store = createJobStore({ path: path() });
    store.commitRange([requestLog(1, 10)], { blockNumber: 10, blockHash: hash(1010) }, 64);
    store.confirmUpTo(10);
    store.transition(hash(1), "confirmed", "stored", { resultHash: hash(77), resultUri: "u" });
    store.recordSubmissions([{ hash: hash(9), nonce: 4, requestId: hash(1), raw: "0xaa", maxFeePerGas: "10", maxPriorityFeePerGas: "1", sentAt: 1 }], 5);
    store.recordReplacement({ hash: hash(10), nonce: 4, requestId: hash(1), raw: "0xbb", maxFeePerGas: "13", maxPriorityFeePerGas: "2", sentAt: 2 });
    expect(store.getNextNonce()).to.equal(5);
    expect(store.txsOfNonce(4).map((t) => t.hash)).to.deep.equal([hash(9), hash(10)]);
    store.resolveMined(4, hash(10), hash(1), "fulfilled");
    expect(store.getJob(hash(1))?.state).to.equal("fulfilled");
    expect(store.getJob(hash(1))?.fulfilTxHash).to.equal(hash(10));
    expect(store.pendingTxs()).to.deep.equal([]);
    store.close();
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
    store.setMeta("account", previous.address);
    store.commitRange([requestLog(1, 10)], { blockNumber: 10, blockHash: hash(1010) }, 64);
    store.confirmUpTo(10);
    store.recordSubmissions([{ hash: hash(9), nonce: 0, requestId: hash(1), raw: "0x", maxFeePerGas: "1", maxPriorityFeePerGas: "1", sentAt: 0 }], 1);
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
    store.close();
  });
});
