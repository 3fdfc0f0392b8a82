import type { Common } from "../common.js";
import { errorMessage, isRetryable } from "../errors.js";
import { failpoint } from "../failpoints.js";
import { backoffDelayMs, sleep } from "../retry.js";
import type { Cursor, JobStore, RequestLog } from "../store/jobStore.js";
import { RpcResponseError, toQuantity, type RpcBlock, type RpcClient, type RpcLog } from "./rpc.js";

/**
 * Follows the chain: a persisted cursor, bounded eth_getLogs ranges, reorg detection by block
 * hash, N confirmations. Progress is reported as a tagged union, as Ponder's realtime sync does.
 */
export type ChainUpdate =
  | { type: "block"; head: number; cursor: number; recorded: number; duplicates: number }
  | { type: "reorg"; ancestor: number; dropped: string[]; reopened: string[] }
  | { type: "confirm"; safeBlock: number; confirmed: number };

export type ChainFollower = ReturnType<typeof createChainFollower>;

export type CreateChainFollowerParameters = {
  common: Common;
  rpc: RpcClient;
  store: JobStore;
  /** Contracts whose logs carry requests (the Operator and the router). */
  addresses: string[];
  /** topic0 values of the request events. */
  topics: string[];
  /** Turns the raw logs of a range (sorted) into request logs, dropping what is not for us. */
  decodeLogs: (logs: RpcLog[]) => RequestLog[];
  onUpdate?: (update: ChainUpdate) => void;
  /** False while another replica holds the nonce lease: it follows the chain into the shared store, this one waits. */
  isActive?: () => boolean;
};

/** Ranges fetched per tick at most, so a long backfill still yields to shutdown and the pipeline. */
const MAX_RANGES_PER_TICK = 8;
/** Ring entries compared with the chain per round trip while looking for a common ancestor. */
const ANCESTOR_BATCH = 16;

export function createChainFollower({ common, rpc, store, addresses, topics, decodeLogs, onUpdate, isActive = () => true }: CreateChainFollowerParameters) {
  const { settings, logger, metrics } = common;
  let head = -1;
  let rangeLimit = settings.MAX_BLOCK_RANGE;
  let lastTickAt = 0;
  let lastError: string | undefined;
  /** The cursor as last read or written, for status() (which must not wait on the store). */
  let cursorBlock = settings.START_BLOCK - 1;

  const emit = (update: ChainUpdate) => onUpdate?.(update);

  function initialCursor(): Cursor {
    return { blockNumber: settings.START_BLOCK - 1, blockHash: "" };
  }

  async function getBlock(blockNumber: number): Promise<RpcBlock | null> {
    return rpc.request<RpcBlock | null>("eth_getBlockByNumber", [toQuantity(blockNumber), false]);
  }

  /** Newest ring entry that is still on the chain; everything above it is forgotten. */
  async function findAncestor(below: number): Promise<Cursor> {
    const ring = await store.ringAtOrBelow(below);
    for (let i = 0; i < ring.length; i += ANCESTOR_BATCH) {
      const slice = ring.slice(i, i + ANCESTOR_BATCH);
      const blocks = await rpc.batch(slice.map((c) => ({ method: "eth_getBlockByNumber", params: [toQuantity(c.blockNumber), false] })));
      for (const [j, entry] of slice.entries()) {
        const settled = blocks[j];
        if (settled?.status === "rejected") throw settled.reason;
        const block = settled?.value as RpcBlock | null;
        if (block && block.hash === entry.blockHash) return entry;
      }
    }
    // Deeper than the ring remembers: start again from the configured block; consumed logs and
    // jobs already known keep this idempotent.
    return initialCursor();
  }

  async function checkReorg(cursor: Cursor): Promise<Cursor> {
    if (cursor.blockNumber < 0 || cursor.blockHash === "") return cursor;
    const block = cursor.blockNumber <= head ? await getBlock(cursor.blockNumber) : null;
    if (block && block.hash === cursor.blockHash) return cursor;
    const ancestor = await findAncestor(cursor.blockNumber - 1);
    const { dropped, reopened } = await store.rollbackTo(ancestor);
    metrics.reorgs.inc();
    logger.warn({ from: cursor.blockNumber, ancestor: ancestor.blockNumber, dropped: dropped.length, reopened: reopened.length }, "reorg detected: forgetting dropped blocks");
    emit({ type: "reorg", ancestor: ancestor.blockNumber, dropped, reopened });
    return ancestor;
  }

  async function fetchRange(from: number, to: number): Promise<{ logs: RequestLog[]; toHash: string } | undefined> {
    const filter = { address: addresses, topics: [topics], fromBlock: toQuantity(from), toBlock: toQuantity(to) };
    const [before, logs, after] = await rpc.batch([
      { method: "eth_getBlockByNumber", params: [toQuantity(to), false] },
      { method: "eth_getLogs", params: [filter] },
      { method: "eth_getBlockByNumber", params: [toQuantity(to), false] },
    ]);
    for (const settled of [before, logs, after]) if (settled?.status === "rejected") throw settled.reason;
    const blockBefore = (before as PromiseFulfilledResult<RpcBlock | null>).value;
    const blockAfter = (after as PromiseFulfilledResult<RpcBlock | null>).value;
    // The chain moved under us while we read: read the range again on the next tick.
    if (!blockBefore || !blockAfter || blockBefore.hash !== blockAfter.hash) return undefined;
    const raw = ((logs as PromiseFulfilledResult<RpcLog[]>).value ?? []).filter((l) => !l.removed);
    const hashAt = new Map<number, string>([[to, blockBefore.hash]]);
    for (const log of raw) {
      const n = Number(log.blockNumber);
      const known = hashAt.get(n);
      if (known !== undefined && known !== log.blockHash) return undefined;
      hashAt.set(n, log.blockHash);
    }
    // Nodes return logs in order, but nothing downstream may rely on it.
    raw.sort((a, b) => Number(a.blockNumber) - Number(b.blockNumber) || Number(a.logIndex) - Number(b.logIndex));
    const decoded = decodeLogs(raw);
    return { logs: decoded, toHash: blockBefore.hash };
  }

  async function tick(): Promise<void> {
    head = Number(await rpc.request<string>("eth_blockNumber"));
    metrics.chainHead.set(head);
    let cursor = (await store.getCursor()) ?? initialCursor();
    cursorBlock = cursor.blockNumber;
    cursor = await checkReorg(cursor);
    cursorBlock = cursor.blockNumber;

    for (let ranges = 0; ranges < MAX_RANGES_PER_TICK && cursor.blockNumber < head; ranges++) {
      const from = cursor.blockNumber + 1;
      const to = Math.min(head, from + rangeLimit - 1);
      let range;
      try {
        range = await fetchRange(from, to);
      } catch (error) {
        // Providers refuse ranges with too many logs or blocks: halve and go on.
        if (error instanceof RpcResponseError && !error.isRevert && to > from) {
          rangeLimit = Math.max(1, Math.floor((to - from + 1) / 2));
          logger.warn({ from, to, rangeLimit, err: error.shortMessage }, "eth_getLogs range refused; narrowing it");
          continue;
        }
        throw error;
      }
      if (rangeLimit < settings.MAX_BLOCK_RANGE) rangeLimit = Math.min(settings.MAX_BLOCK_RANGE, rangeLimit * 2);
      if (range === undefined) {
        logger.debug({ from, to }, "chain changed while reading a range; retrying");
        break;
      }
      const next = { blockNumber: to, blockHash: range.toHash };
      const outcomes = await store.commitRange(range.logs, next, settings.REORG_RING_SIZE);
      const duplicates = outcomes.filter((o) => o === "duplicate").length;
      const recorded = outcomes.length - duplicates;
      if (duplicates > 0) {
        metrics.duplicateLogs.inc(duplicates);
        logger.info({ duplicates, from, to }, "ignored request logs already consumed");
      }
      for (const [i, log] of range.logs.entries()) {
        if (outcomes[i] !== "duplicate") logger.info({ requestId: log.request.requestId, block: log.blockNumber, outcome: outcomes[i] }, "request seen");
      }
      cursor = next;
      cursorBlock = cursor.blockNumber;
      if (recorded > 0) await failpoint("after:seen");
      emit({ type: "block", head, cursor: cursor.blockNumber, recorded, duplicates });
    }

    const safeBlock = head - settings.CONFIRMATIONS + 1;
    const confirmed = await store.confirmUpTo(Math.min(safeBlock, cursor.blockNumber));
    if (confirmed > 0) {
      await failpoint("after:confirmed");
      emit({ type: "confirm", safeBlock, confirmed });
    }
    metrics.chainCursor.set(cursor.blockNumber);
    metrics.chainLag.set(Math.max(0, head - cursor.blockNumber));
    lastTickAt = Date.now();
    lastError = undefined;
  }

  async function run(): Promise<void> {
    const { signal } = common.shutdown;
    let failures = 0;
    while (!signal.aborted) {
      if (!isActive()) {
        await sleep(settings.POLL_INTERVAL_MS, signal).catch(() => undefined);
        continue;
      }
      try {
        await tick();
        failures = 0;
        await sleep(settings.POLL_INTERVAL_MS, signal);
      } catch (error) {
        if (signal.aborted) break;
        failures++;
        lastError = errorMessage(error);
        const delayMs = backoffDelayMs(failures);
        logger[isRetryable(error) ? "warn" : "error"]({ err: lastError, failures, delayMs }, "chain follower tick failed; backing off");
        await sleep(delayMs, signal).catch(() => undefined);
      }
    }
  }

  return {
    tick,
    run,
    status: () => ({ head, cursor: cursorBlock, lastTickAt, lastError }),
  };
}
