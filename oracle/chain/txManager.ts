import type { EventFragment, Interface, Result, SigningKey } from "ethers";

import type { Common } from "../common.js";
import { decodeRevert, describeRevert } from "../../protocol/revert.js";
import { byzantineResultHash, failpoint } from "../failpoints.js";
import { ConfigError, errorMessage, isRetryable } from "../errors.js";
import type { SignedTx, UnsignedTx } from "../eval/types.js";
import { FILLER_REQUEST_ID, type Job, type JobStore, type TxRecord } from "../store/jobStore.js";
import type { JobState } from "../store/states.js";
import { jobStateOfClosedRequest, operatorInterface, quorumInterface, RequestStatus, routerInterface } from "./abi.js";
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
  /**
   * Whether the nonce state in memory is still this daemon's to use (replicas: it holds the nonce
   * lease at the epoch `init` ran for). Checked when a queued send or monitor round gets its turn,
   * since the lease may have moved while it waited: such a round does nothing (the jobs stay
   * stored) instead of signing at nonces another replica now owns. Default: always.
   */
  canSend?: () => boolean;
};

const GWEI = 1_000_000_000n;
/** Fee for a new transaction: twice the base fee (room for 6 full blocks of rises) plus the tip. */
const BASE_FEE_MULTIPLIER = 2n;
/** Wait before simulating again a fulfilment whose callback failed in simulation. */
const CALLBACK_FAILURE_RETRY_MS = 30_000;
/** Wait before simulating again after a simulation that failed for another reason. */
const SIMULATION_RETRY_MS = 2_000;
/**
 * A nonce the chain has used while none of our records there has a receipt: wait this long before
 * concluding another transaction took it. A lagging RPC replica answers null for a receipt that
 * is mined (measured in the issue-9 fault campaign: 28 of 40 jobs misjudged at once).
 */
export const NONCE_TAKEN_AFTER_MS = 10_000;
/**
 * Settled transaction records are kept this many nonces below the account's nonce (a reorg that
 * re-opens a fulfilment needs its record), then deleted: the table stays bounded.
 */
export const TX_HISTORY_NONCES = 64;
/** Gas of a self-transfer that only consumes a nonce. */
const FILLER_GAS_LIMIT = 21_000n;
/**
 * Operator revert reasons meaning the request is no longer open there (settled or cancelled); the
 * OracleQuorum's UnknownRequest means cancelled (a final request still takes votes, as late ones).
 */
const REQUEST_CLOSED_REASONS = ["Must have a valid requestId", "Params do not match request ID", "UnknownRequest("];
/** The OracleQuorum already counted this operator's vote: our part is done, whoever sent it. */
const ALREADY_VOTED_REASON = "AlreadyVoted(";

/** What one of our mined fulfilments did on an OracleQuorum (none on a Chainlink Operator). */
type VoteOutcome = "finalised" | "counted" | "late";

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

/**
 * Each interface's events by topic, computed once. ethers' parseLog finds the event by hashing
 * every event signature of the ABI again for each log (EventFragment.topicHash is not cached):
 * with the quorum's receipts that was the daemon's largest single cost under load.
 */
const eventsByTopic = new WeakMap<Interface, Map<string, EventFragment>>();

function eventOf(iface: Interface, topic: string | undefined): EventFragment | undefined {
  let events = eventsByTopic.get(iface);
  if (!events) {
    events = new Map();
    iface.forEachEvent((event) => events!.set(event.topicHash, event));
    eventsByTopic.set(iface, events);
  }
  return topic === undefined ? undefined : events.get(topic.toLowerCase());
}

/** `log` parsed against `iface`; undefined when it is none of its events. */
function parseLogWith(iface: Interface, log: { topics: readonly string[]; data: string }): { name: string; args: Result } | undefined {
  const event = eventOf(iface, log.topics[0]);
  if (!event) return undefined;
  try {
    return { name: event.name, args: iface.decodeEventLog(event, log.data, log.topics) };
  } catch {
    return undefined;
  }
}

/** The simulation's revert, decoded against every contract's errors (Operator require strings included). */
function revertReason(error: unknown): string | undefined {
  if (!(error instanceof RpcResponseError)) return undefined;
  const revert = decodeRevert(error);
  return revert ? describeRevert(revert) : error.shortMessage;
}

export function createTxManager({ common, rpc, store, account, chainId, operatorAddress, onSettled, signBatch, canSend = () => true }: CreateTxManagerParameters) {
  const { settings, logger, metrics } = common;
  const maxFeeCap = BigInt(settings.MAX_FEE_PER_GAS_GWEI) * GWEI;
  const tip = BigInt(Math.round(settings.PRIORITY_FEE_GWEI * 1e9));
  const minBalance = BigInt(settings.MIN_BALANCE_WEI);
  const bumpFactor = BigInt(100 + settings.GAS_BUMP_PERCENT);
  let nextNonce = 0;
  /** Pending transaction records as last counted (status() must not wait on the store). */
  let pendingCount = 0;
  /** The account's nonce on the chain ("latest"), as last read. */
  let chainNonce = 0;
  let lowBalance = false;
  let lastBalance: bigint | undefined;
  let lock: Promise<unknown> = Promise.resolve();
  /** Nonces the chain used while none of our records there had a receipt, since when. */
  const missingReceiptSince = new Map<number, number>();
  /** Nonces with no live transaction below our highest, since when (filled after a grace). */
  const holeSince = new Map<number, number>();
  /** Nonces already warned about at the fee ceiling (one warning each, not one per round). */
  const warnedAtCeiling = new Set<number>();

  /** Nonce-touching work runs one piece at a time. */
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = lock.then(fn, fn);
    lock = run.catch(() => undefined);
    return run;
  }

  function fulfilCalldata(job: Job): string {
    const r = job.request;
    const fulfilment = fulfilmentOf(job);
    return encodeFulfilCalldata({
      requestId: r.requestId, payment: BigInt(r.payment), callbackAddress: r.callbackAddr, callbackFunctionId: r.callbackFunctionId,
      expiration: BigInt(r.cancelExpiration),
      // The quorum tests' Byzantine operator (off unless ORACLE_BYZANTINE is set).
      fulfilment: fulfilment.failureCode === 0 ? { ...fulfilment, resultHash: byzantineResultHash(fulfilment.resultHash) } : fulfilment,
    });
  }

  function sign(nonce: number, data: string, maxFeePerGas: bigint, maxPriorityFeePerGas: bigint): { raw: string; hash: string } {
    return signEip1559({ chainId, nonce, to: operatorAddress, data, gasLimit: BigInt(settings.FULFIL_GAS_LIMIT), maxFeePerGas, maxPriorityFeePerGas }, account.signingKey);
  }

  /** A self-transfer of nothing: consumes `nonce` and replaces whatever an orphan left there. */
  function signFiller(nonce: number, maxFeePerGas: bigint, maxPriorityFeePerGas: bigint): { raw: string; hash: string } {
    return signEip1559({ chainId, nonce, to: account.address, data: "0x", gasLimit: FILLER_GAS_LIMIT, maxFeePerGas, maxPriorityFeePerGas }, account.signingKey);
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

  /**
   * Fees for a transaction at `nonce`: the market's, raised above every earlier transaction of
   * ours at that nonce (an orphan may still sit in a mempool; a node replaces it only for a bump).
   */
  async function feesAt(nonce: number, market: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }): Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> {
    let { maxFeePerGas, maxPriorityFeePerGas } = market;
    for (const earlier of await store.txsOfNonce(nonce)) {
      const fee = (BigInt(earlier.maxFeePerGas) * bumpFactor + 99n) / 100n;
      const priority = (BigInt(earlier.maxPriorityFeePerGas) * bumpFactor + 99n) / 100n;
      if (fee > maxFeePerGas) maxFeePerGas = fee;
      if (priority > maxPriorityFeePerGas) maxPriorityFeePerGas = priority;
    }
    if (maxFeePerGas > maxFeeCap) maxFeePerGas = maxFeeCap;
    if (maxPriorityFeePerGas > maxFeePerGas) maxPriorityFeePerGas = maxFeePerGas;
    return { maxFeePerGas, maxPriorityFeePerGas };
  }

  async function chainNonceOf(tag: "latest" | "pending"): Promise<number> {
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

  /**
   * A record is live when something still waits on it: its job is `submitted` at its nonce, or
   * it is a filler. Any other pending record is an orphan (its job was forgotten or started again
   * after a reorg): it is never re-sent — its bytes may answer a request whose content changed —
   * and its nonce counts as a hole, filled by a replacement at higher fees.
   */
  async function isLive(tx: TxRecord): Promise<boolean> {
    if (tx.requestId === FILLER_REQUEST_ID) return true;
    const job = await store.getJob(tx.requestId);
    return job !== undefined && job.state === "submitted" && job.nonce === tx.nonce;
  }

  /** The live records among `txs`, in their order. */
  async function liveOf(txs: readonly TxRecord[]): Promise<TxRecord[]> {
    const live = await Promise.all(txs.map(isLive));
    return txs.filter((_, i) => live[i]);
  }

  /**
   * Lowers the next nonce to the chain's when nothing of ours holds the nonces in between (a
   * reorg took the account's nonce back), and returns the holes below it: nonces at or above the
   * chain's with no live transaction. New transactions take the holes first, so the next nonce
   * follows the chain whichever of the monitor and the re-sent jobs runs first.
   */
  async function nonceHoles(latest: number): Promise<number[]> {
    const pending = (await store.pendingTxs()).filter((t) => t.nonce >= latest);
    const expected = Math.max(latest, ...pending.map((t) => t.nonce + 1));
    if (nextNonce > expected) {
      logger.warn({ local: nextNonce, chain: latest, expected }, "account nonce went back (reorg); lowering the next nonce");
      nextNonce = expected;
      await store.setNextNonce(nextNonce);
    }
    const live = new Set((await liveOf(pending)).map((t) => t.nonce));
    const holes: number[] = [];
    for (let n = latest; n < nextNonce; n++) if (!live.has(n)) holes.push(n);
    return holes;
  }

  async function broadcast(raws: readonly { raw: string; hash: string; nonce: number }[], kind: "new" | "replacement" | "rebroadcast" | "filler") {
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
    const latest = await chainNonceOf("latest");
    chainNonce = latest;
    const pendingOurs = (await store.pendingTxs()).filter((t) => t.nonce >= latest);
    const highestOurs = pendingOurs.reduce((m, t) => Math.max(m, t.nonce + 1), 0);
    const target = Math.max(latest, highestOurs, nextNonce);
    if (latest > nextNonce) logger.warn({ local: nextNonce, chain: latest, reason }, "nonce moved by another sender; resynchronised");
    nextNonce = target;
    await store.setNextNonce(nextNonce);
  }

  /**
   * `takeover`: another replica recorded these transactions (it held the nonce lease and died).
   * Before its recorded fulfilments are re-sent, each request is checked on-chain: one closed since
   * (cancelled) is not re-sent; its job goes back through the submit step, whose simulation takes
   * the chain's verdict, and its nonce is a hole the next transaction fills.
   */
  async function init({ takeover = false }: { takeover?: boolean } = {}): Promise<void> {
    await exclusive(async () => {
      // The store's nonce and pending transactions belong to one account. After a key rotation
      // they must have settled first (see docs/oracle.md, "Rotate keys").
      const previous = await store.getMeta("account");
      if (previous !== undefined && previous.toLowerCase() !== account.address.toLowerCase()) {
        if ((await store.pendingTxs()).length > 0) {
          throw new ConfigError("The job store has unsettled transactions of another oracle account; start the previous key until oracle_tx_pending is 0", { previous, current: account.address });
        }
        await store.setNextNonce(0);
        logger.warn({ previous, current: account.address }, "oracle account changed; nonce state reset");
      }
      await store.setMeta("account", account.address);
      const latest = await chainNonceOf("latest");
      chainNonce = latest;
      // Only live transactions are re-sent: an orphan's bytes may answer a changed request.
      const recorded = await store.pendingTxs();
      // A nonce a recorded transaction holds is in use even if the stored next nonce says
      // otherwise (as in resyncNonce): the next batch starts above all three.
      nextNonce = Math.max((await store.getNextNonce()) ?? 0, latest, ...recorded.filter((t) => t.nonce >= latest).map((t) => t.nonce + 1));
      pendingCount = recorded.length;
      const pending = await liveOf(recorded.filter((t) => t.nonce >= latest));
      const newestPerNonce = new Map<number, TxRecord>();
      for (const tx of pending) newestPerNonce.set(tx.nonce, tx);
      if (takeover) for (const nonce of await closedOnChain([...newestPerNonce.values()])) newestPerNonce.delete(nonce);
      if (newestPerNonce.size > 0) {
        logger.info({ count: newestPerNonce.size }, "re-sending transactions recorded before the last stop");
        await broadcast([...newestPerNonce.values()], "rebroadcast");
      }
      await store.setNextNonce(nextNonce);
    });
  }

  /** The nonces among `txs` whose request is no longer pending on-chain; their jobs are sent back to `stored` (re-simulated). */
  async function closedOnChain(txs: readonly TxRecord[]): Promise<number[]> {
    const closed: number[] = [];
    for (const tx of txs) {
      const job = await waitingJob(tx);
      if (!job) continue;
      const status = await requestStatus(job);
      if (status === undefined || status === RequestStatus.Pending) continue;
      await store.resolveDropped(tx.nonce, job.requestId, "stored", `request closed on-chain (router status ${status}) before the recorded fulfilment was sent; not re-sent`);
      logger.warn({ requestId: job.requestId, nonce: tx.nonce, status }, "request closed on-chain since the previous nonce owner recorded its fulfilment; not re-sending it");
      closed.push(tx.nonce);
    }
    return closed;
  }

  /** Records a request closed on-chain before we sent, in the state the chain gives it. */
  async function closeJob(job: Job, status: number, from: readonly JobState[]): Promise<void> {
    const state = jobStateOfClosedRequest(status);
    const closed = await store.transition(job.requestId, from, state, { lastError: `request already closed on-chain (router status ${status}); nothing sent` });
    if (closed) {
      logger.warn({ requestId: job.requestId, status, state }, "request already settled or cancelled on-chain; not sending");
      onSettled?.(job, state);
    }
  }

  /**
   * An OracleQuorum refused our vote as a duplicate (an earlier transaction of ours was mined and
   * the job went back to the submit step, a reorg, a restored store, or the same key elsewhere):
   * the vote counts once, so the job is done here; it is never re-sent.
   */
  async function markVoted(job: Job, note: string): Promise<void> {
    const voted = await store.transition(job.requestId, ["confirmed", "fetched", "verified", "evaluated", "stored"], "voted", { lastError: note });
    if (voted) {
      metrics.quorumVotes.inc({ outcome: "already" });
      logger.info({ requestId: job.requestId }, "the quorum already has our vote; job done");
      onSettled?.(job, "voted");
    }
  }

  /**
   * Simulates, signs, records and broadcasts fulfilments for jobs ready to submit. Jobs whose
   * request is already closed on-chain take the chain's verdict; jobs whose simulation fails for
   * a transient reason are left for a later round. Returns the request ids sent.
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
    // Fees, the account's nonce and every simulation in one round trip.
    const [latest, count, ...simulations] = await rpc.batch([
      { method: "eth_getBlockByNumber", params: ["latest", false] },
      { method: "eth_getTransactionCount", params: [account.address, "latest"] },
      ...calls,
    ]);
    const simulatedAt = performance.now();
    if (latest!.status === "rejected") throw latest!.reason;
    if (count!.status === "rejected") throw count!.reason;
    const fees = feesFor(latest!.value as RpcBlock);
    const accountNonce = Number(count!.value as string);
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
          await store.patch(job.requestId, job.state, { lastError: "router callback fails in simulation", nextAttemptAt: Date.now() + CALLBACK_FAILURE_RETRY_MS });
        }
        continue;
      }
      const reason = revertReason(simulation.reason);
      if (reason?.includes(ALREADY_VOTED_REASON)) {
        await markVoted(job, "the quorum already counts this operator's vote; nothing sent");
        continue;
      }
      const status = reason !== undefined && REQUEST_CLOSED_REASONS.some((r) => reason.includes(r)) ? await requestStatus(job) : undefined;
      if (status !== undefined && status !== RequestStatus.Pending) {
        await closeJob(job, status, ["confirmed", "fetched", "verified", "evaluated", "stored"]);
        continue;
      }
      if (!isRetryable(simulation.reason)) logger.error({ requestId: job.requestId, err: reason }, "fulfilment simulation reverted");
      await store.patch(job.requestId, job.state, { lastError: reason ?? errorMessage(simulation.reason), nextAttemptAt: Date.now() + SIMULATION_RETRY_MS });
    }
    if (ready.length === 0) return [];
    return exclusive(() => signAndSend(ready, calldata, fees, accountNonce, started, simulatedAt));
  }

  async function signAndSend(ready: Job[], calldata: Map<string, string>, market: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }, accountNonce: number, started: number, simulatedAt: number): Promise<string[]> {
    const lockedAt = performance.now();
    if (!canSend()) {
      logger.warn({ count: ready.length }, "nonce lease moved while this batch waited: not sending it (its jobs stay stored)");
      return [];
    }
    // Read in the same round trip as the simulation: after a reorg it can be lower than what the
    // monitor saw last, and the holes below our next nonce must follow it. But it can also be
    // stale: while this batch waited for the lock, an earlier batch may have been sent, mined and
    // resolved by the monitor, whose records then no longer pend. Below what the monitor has seen,
    // those nonces would look free (holes, or "the nonce went back") and be signed again: "nonce
    // too low", and the jobs stuck until NONCE_TAKEN_AFTER_MS. So below it, read it again here.
    chainNonce = accountNonce >= chainNonce ? accountNonce : await chainNonceOf("latest");
    const holes = await nonceHoles(chainNonce);
    const nonces = ready.map((_, i) => (i < holes.length ? holes[i]! : nextNonce + (i - holes.length)));
    const after = Math.max(nextNonce, ...nonces.map((n) => n + 1));
    const unsigned: UnsignedTx[] = await Promise.all(ready.map(async (job, i) => {
      const fees = await feesAt(nonces[i]!, market);
      return {
        chainId: chainId.toString(), nonce: nonces[i]!, to: operatorAddress, data: calldata.get(job.requestId)!,
        gasLimit: String(settings.FULFIL_GAS_LIMIT), maxFeePerGas: fees.maxFeePerGas.toString(), maxPriorityFeePerGas: fees.maxPriorityFeePerGas.toString(),
      };
    }));
    const signatures = signBatch && unsigned.length > 1
      ? await signBatch(unsigned)
      : unsigned.map((t) => sign(t.nonce, t.data, BigInt(t.maxFeePerGas), BigInt(t.maxPriorityFeePerGas)));
    const signed = ready.map((job, i) => ({
      hash: signatures[i]!.hash, nonce: unsigned[i]!.nonce, raw: signatures[i]!.raw, requestId: job.requestId, sentAt: Date.now(),
      maxFeePerGas: unsigned[i]!.maxFeePerGas, maxPriorityFeePerGas: unsigned[i]!.maxPriorityFeePerGas,
    }));
    // Recorded before anything is broadcast; the nonce advances only once the record is in.
    await store.recordSubmissions(signed, after);
    nextNonce = after;
    pendingCount += signed.length;
    for (const s of signed) holeSince.delete(s.nonce);
    await failpoint("after:recorded");
    for (const s of signed) logger.info({ requestId: s.requestId, nonce: s.nonce, hash: s.hash }, "fulfilment sent");
    const signedAt = performance.now();
    // In nonce order, so a node accepts each one after the one before.
    const { nonceTooLow } = await broadcast([...signed].sort((a, b) => a.nonce - b.nonce), "new");
    logger.debug({ count: signed.length, holesFilled: Math.min(holes.length, signed.length), simulateMs: Math.round(simulatedAt - started), lockWaitMs: Math.round(lockedAt - simulatedAt), signMs: Math.round(signedAt - lockedAt), broadcastMs: Math.round(performance.now() - signedAt) }, "fulfilment batch sent");
    await failpoint("after:submitted");
    if (nonceTooLow) await resyncNonce("broadcast said nonce too low");
    return signed.map((s) => s.requestId);
  }

  /**
   * The job's final state from its mined fulfilment. A router event means the request was settled
   * by this transaction (through the Operator, or our vote completed an OracleQuorum's k). With no
   * router event, the quorum's events say what our vote did: counted short of k, or late (the
   * others had finalised) — both `voted`, our part done.
   */
  function finalStateFromReceipt(receipt: RpcReceipt, job: Job): { state: JobState; note?: string; vote?: VoteOutcome } {
    let vote: VoteOutcome | undefined;
    for (const log of receipt.logs) {
      const parsed = parseLogWith(quorumInterface, log);
      if (!parsed || parsed.args[0] !== job.requestId) continue;
      if (parsed.name === "QuorumUnreachable") {
        // The operators' results differ so much that k can no longer agree: for a deterministic
        // evaluation that means a misconfiguration (most often PRIVATE_MODEL_MASK_KEY not shared
        // by every operator of a private model) or a faulty operator. The request will expire.
        logger.error({ requestId: job.requestId, leading: String(parsed.args[1]), remaining: String(parsed.args[2]), k: String(parsed.args[3]) }, "quorum unreachable: the operators' result hashes disagree; check that every operator runs the same model and the same PRIVATE_MODEL_MASK_KEY");
      } else if (parsed.name === "QuorumReached") vote = "finalised";
      else if (parsed.name === "LateVote") vote = "late";
      else if (parsed.name === "VoteCast") vote ??= "counted";
    }
    for (const log of receipt.logs) {
      const parsed = parseLogWith(routerInterface, log);
      if (!parsed || parsed.args[0] !== job.requestId) continue;
      const finalised = vote && { vote: "finalised" as const };
      if (parsed.name === "PredictionFulfilled") return { state: "fulfilled", ...finalised };
      if (parsed.name === "PredictionFailed") return { state: "failed", note: `failureCode ${parsed.args[2]}`, ...finalised };
      if (parsed.name === "PredictionRefused") return { state: "failed", note: `refused by the router, code ${parsed.args[3]}`, ...finalised };
    }
    if (vote === "counted") return { state: "voted", note: "vote counted; the quorum needs more votes", vote };
    if (vote === "late") return { state: "voted", note: "late vote: the quorum had finalised the request", vote };
    return { state: job.reasonCode === null ? "fulfilled" : "failed", note: "no router event in the receipt", ...(vote ? { vote } : {}) };
  }

  /** The job waiting on `tx` (submitted at its nonce), if any. */
  async function waitingJob(tx: TxRecord): Promise<Job | undefined> {
    if (tx.requestId === FILLER_REQUEST_ID) return undefined;
    const job = await store.getJob(tx.requestId);
    return job && job.state === "submitted" && job.nonce === tx.nonce ? job : undefined;
  }

  /**
   * Resolves the nonces the chain has used. A fulfilment counts once the follower has passed its
   * block and it has CONFIRMATIONS blocks (a reorg dropping that block later re-opens the job);
   * a nonce used with no receipt for any of our records is judged "taken" only after
   * NONCE_TAKEN_AFTER_MS (a lagging replica answers null for mined receipts).
   */
  async function resolveUsedNonces(used: TxRecord[], head: number, generation: number): Promise<boolean> {
    const receipts = await rpc.batch(used.map((t) => ({ method: "eth_getTransactionReceipt", params: [t.hash] })));
    // A reorg was handled while we read: these receipts may belong to the dropped branch.
    if (store.generation() !== generation) return false;
    const byNonce = new Map<number, { tx: TxRecord; receipt: RpcReceipt | null }[]>();
    for (const [i, tx] of used.entries()) {
      const settled = receipts[i]!;
      if (settled.status === "rejected") throw settled.reason;
      const list = byNonce.get(tx.nonce) ?? [];
      list.push({ tx, receipt: settled.value as RpcReceipt | null });
      byNonce.set(tx.nonce, list);
    }
    const cursor = (await store.getCursor())?.blockNumber ?? -1;
    for (const [nonce, list] of byNonce) {
      const mined = list.find((e) => e.receipt !== null);
      if (!mined) {
        const since = missingReceiptSince.get(nonce) ?? Date.now();
        missingReceiptSince.set(nonce, since);
        if (Date.now() - since < NONCE_TAKEN_AFTER_MS) continue;
        missingReceiptSince.delete(nonce);
        const waiting = (await Promise.all(list.map((e) => waitingJob(e.tx)))).find((j) => j !== undefined);
        await store.resolveDropped(nonce, waiting?.requestId ?? FILLER_REQUEST_ID, "stored", "nonce taken by another transaction");
        if (waiting) logger.warn({ requestId: waiting.requestId, nonce }, "our transaction's nonce was used by another transaction; re-submitting");
        continue;
      }
      missingReceiptSince.delete(nonce);
      const receipt = mined.receipt!;
      const block = Number(receipt.blockNumber);
      if (block > cursor || head - block + 1 < settings.CONFIRMATIONS) continue;
      const job = await waitingJob(mined.tx);
      const others = (await Promise.all(list.map((e) => waitingJob(e.tx)))).filter((j): j is Job => j !== undefined && j.requestId !== mined.tx.requestId);
      if (receipt.status === "0x1") {
        const outcome = job ? finalStateFromReceipt(receipt, job) : undefined;
        await store.resolveMined(nonce, mined.tx.hash, mined.tx.requestId, outcome?.state ?? "fulfilled", block, outcome?.note);
        if (job && outcome) {
          metrics.requestToFulfilSeconds.observe((Date.now() - job.seenAt) / 1000);
          if (outcome.vote) metrics.quorumVotes.inc({ outcome: outcome.vote });
          logger.info({ requestId: job.requestId, hash: mined.tx.hash, state: outcome.state, block, ...(outcome.vote ? { vote: outcome.vote } : {}) }, "fulfilment mined");
          await failpoint(`after:${outcome.state}`);
          onSettled?.(job, outcome.state);
        }
      } else {
        // Reverted: most likely settled by someone else first. Go round the submit step again;
        // its simulation decides between taking the chain's verdict and retrying.
        await store.resolveDropped(nonce, mined.tx.requestId, "stored", "fulfilment reverted");
        if (job) logger.warn({ requestId: job.requestId, hash: mined.tx.hash }, "fulfilment reverted; re-simulating");
      }
      // A job whose transaction lost its nonce to another of ours (an orphan mined first).
      for (const other of new Map(others.map((j) => [j.requestId, j])).values()) {
        await store.resolveDropped(nonce, other.requestId, "stored", "nonce used by another of our transactions");
        logger.warn({ requestId: other.requestId, nonce }, "nonce used by another of our transactions; re-submitting");
      }
    }
    return true;
  }

  /** One round of watching our transactions: receipts, dropped nonces, holes, stuck ones, balance. */
  function monitor(): Promise<void> {
    return exclusive(async () => {
      if (!canSend()) return;
      const generation = store.generation();
      const [count, balance, blockNumber] = await rpc.batch([
        { method: "eth_getTransactionCount", params: [account.address, "latest"] },
        { method: "eth_getBalance", params: [account.address, "latest"] },
        { method: "eth_blockNumber", params: [] },
      ]);
      for (const settled of [count, balance, blockNumber]) if (settled!.status === "rejected") throw settled!.reason;
      const latest = Number((count as PromiseFulfilledResult<string>).value);
      const head = Number((blockNumber as PromiseFulfilledResult<string>).value);
      trackBalance(BigInt((balance as PromiseFulfilledResult<string>).value));
      chainNonce = latest;
      if (latest > nextNonce) await resyncNonce("chain nonce ahead of local");

      const pending = await store.pendingTxs();
      pendingCount = pending.length;
      metrics.txPending.set(new Set(pending.map((t) => t.nonce)).size);
      const used = pending.filter((t) => t.nonce < latest);
      if (used.length > 0 && !(await resolveUsedNonces(used, head, generation))) return;
      for (const nonce of missingReceiptSince.keys()) if (nonce >= latest) missingReceiptSince.delete(nonce);

      // Holes (reorg-freed nonces below our highest, orphans' nonces) block everything above
      // them: fill what no new fulfilment took within TX_STUCK_AFTER_MS with a self-transfer.
      const holes = await nonceHoles(latest);
      for (const n of holeSince.keys()) if (!holes.includes(n)) holeSince.delete(n);
      for (const n of holes) if (!holeSince.has(n)) holeSince.set(n, Date.now());
      const dueHoles = holes.filter((n) => Date.now() - holeSince.get(n)! >= settings.TX_STUCK_AFTER_MS);
      if (dueHoles.length > 0) await fillHoles(dueHoles);

      const live = await liveOf((await store.pendingTxs()).filter((t) => t.nonce >= latest));
      const newest = new Map<number, TxRecord>();
      for (const tx of live) {
        const seen = newest.get(tx.nonce);
        if (!seen || tx.sentAt >= seen.sentAt) newest.set(tx.nonce, tx);
      }
      const due = [...newest.values()].filter((t) => Date.now() - t.sentAt >= settings.TX_STUCK_AFTER_MS);
      if (due.length > 0) await bump(due, latest);
      await store.pruneTxs(latest - TX_HISTORY_NONCES, latest - TX_HISTORY_NONCES);
    });
  }

  async function fillHoles(holes: readonly number[]): Promise<void> {
    const market = await currentFees();
    const fillers = await Promise.all(holes.map(async (nonce) => {
      const fees = await feesAt(nonce, market);
      const { raw, hash } = signFiller(nonce, fees.maxFeePerGas, fees.maxPriorityFeePerGas);
      return { hash, raw, nonce, requestId: FILLER_REQUEST_ID, sentAt: Date.now(), maxFeePerGas: fees.maxFeePerGas.toString(), maxPriorityFeePerGas: fees.maxPriorityFeePerGas.toString() };
    }));
    for (const f of fillers) {
      await store.recordReplacement(f);
      holeSince.delete(f.nonce);
    }
    logger.warn({ nonces: holes }, "filling nonce gaps left by a reorg with self-transfers (no fulfilment took them)");
    await broadcast(fillers, "filler");
  }

  /**
   * Re-sends stuck live transactions. Only the one at the account's nonce is held back by its
   * fees; the others wait for it, so they are re-sent unchanged unless the market moved above
   * their fee. At the ceiling the same bytes are re-sent (once warned per nonce).
   */
  async function bump(txs: readonly TxRecord[], latest: number): Promise<void> {
    const market = await currentFees();
    const replacements: (Omit<TxRecord, "status">)[] = [];
    const unchanged: TxRecord[] = [];
    for (const tx of txs) {
      const job = await waitingJob(tx);
      if (tx.nonce !== latest && BigInt(tx.maxFeePerGas) >= market.maxFeePerGas) {
        unchanged.push(tx);
        continue;
      }
      let maxFee = (BigInt(tx.maxFeePerGas) * bumpFactor + 99n) / 100n;
      let priority = (BigInt(tx.maxPriorityFeePerGas) * bumpFactor + 99n) / 100n;
      if (market.maxFeePerGas > maxFee) maxFee = market.maxFeePerGas;
      if (maxFee > maxFeeCap) maxFee = maxFeeCap;
      if (priority > maxFee) priority = maxFee;
      if (maxFee <= BigInt(tx.maxFeePerGas)) {
        if (!warnedAtCeiling.has(tx.nonce)) {
          warnedAtCeiling.add(tx.nonce);
          logger.warn({ requestId: tx.requestId, nonce: tx.nonce, cap: settings.MAX_FEE_PER_GAS_GWEI }, "transaction stuck at the fee ceiling");
        }
        unchanged.push(tx);
        continue;
      }
      const { raw, hash } = job ? sign(tx.nonce, fulfilCalldata(job), maxFee, priority) : signFiller(tx.nonce, maxFee, priority);
      replacements.push({ hash, raw, nonce: tx.nonce, requestId: tx.requestId, sentAt: Date.now(), maxFeePerGas: maxFee.toString(), maxPriorityFeePerGas: priority.toString() });
    }
    for (const r of replacements) await store.recordReplacement(r);
    for (const tx of unchanged) await store.touchTx(tx.hash);
    // In nonce order, so a node accepts each one after the one before.
    const resend = [...unchanged].sort((a, b) => a.nonce - b.nonce);
    if (replacements.length > 0) {
      logger.warn({ count: replacements.length, nonces: replacements.map((r) => r.nonce), maxFeeGwei: Number(BigInt(replacements[0]!.maxFeePerGas) / GWEI) }, "replacing stuck transactions with bumped fees");
      await broadcast(replacements.sort((a, b) => a.nonce - b.nonce), "replacement");
    }
    if (resend.length > 0) await broadcast(resend, "rebroadcast");
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
    status: () => ({ nextNonce, lowBalance, balanceWei: lastBalance?.toString(), pending: pendingCount }),
  };
}
