import { AbiCoder, type SigningKey } from "ethers";

import type { Common } from "../common.js";
import { failpoint } from "../failpoints.js";
import { ConfigError, errorMessage, isRetryable } from "../errors.js";
import type { SignedTx, UnsignedTx } from "../eval/types.js";
import type { Job, JobStore, TxRecord } from "../store/jobStore.js";
import type { JobState } from "../store/states.js";
import { operatorInterface, RequestStatus, routerInterface } from "./abi.js";
import { RpcResponseError, toQuantity, type RpcBlock, type RpcClient, type RpcReceipt } from "./rpc.js";
import { encodeFulfilCalldata, type FulfilCall } from "./abiCodec.js";
import { signEip1559 } from "./eip1559.js";

/**
 * The one owner of the oracle account's nonce. It simulates every fulfilment (eth_call) before
 * signing, records signed transactions in the job store before broadcasting them (so a crash
 * re-sends the same bytes), broadcasts many in one JSON-RPC batch, watches for receipts,
 * replaces a stuck transaction at the same nonce with bumped fees, and resynchronises when the
 * key's nonce moved because someone else used it.
 */
export type TxManager = ReturnType<typeof createTxManager>;

export type OracleAccount = { address: string; signingKey: SigningKey };

export type CreateTxManagerParameters = {
  common: Common;
  rpc: RpcClient;
  store: JobStore;
  account: OracleAccount;
  chainId: bigint;
  operatorAddress: string;
  /** Called when a job reached a final state through a mined transaction (or was refused). */
  onSettled?: (job: Job, state: JobState) => void;
  /** Signs many transactions off the main thread (the worker pool); default: here, one by one. */
  signBatch?: (txs: UnsignedTx[]) => Promise<SignedTx[]>;
};

const GWEI = 1_000_000_000n;
/** Fee for a new transaction: twice the base fee (room for 6 full blocks of rises) plus the tip. */
const BASE_FEE_MULTIPLIER = 2n;
/** Wait before simulating again a fulfilment whose callback failed in simulation. */
const CALLBACK_FAILURE_RETRY_MS = 30_000;
/** Wait before simulating again after a simulation that failed for another reason. */
const SIMULATION_RETRY_MS = 2_000;
/** Operator revert reasons meaning the request is no longer open there (settled or cancelled). */
const REQUEST_CLOSED_REASONS = ["Must have a valid requestId", "Params do not match request ID"];

/** The callback payload IPredictionRouter.fulfilPrediction expects: a result, or a failure code and nothing else. */
export function fulfilmentOf(job: Pick<Job, "requestId" | "reasonCode" | "resultHash" | "resultUri">): FulfilCall["fulfilment"] {
  const failureCode = job.reasonCode ?? 0;
  return {
    requestId: job.requestId,
    failureCode,
    resultHash: failureCode === 0 ? (job.resultHash ?? ZERO_WORD) : ZERO_WORD,
    resultUri: failureCode === 0 ? (job.resultUri ?? "") : "",
    resultCiphertext: "0x",
  };
}

const ZERO_WORD = `0x${"00".repeat(32)}`;

function revertReason(error: unknown): string | undefined {
  if (!(error instanceof RpcResponseError)) return undefined;
  const data = typeof error.data === "string" ? error.data : (error.data as { data?: string } | undefined)?.data;
  if (typeof data === "string" && data.startsWith("0x08c379a0")) {
    try {
      return AbiCoder.defaultAbiCoder().decode(["string"], "0x" + data.slice(10))[0] as string;
    } catch {
      // fall through to the message
    }
  }
  return error.shortMessage;
}

export function createTxManager({ common, rpc, store, account, chainId, operatorAddress, onSettled, signBatch }: CreateTxManagerParameters) {
  const { settings, logger, metrics } = common;
  const maxFeeCap = BigInt(settings.MAX_FEE_PER_GAS_GWEI) * GWEI;
  const tip = BigInt(Math.round(settings.PRIORITY_FEE_GWEI * 1e9));
  const minBalance = BigInt(settings.MIN_BALANCE_WEI);
  let nextNonce = 0;
  let lowBalance = false;
  let lastBalance: bigint | undefined;
  let lock: Promise<unknown> = Promise.resolve();

  /** Nonce-touching work runs one piece at a time. */
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = lock.then(fn, fn);
    lock = run.catch(() => undefined);
    return run;
  }

  function fulfilCalldata(job: Job): string {
    const r = job.request;
    return encodeFulfilCalldata({
      requestId: r.requestId, payment: BigInt(r.payment), callbackAddress: r.callbackAddr, callbackFunctionId: r.callbackFunctionId,
      expiration: BigInt(r.cancelExpiration), fulfilment: fulfilmentOf(job),
    });
  }

  function sign(nonce: number, data: string, maxFeePerGas: bigint, maxPriorityFeePerGas: bigint): { raw: string; hash: string } {
    return signEip1559({ chainId, nonce, to: operatorAddress, data, gasLimit: BigInt(settings.FULFIL_GAS_LIMIT), maxFeePerGas, maxPriorityFeePerGas }, account.signingKey);
  }

  async function currentFees(): Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> {
    return feesFor(await rpc.request<RpcBlock>("eth_getBlockByNumber", ["latest", false]));
  }

  function feesFor(block: RpcBlock): { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint } {
    const baseFee = BigInt(block.baseFeePerGas ?? "0x0");
    let maxFeePerGas = baseFee * BASE_FEE_MULTIPLIER + tip;
    if (maxFeePerGas > maxFeeCap) maxFeePerGas = maxFeeCap;
    return { maxFeePerGas, maxPriorityFeePerGas: tip < maxFeePerGas ? tip : maxFeePerGas };
  }

  async function chainNonce(tag: "latest" | "pending"): Promise<number> {
    return Number(await rpc.request<string>("eth_getTransactionCount", [account.address, tag]));
  }

  async function requestStatus(job: Job): Promise<number | undefined> {
    const router = job.request.callbackAddr;
    try {
      const data = await rpc.request<string>("eth_call", [{ to: router, data: routerInterface.encodeFunctionData("getRequest", [job.requestId]) }, "latest"]);
      const [request] = routerInterface.decodeFunctionResult("getRequest", data);
      return Number((request as { status: bigint }).status);
    } catch {
      return undefined;
    }
  }

  async function broadcast(raws: readonly { raw: string; hash: string; nonce: number }[], kind: "new" | "replacement" | "rebroadcast") {
    const results = await rpc.batch(raws.map((r) => ({ method: "eth_sendRawTransaction", params: [r.raw] })));
    metrics.txSent.inc({ kind }, raws.length);
    let nonceTooLow = false;
    for (const [i, settled] of results.entries()) {
      if (settled.status === "fulfilled") continue;
      const message = errorMessage(settled.reason);
      if (/already known|already imported|known transaction/i.test(message)) continue;
      if (/nonce too low|nonce has already been used|NONCE_EXPIRED/i.test(message)) nonceTooLow = true;
      logger.warn({ hash: raws[i]?.hash, nonce: raws[i]?.nonce, err: message, kind }, "broadcast rejected; the monitor will resolve it");
    }
    return { nonceTooLow };
  }

  /** Brings the local nonce up to the chain's when the key was used elsewhere. */
  async function resyncNonce(reason: string): Promise<void> {
    const latest = await chainNonce("latest");
    const pendingOurs = store.pendingTxs().filter((t) => t.nonce >= latest);
    const highestOurs = pendingOurs.reduce((m, t) => Math.max(m, t.nonce + 1), 0);
    const target = Math.max(latest, highestOurs, nextNonce);
    if (latest > nextNonce) logger.warn({ local: nextNonce, chain: latest, reason }, "nonce moved by another sender; resynchronised");
    nextNonce = target;
    store.setNextNonce(nextNonce);
  }

  async function init(): Promise<void> {
    await exclusive(async () => {
      // The store's nonce and pending transactions belong to one account. After a key rotation
      // they must have settled first (see docs/oracle.md, "Rotate keys").
      const previous = store.getMeta("account");
      if (previous !== undefined && previous.toLowerCase() !== account.address.toLowerCase()) {
        if (store.pendingTxs().length > 0) {
          throw new ConfigError("The job store has unsettled transactions of another oracle account; start the previous key until oracle_tx_pending is 0", { previous, current: account.address });
        }
        store.setNextNonce(0);
        logger.warn({ previous, current: account.address }, "oracle account changed; nonce state reset");
      }
      store.setMeta("account", account.address);
      const latest = await chainNonce("latest");
      nextNonce = Math.max(store.getNextNonce() ?? 0, latest);
      const pending = store.pendingTxs().filter((t) => t.nonce >= latest);
      const newestPerNonce = new Map<number, TxRecord>();
      for (const tx of pending) newestPerNonce.set(tx.nonce, tx);
      if (newestPerNonce.size > 0) {
        logger.info({ count: newestPerNonce.size }, "re-sending transactions recorded before the last stop");
        await broadcast([...newestPerNonce.values()], "rebroadcast");
      }
      store.setNextNonce(nextNonce);
    });
  }

  /**
   * Simulates, signs, records and broadcasts fulfilments for jobs ready to submit. Jobs whose
   * request is already closed on-chain are refused; jobs whose simulation fails for a transient
   * reason are left for a later round. Returns the request ids sent.
   *
   * The simulation runs outside the nonce lock, so one batch can be simulated (on the node) while
   * the previous one is signed and broadcast; nonces are assigned, recorded and broadcast under
   * the lock, in order. The caller must not hand the same job to two calls at once (the store's
   * compare-and-set refuses the second record anyway, before anything is broadcast).
   */
  async function submit(jobs: readonly Job[]): Promise<string[]> {
    if (jobs.length === 0) return [];
    const started = performance.now();
    // Encoded once: the simulation and the transaction carry the same calldata.
    const calldata = new Map(jobs.map((job) => [job.requestId, fulfilCalldata(job)]));
    const calls = jobs.map((job) => ({
      method: "eth_call",
      params: [{ from: account.address, to: operatorAddress, data: calldata.get(job.requestId)!, gas: toQuantity(settings.FULFIL_GAS_LIMIT) }, "latest"],
    }));
    // Fees and every simulation in one round trip.
    const [latest, ...simulations] = await rpc.batch([{ method: "eth_getBlockByNumber", params: ["latest", false] }, ...calls]);
    const simulatedAt = performance.now();
    if (latest!.status === "rejected") throw latest!.reason;
    const fees = feesFor(latest!.value as RpcBlock);
    const ready: Job[] = [];
    for (const [i, job] of jobs.entries()) {
      const simulation = simulations[i]!;
      if (simulation.status === "fulfilled") {
        const [callbackOk] = operatorInterface.decodeFunctionResult("fulfillOracleRequest2", simulation.value as string);
        if (callbackOk) {
          ready.push(job);
        } else {
          // The Operator would take the request but the router's callback would revert: sending
          // would strand it. Hold it and say so; an operator has to look (gas limit, router).
          logger.error({ requestId: job.requestId }, "simulated fulfilment: the router callback failed; not sending");
          store.patch(job.requestId, job.state, { lastError: "router callback fails in simulation", nextAttemptAt: Date.now() + CALLBACK_FAILURE_RETRY_MS });
        }
        continue;
      }
      const reason = revertReason(simulation.reason);
      const status = reason !== undefined && REQUEST_CLOSED_REASONS.some((r) => reason.includes(r)) ? await requestStatus(job) : undefined;
      if (status !== undefined && status !== RequestStatus.Pending) {
        const refused = store.transition(job.requestId, ["confirmed", "fetched", "verified", "evaluated", "stored"], "refused", {
          lastError: `request already closed on-chain (router status ${status ?? "unknown"})`,
        });
        if (refused) {
          logger.warn({ requestId: job.requestId, status }, "request already settled or cancelled on-chain; not sending");
          onSettled?.(job, "refused");
        }
        continue;
      }
      if (!isRetryable(simulation.reason)) logger.error({ requestId: job.requestId, err: reason }, "fulfilment simulation reverted");
      store.patch(job.requestId, job.state, { lastError: reason ?? errorMessage(simulation.reason), nextAttemptAt: Date.now() + SIMULATION_RETRY_MS });
    }
    if (ready.length === 0) return [];
    return exclusive(() => signAndSend(ready, calldata, fees, started, simulatedAt));
  }

  async function signAndSend(ready: Job[], calldata: Map<string, string>, fees: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }, started: number, simulatedAt: number): Promise<string[]> {
    const lockedAt = performance.now();
    const unsigned: UnsignedTx[] = ready.map((job, i) => ({
      chainId: chainId.toString(), nonce: nextNonce + i, to: operatorAddress, data: calldata.get(job.requestId)!,
      gasLimit: String(settings.FULFIL_GAS_LIMIT), maxFeePerGas: fees.maxFeePerGas.toString(), maxPriorityFeePerGas: fees.maxPriorityFeePerGas.toString(),
    }));
    const signatures = signBatch && unsigned.length > 1
      ? await signBatch(unsigned)
      : unsigned.map((t) => sign(t.nonce, t.data, fees.maxFeePerGas, fees.maxPriorityFeePerGas));
    const signed = ready.map((job, i) => ({
      hash: signatures[i]!.hash, nonce: unsigned[i]!.nonce, raw: signatures[i]!.raw, requestId: job.requestId, sentAt: Date.now(),
      maxFeePerGas: fees.maxFeePerGas.toString(), maxPriorityFeePerGas: fees.maxPriorityFeePerGas.toString(),
    }));
    // Recorded before anything is broadcast; the nonce advances only once the record is in.
    store.recordSubmissions(signed, nextNonce + signed.length);
    nextNonce += signed.length;
    await failpoint("after:recorded");
    for (const s of signed) logger.info({ requestId: s.requestId, nonce: s.nonce, hash: s.hash }, "fulfilment sent");
    const signedAt = performance.now();
    const { nonceTooLow } = await broadcast(signed, "new");
    logger.debug({ count: signed.length, simulateMs: Math.round(simulatedAt - started), lockWaitMs: Math.round(lockedAt - simulatedAt), signMs: Math.round(signedAt - lockedAt), broadcastMs: Math.round(performance.now() - signedAt) }, "fulfilment batch sent");
    await failpoint("after:submitted");
    if (nonceTooLow) await resyncNonce("broadcast said nonce too low");
    return signed.map((s) => s.requestId);
  }

  function finalStateFromReceipt(receipt: RpcReceipt, job: Job): { state: JobState; note?: string } {
    for (const log of receipt.logs) {
      let parsed;
      try {
        parsed = routerInterface.parseLog({ topics: log.topics, data: log.data });
      } catch {
        continue;
      }
      if (!parsed || parsed.args[0] !== job.requestId) continue;
      if (parsed.name === "PredictionFulfilled") return { state: "fulfilled" };
      if (parsed.name === "PredictionFailed") return { state: "failed", note: `failureCode ${parsed.args[2]}` };
      if (parsed.name === "PredictionRefused") return { state: "failed", note: `refused by the router, code ${parsed.args[3]}` };
    }
    return { state: job.reasonCode === null ? "fulfilled" : "failed", note: "no router event in the receipt" };
  }

  /** One round of watching our transactions: receipts, dropped nonces, stuck ones, balance. */
  function monitor(): Promise<void> {
    return exclusive(async () => {
      const [count, balance] = await rpc.batch([
        { method: "eth_getTransactionCount", params: [account.address, "latest"] },
        { method: "eth_getBalance", params: [account.address, "latest"] },
      ]);
      if (count!.status === "rejected") throw count!.reason;
      if (balance!.status === "rejected") throw balance!.reason;
      const latestHex = count!.value as string;
      const balanceHex = balance!.value as string;
      const latest = Number(latestHex);
      trackBalance(BigInt(balanceHex));
      if (latest > nextNonce) await resyncNonce("chain nonce ahead of local");

      const pending = store.pendingTxs();
      metrics.txPending.set(new Set(pending.map((t) => t.nonce)).size);
      const settledNonces = pending.filter((t) => t.nonce < latest);
      if (settledNonces.length > 0) {
        const receipts = await rpc.batch(settledNonces.map((t) => ({ method: "eth_getTransactionReceipt", params: [t.hash] })));
        const byNonce = new Map<number, { tx: TxRecord; receipt: RpcReceipt | null }[]>();
        for (const [i, tx] of settledNonces.entries()) {
          const settled = receipts[i]!;
          if (settled.status === "rejected") throw settled.reason;
          const list = byNonce.get(tx.nonce) ?? [];
          list.push({ tx, receipt: settled.value as RpcReceipt | null });
          byNonce.set(tx.nonce, list);
        }
        for (const [nonce, list] of byNonce) {
          const mined = list.find((e) => e.receipt !== null);
          const requestId = list[0]!.tx.requestId;
          const job = store.getJob(requestId);
          if (mined && job) {
            const receipt = mined.receipt!;
            if (receipt.status === "0x1") {
              const { state, note } = finalStateFromReceipt(receipt, job);
              store.resolveMined(nonce, mined.tx.hash, requestId, state);
              if (note) store.patch(requestId, state, { lastError: note });
              metrics.requestToFulfilSeconds.observe((Date.now() - job.seenAt) / 1000);
              logger.info({ requestId, hash: mined.tx.hash, state, block: Number(receipt.blockNumber) }, "fulfilment mined");
              await failpoint(`after:${state}`);
              onSettled?.(job, state);
            } else {
              // Reverted: most likely settled by someone else first. Go round the submit step
              // again; its simulation decides between refusing and retrying.
              store.resolveDropped(nonce, requestId, "stored", { lastError: "fulfilment reverted" });
              logger.warn({ requestId, hash: mined.tx.hash }, "fulfilment reverted; re-simulating");
            }
          } else if (job) {
            store.resolveDropped(nonce, requestId, "stored", { lastError: "nonce taken by another transaction" });
            logger.warn({ requestId, nonce }, "our transaction's nonce was used by another transaction; re-submitting");
          }
        }
      }

      const stillPending = store.pendingTxs().filter((t) => t.nonce >= latest);
      // After a reorg the account's nonce can go back: nonces we used in dropped blocks are free
      // again. Never leave a gap below our next nonce, or every later transaction waits forever.
      const expected = Math.max(latest, ...stillPending.map((t) => t.nonce + 1));
      if (nextNonce > expected) {
        logger.warn({ local: nextNonce, chain: latest, expected }, "account nonce went back (reorg); lowering the next nonce");
        nextNonce = expected;
        store.setNextNonce(nextNonce);
      }

      const stuck = stillPending;
      const newest = new Map<number, TxRecord>();
      for (const tx of stuck) {
        const seen = newest.get(tx.nonce);
        if (!seen || tx.sentAt >= seen.sentAt) newest.set(tx.nonce, tx);
      }
      const due = [...newest.values()].filter((t) => Date.now() - t.sentAt >= settings.TX_STUCK_AFTER_MS);
      if (due.length > 0) await bump(due);
    });
  }

  async function bump(txs: readonly TxRecord[]): Promise<void> {
    const market = await currentFees();
    const replacements: (Omit<TxRecord, "status">)[] = [];
    for (const tx of txs) {
      const job = store.getJob(tx.requestId);
      if (!job || job.state !== "submitted") {
        // Its job started again after a reorg, but this nonce is ours and must be used: re-send
        // the same bytes (mined, it fulfils or reverts harmlessly; the job's new round sees that).
        await broadcast([tx], "rebroadcast");
        continue;
      }
      const factor = BigInt(100 + settings.GAS_BUMP_PERCENT);
      let maxFee = (BigInt(tx.maxFeePerGas) * factor + 99n) / 100n;
      let priority = (BigInt(tx.maxPriorityFeePerGas) * factor + 99n) / 100n;
      if (market.maxFeePerGas > maxFee) maxFee = market.maxFeePerGas;
      if (maxFee > maxFeeCap) maxFee = maxFeeCap;
      if (priority > maxFee) priority = maxFee;
      if (maxFee <= BigInt(tx.maxFeePerGas)) {
        // At the ceiling: re-send the same bytes in case the node forgot them.
        logger.warn({ requestId: tx.requestId, nonce: tx.nonce, cap: settings.MAX_FEE_PER_GAS_GWEI }, "transaction stuck at the fee ceiling");
        await broadcast([tx], "rebroadcast");
        continue;
      }
      const { raw, hash } = sign(tx.nonce, fulfilCalldata(job), maxFee, priority);
      replacements.push({ hash, raw, nonce: tx.nonce, requestId: tx.requestId, sentAt: Date.now(), maxFeePerGas: maxFee.toString(), maxPriorityFeePerGas: priority.toString() });
    }
    for (const r of replacements) store.recordReplacement(r);
    if (replacements.length > 0) {
      logger.warn({ count: replacements.length, nonces: replacements.map((r) => r.nonce), maxFeeGwei: Number(BigInt(replacements[0]!.maxFeePerGas) / GWEI) }, "replacing stuck transactions with bumped fees");
      await broadcast(replacements, "replacement");
    }
  }

  function trackBalance(balance: bigint): void {
    lastBalance = balance;
    metrics.balanceEth.set(Number(balance) / 1e18);
    const low = balance < minBalance;
    metrics.balanceLow.set(low ? 1 : 0);
    if (low && !lowBalance) logger.error({ address: account.address, balanceWei: balance.toString(), minWei: settings.MIN_BALANCE_WEI }, "oracle balance is low: fund the account");
    if (!low && lowBalance) logger.info({ balanceWei: balance.toString() }, "oracle balance back above the minimum");
    lowBalance = low;
  }

  return {
    init,
    submit,
    monitor,
    get nextNonce() {
      return nextNonce;
    },
    status: () => ({ nextNonce, lowBalance, balanceWei: lastBalance?.toString(), pending: store.pendingTxs().length }),
  };
}
