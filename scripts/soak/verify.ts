/**
 * The end of every soak: wait for the chain to settle, then check from the final chain, as the
 * patients would, that every request was fulfilled exactly once with the result of its own
 * input, and that the oracle account is left with no nonce gap.
 *
 * Counts (bench/results/soak.json):
 *   requests      requests the patients made (each one on the final chain: the soak re-sends a
 *                 request transaction a reorg dropped, as the patient's wallet would)
 *   fulfilled     of those, Fulfilled on the final chain
 *   wrongResult   Fulfilled, but the patient's check failed (the gateway would not give the
 *                 result, its hash or input binding did not match, or the decryption differs
 *                 from the plaintext model on the patient's own reading) and the result blob
 *                 is not bound to this request's input (it answers another request, or cannot be
 *                 found); `resultUnreadable` counts the failed checks whose blob does answer the
 *                 request's own input
 *   falseFailures Failed or Refused on the final chain (every soak request is valid)
 *   duplicates    extra Operator `OracleResponse`s for one request id, plus requests found under
 *                 more than one request id
 *   lost          still Pending at the end of the settle window, or not on the final chain at all
 *   stuckSeconds  the longest a request stayed unsettled after the chain settled (the last
 *                 disturbance ended and the request was mined); the full window if it never did
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";

import { Interface } from "ethers";

import { predictionFromScores, readBlobHeader, scoreReading } from "../../fhe/index.js";
import { getPredictionResult } from "../../sdk/actions/getPredictionResult.js";
import { createMedCipherClient, type MedCipherClient } from "../../sdk/node.js";
import { PredictionCodes, RequestStatus } from "../../protocol/codes.js";
import { readJobs } from "../../test/oracle/helpers/inspect.js";
import { Operator__factory } from "../../types/ethers-contracts/index.js";
import type { SoakCounts } from "./results.js";
import { log, routerInterface, sleep, type SoakRequest, type SoakWorld } from "./world.js";

const operatorInterface = new Interface(Operator__factory.abi);
const STATUS_NAMES = Object.fromEntries(Object.entries(RequestStatus).map(([name, value]) => [value, name])) as Record<number, string>;
const CODE_NAMES = Object.fromEntries(Object.entries(PredictionCodes).map(([name, value]) => [value, name])) as Record<number, string>;

export type VerifyOptions = {
  /** How long to wait, after the chain settled, for every request to settle. */
  settleSeconds: number;
  /** Largest accepted |decrypted − plaintext| probability (CKKS noise; another input's result is far off). */
  tolerance: number;
  /** `stuckSeconds` above this fails the soak (a request needs its confirmations and an evaluation). */
  stuckLimitSeconds: number;
};

export type NonceCheck = {
  /** eth_getTransactionCount(latest) of the oracle account. */
  chainNonce: number;
  /** eth_getTransactionCount(pending): above chainNonce while transactions sit in the pool. */
  pendingNonce: number;
  /** The next nonce the daemon will use (its job store's `next_nonce`), if readable. */
  daemonNextNonce: number | null;
  /** Oracle transactions in anvil's pool (pending + queued) at the end. */
  inPool: number;
  /** The lowest nonce among them, if any. */
  lowestPooledNonce: number | null;
  gap: boolean;
};

export type SoakVerdict = SoakCounts & {
  passed: boolean;
  verdict: "PASS" | "FAIL";
  /** Exits of the daemon or the gateway the soak did not cause (each restarted by the supervisor). */
  unplannedExits: { oracle: number; gateway: number };
  /** Fulfilled with the result of its own input (the gateway's blob says so), which the patient could not fetch or decrypt. */
  resultUnreadable: number;
  onChain: number;
  notOnChain: number;
  /** Of `notOnChain`, request transactions the router reverted (a harness setup problem). */
  requestsReverted: number;
  /** Router sponsorship calls the setup made (empty on a router that pays every request). */
  sponsorship: string[];
  resentRequests: number;
  nonce: NonceCheck;
  /** Oracle transactions on the final chain and how many of them reverted (wasted gas). */
  oracleTxs: number;
  oracleTxsReverted: number;
  /** Oracle transactions for a request id already answered on the chain (reverted by the Operator; wasted gas). */
  duplicateAttempts: number;
  /** Requests whose job-store state contradicts the chain (e.g. `refused` while Fulfilled). */
  storeDisagrees: number;
  failureCodes: Record<string, number>;
  /** The daemon's warnings and errors, by message (most frequent first). */
  oracleWarnings: Record<string, number>;
  /** One concrete case of each failure mode found. */
  examples: Record<string, unknown>;
};

type OnChain = { requestId: string; request: SoakRequest; status: number; failureCode: number; firstSeenAt: number; settledAt?: number };

export async function settleAndVerify(world: SoakWorld, requests: SoakRequest[], options: VerifyOptions): Promise<SoakVerdict> {
  await world.superviseOnce();
  const settledFrom = Date.now();
  const byInput = new Map(requests.map((r) => [r.inputHash.toLowerCase(), r]));
  const tracked = new Map<string, OnChain>();
  const idsOf = new Map<SoakRequest, Set<string>>();
  let resentRequests = requests.reduce((n, r) => n + r.resends, 0);
  const deadline = settledFrom + options.settleSeconds * 1000;

  // Watch the final chain until every request is on it and settled, or the window closes.
  for (;;) {
    resentRequests += await world.rebroadcastVanished(requests.filter((r) => ![...tracked.values()].some((t) => t.request === r)));
    const head = Number(await world.anvil.rpc<string>("eth_blockNumber"));
    const logs = await world.anvil.rpc<{ topics: string[]; data: string }[]>("eth_getLogs", [{ fromBlock: hex(world.setupBlock + 1), toBlock: hex(head), address: world.addresses.PredictionRouter, topics: [routerInterface.getEvent("PredictionRequested")!.topicHash] }]);
    const present = new Set<string>();
    for (const entry of logs) {
      const parsed = routerInterface.parseLog(entry)!;
      const requestId = parsed.args.requestId as string;
      const request = byInput.get((parsed.args.inputHash as string).toLowerCase());
      if (!request) continue;
      present.add(requestId);
      if (!tracked.has(requestId) || tracked.get(requestId)!.request !== request) tracked.set(requestId, { requestId, request, status: RequestStatus.Pending, failureCode: 0, firstSeenAt: Date.now() });
    }
    for (const id of [...tracked.keys()]) if (!present.has(id)) tracked.delete(id);
    for (const entry of tracked.values()) {
      const state = (await world.suite.router.getRequest(entry.requestId)) as unknown as { status: bigint; failureCode: bigint };
      entry.status = Number(state.status);
      entry.failureCode = Number(state.failureCode);
      if (entry.status !== RequestStatus.Pending && entry.settledAt === undefined) entry.settledAt = Date.now();
      if (entry.status === RequestStatus.Pending) entry.settledAt = undefined;
    }
    const allOnChain = requests.every((r) => [...tracked.values()].some((t) => t.request === r));
    const allSettled = [...tracked.values()].every((t) => t.status !== RequestStatus.Pending);
    if ((allOnChain && allSettled) || Date.now() > deadline) break;
    await sleep(1_000);
    await world.superviseOnce().catch(() => undefined);
  }
  const end = Date.now();
  for (const entry of tracked.values()) {
    if (!idsOf.has(entry.request)) idsOf.set(entry.request, new Set());
    idsOf.get(entry.request)!.add(entry.requestId);
  }
  log(world.soak, `settled after ${((end - settledFrom) / 1000).toFixed(1)} s; checking ${tracked.size} requests as their patients`);

  const examples: Record<string, unknown> = {};
  const example = (kind: string, value: unknown) => {
    if (!(kind in examples)) examples[kind] = value;
  };
  const describe = (t: OnChain) => ({ requestId: t.requestId, request: t.request.index, patient: t.request.patient.wallet.address, model: t.request.model.id, status: STATUS_NAMES[t.status], failureCode: t.failureCode });
  // What the daemon said about a request (its last lines naming it), for the examples.
  const daemonSaid = (requestId: string) => world.oracle.lines().filter((line) => line.includes(requestId)).slice(-6).map((line) => line.slice(0, 400));

  // Duplicates: Operator responses per request id on the final chain.
  const head = Number(await world.anvil.rpc<string>("eth_blockNumber"));
  const responses = await world.anvil.rpc<{ topics: string[]; data: string }[]>("eth_getLogs", [{ fromBlock: hex(world.setupBlock + 1), toBlock: hex(head), address: world.addresses.Operator, topics: [operatorInterface.getEvent("OracleResponse")!.topicHash] }]);
  const responseCount = new Map<string, number>();
  for (const entry of responses) {
    const id = (operatorInterface.parseLog(entry)!.args.requestId as string).toLowerCase();
    responseCount.set(id, (responseCount.get(id) ?? 0) + 1);
  }
  let duplicates = 0;
  for (const [id, count] of responseCount) {
    if (count > 1) {
      duplicates += count - 1;
      example("duplicate", { requestId: id, oracleResponses: count });
    }
  }
  for (const [request, ids] of idsOf) {
    if (ids.size > 1) {
      duplicates += ids.size - 1;
      example("duplicateRequest", { request: request.index, requestIds: [...ids] });
    }
  }

  // The patients' check of every fulfilled request: fetch, hash against the chain, decrypt, compare.
  const clients = new Map<number, MedCipherClient>();
  const clientOf = async (request: SoakRequest) => {
    if (!clients.has(request.patient.index)) clients.set(request.patient.index, await createMedCipherClient({ account: request.patient.wallet, addresses: world.addresses, gatewayUrl: world.gateway.url }));
    return clients.get(request.patient.index)!;
  };
  let fulfilled = 0;
  let wrongResult = 0;
  let resultUnreadable = 0;
  let falseFailures = 0;
  const failureCodes: Record<string, number> = {};
  for (const t of tracked.values()) {
    if (t.status === RequestStatus.Fulfilled) {
      fulfilled++;
      const problem = await checkResult(await clientOf(t.request), t, options.tolerance);
      if (problem) {
        const answers = await whoseResult(world, t, requests);
        if (answers.own) {
          resultUnreadable++;
          example("resultUnreadable", { ...describe(t), problem, answers: answers.text, daemonLog: daemonSaid(t.requestId) });
        } else {
          wrongResult++;
          example("wrongResult", { ...describe(t), problem, answers: answers.text, daemonLog: daemonSaid(t.requestId) });
        }
      }
    } else if (t.status === RequestStatus.Failed || t.status === RequestStatus.Refused) {
      falseFailures++;
      const key = `${STATUS_NAMES[t.status]}:${t.failureCode} ${CODE_NAMES[t.failureCode] ?? ""}`.trim();
      failureCodes[key] = (failureCodes[key] ?? 0) + 1;
      example(`falseFailure:${t.failureCode}`, { ...describe(t), daemonLog: daemonSaid(t.requestId) });
    }
  }
  const pending = [...tracked.values()].filter((t) => t.status === RequestStatus.Pending);
  const notOnChain = requests.filter((r) => !idsOf.has(r));
  for (const t of pending) example("lost", { ...describe(t), note: "still Pending on the final chain", daemonLog: daemonSaid(t.requestId) });
  // A request transaction the router reverted means the soak's requests no longer fit the router
  // (a setup problem of the harness, not a daemon failure): counted apart and shouted about.
  let requestsReverted = 0;
  for (const r of notOnChain) {
    const receipt = await world.anvil.rpc<{ status: string } | null>("eth_getTransactionReceipt", [r.txHash]).catch(() => null);
    if (receipt && Number(receipt.status) !== 1) {
      requestsReverted++;
      example("requestReverted", { request: r.index, txHash: r.txHash, note: "the router reverted the patient's request: the soak's request no longer fits this router" });
    } else example("notOnChain", { request: r.index, txHash: r.txHash, resends: r.resends });
  }
  if (requestsReverted > 0) log(world.soak, `WARNING: ${requestsReverted} request transactions reverted; the harness's requests do not fit this router`);

  let stuckSeconds = 0;
  for (const t of tracked.values()) {
    const from = Math.max(settledFrom, t.firstSeenAt);
    stuckSeconds = Math.max(stuckSeconds, ((t.settledAt ?? end) - from) / 1000);
  }
  if (notOnChain.length > 0) stuckSeconds = Math.max(stuckSeconds, (end - settledFrom) / 1000);
  stuckSeconds = Math.round(stuckSeconds * 10) / 10;

  const nonce = await checkNonce(world);
  if (nonce.gap) example("nonceGap", nonce);
  const { oracleTxs, oracleTxsReverted, duplicateAttempts } = await countOracleTransactions(world, head);

  // The job store's view against the chain's.
  let storeDisagrees = 0;
  try {
    const jobs = new Map(readJobs(world.oracle.settings.DATA_DIR).map((j) => [j.requestId.toLowerCase(), j]));
    const expected: Record<number, string> = { [RequestStatus.Fulfilled]: "fulfilled", [RequestStatus.Failed]: "failed" };
    for (const t of tracked.values()) {
      const job = jobs.get(t.requestId.toLowerCase());
      const want = expected[t.status];
      // Fulfilled/Failed on-chain: the store must say so; Pending on-chain: the store must not call the job finished.
      const contradicts = want ? job?.state !== want : t.status === RequestStatus.Pending && (job?.state === "fulfilled" || job?.state === "failed");
      if (contradicts) {
        storeDisagrees++;
        example("storeDisagrees", { ...describe(t), storeState: job?.state ?? "absent", storeReason: job?.reasonCode ?? null, daemonLog: daemonSaid(t.requestId) });
      }
    }
  } catch (error) {
    example("storeUnreadable", String(error));
  }

  const oracleWarnings: Record<string, number> = {};
  for (const line of world.oracle.lines()) {
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string };
      if ((entry.level ?? 0) >= 40) oracleWarnings[entry.msg ?? "?"] = (oracleWarnings[entry.msg ?? "?"] ?? 0) + 1;
    } catch {
      if (/error/i.test(line)) oracleWarnings[line.slice(0, 120)] = (oracleWarnings[line.slice(0, 120)] ?? 0) + 1;
    }
  }

  const lost = pending.length + notOnChain.length;
  // The daemon's own record must agree with the chain too: an operator reads it (issue 9 items 2, 4, 7).
  for (const exit of world.unplannedExits) example(`unplannedExit:${exit.service}`, exit);
  const passed = world.unplannedExits.length === 0 && fulfilled === requests.length && wrongResult === 0 && resultUnreadable === 0 && falseFailures === 0 && duplicates === 0 && lost === 0 && !nonce.gap && stuckSeconds <= options.stuckLimitSeconds && storeDisagrees === 0;
  return {
    requests: requests.length, fulfilled, wrongResult, falseFailures, duplicates, lost, stuckSeconds,
    passed, verdict: passed ? "PASS" : "FAIL", resultUnreadable,
    unplannedExits: { oracle: world.unplannedExits.filter((e) => e.service === "oracle").length, gateway: world.unplannedExits.filter((e) => e.service === "gateway").length },
    onChain: tracked.size, notOnChain: notOnChain.length, requestsReverted, sponsorship: world.sponsorship, resentRequests, nonce, oracleTxs, oracleTxsReverted, duplicateAttempts, storeDisagrees, failureCodes,
    oracleWarnings: Object.fromEntries(Object.entries(oracleWarnings).sort((a, b) => b[1] - a[1]).slice(0, 8)),
    examples,
  };
}

/** The patient's own check of one fulfilled request; returns what is wrong, or undefined. */
async function checkResult(client: MedCipherClient, t: OnChain, tolerance: number): Promise<string | undefined> {
  let predictions;
  try {
    ({ predictions } = await getPredictionResult(client, { requestId: t.requestId, fhe: t.request.patient.fhe, keysHash: t.request.patient.keysHash }));
  } catch (error) {
    const e = error as { code?: string; shortMessage?: string; message?: string };
    return `${e.code ?? "error"}: ${e.shortMessage ?? e.message}`;
  }
  const decrypted = predictions[0];
  if (!decrypted) return "no prediction in the result";
  const plaintext = predictionFromScores(t.request.model, scoreReading(t.request.model, t.request.reading));
  const difference = Math.max(...plaintext.probabilities.map((p, i) => Math.abs(p - (decrypted.probabilities[i] ?? NaN))));
  if (!(difference <= tolerance)) return `decrypted ${decrypted.label} ${fmt(decrypted.probabilities)} but the plaintext model gives ${plaintext.label} ${fmt(plaintext.probabilities)} on this reading (max |Δp| ${difference.toExponential(2)})`;
  return undefined;
}

/**
 * Which input a wrong result answers, read as the gateway's operator would: the result blob from
 * the gateway's data directory, its header's input binding matched against the soak's requests.
 */
async function whoseResult(world: SoakWorld, t: OnChain, requests: SoakRequest[]): Promise<{ own: boolean; text: string }> {
  try {
    const { resultHash } = (await world.suite.router.getRequest(t.requestId)) as unknown as { resultHash: string };
    const blob = readFileSync(join(world.gateway.home, "data", "blobs", resultHash.slice(2, 4), resultHash.slice(2)));
    const binding = readBlobHeader(new Uint8Array(blob)).binding.toLowerCase();
    if (binding === t.request.inputHash.toLowerCase()) return { own: true, text: "its own input: the result is right, but the patient could not get or read it" };
    const other = requests.find((r) => r.inputHash.toLowerCase() === binding);
    return { own: false, text: other ? `the input of request ${other.index} (patient ${other.patient.wallet.address}, ${other.model.id})` : `an input the soak did not send (${binding})` };
  } catch (error) {
    return { own: false, text: `unknown (${String(error).slice(0, 120)})` };
  }
}

async function checkNonce(world: SoakWorld): Promise<NonceCheck> {
  const address = world.oracleKey.address;
  const chainNonce = Number(await world.anvil.rpc<string>("eth_getTransactionCount", [address, "latest"]));
  const pendingNonce = Number(await world.anvil.rpc<string>("eth_getTransactionCount", [address, "pending"]));
  let daemonNextNonce: number | null = null;
  try {
    const db = new DatabaseSync(join(world.oracle.settings.DATA_DIR, "oracle.db"), { readOnly: true });
    try {
      const row = db.prepare("SELECT value FROM meta WHERE key = 'next_nonce'").get() as { value?: string } | undefined;
      daemonNextNonce = row?.value === undefined ? null : Number(row.value);
    } finally {
      db.close();
    }
  } catch {
    // another schema: the check falls back to the chain's view
  }
  const pool = await world.anvil.rpc<{ pending?: Record<string, Record<string, unknown>>; queued?: Record<string, Record<string, unknown>> }>("txpool_content").catch(() => ({ pending: {}, queued: {} }));
  const ours = (section?: Record<string, Record<string, unknown>>) => Object.entries(section ?? {}).filter(([from]) => from.toLowerCase() === address.toLowerCase()).flatMap(([, byNonce]) => Object.keys(byNonce).map(Number));
  const pooled = [...ours(pool.pending), ...ours(pool.queued)];
  const gap = pendingNonce !== chainNonce || pooled.length > 0 || (daemonNextNonce !== null && daemonNextNonce !== chainNonce);
  return { chainNonce, pendingNonce, daemonNextNonce, inPool: pooled.length, lowestPooledNonce: pooled.length > 0 ? Math.min(...pooled) : null, gap };
}

/**
 * The oracle's transactions on the final chain: how many, how many reverted, and how many were a
 * second fulfilment of a request id the chain had already answered (the Operator reverts those,
 * so they never become `duplicates`, but each is a duplicate the daemon sent and paid for).
 */
async function countOracleTransactions(world: SoakWorld, head: number): Promise<{ oracleTxs: number; oracleTxsReverted: number; duplicateAttempts: number }> {
  let oracleTxs = 0;
  let oracleTxsReverted = 0;
  let duplicateAttempts = 0;
  const answered = new Set<string>();
  const oracle = world.oracleKey.address.toLowerCase();
  for (let n = world.setupBlock + 1; n <= head; n++) {
    const block = await world.anvil.rpc<{ transactions: { hash: string; from: string; input: string }[] }>("eth_getBlockByNumber", [hex(n), true]);
    for (const tx of block.transactions) {
      if (tx.from.toLowerCase() !== oracle) continue;
      oracleTxs++;
      // fulfillOracleRequest2(bytes32 requestId, …): the request id is the first argument.
      const requestId = "0x" + tx.input.slice(10, 74).toLowerCase();
      if (answered.has(requestId)) duplicateAttempts++;
      const receipt = await world.anvil.rpc<{ status: string }>("eth_getTransactionReceipt", [tx.hash]);
      if (Number(receipt.status) === 1) answered.add(requestId);
      else oracleTxsReverted++;
    }
  }
  return { oracleTxs, oracleTxsReverted, duplicateAttempts };
}

const hex = (n: number) => "0x" + n.toString(16);
const fmt = (values: number[]) => `(${values.map((v) => v.toFixed(3)).join(" / ")})`;
