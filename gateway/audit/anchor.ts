import type { Logger } from "pino";

import type { AuditLogAnchorContract } from "../../protocol/contracts.js";

import type { AuditLog } from "./auditLog.js";

export type AuditAnchorer = {
  /** Anchors the current head if it moved since the last anchor; returns what was anchored. */
  anchorNow(): Promise<{ seq: number; head: string; transactionHash: string } | undefined>;
  /** The last anchor this process sent: tree size and when it was mined (Unix seconds). */
  lastAnchor(): { seq: number; at: number } | undefined;
  start(): void;
  stop(): Promise<void>;
};

/**
 * Decides which of several replicas sharing one audit chain anchors it
 * (gateway/postgres/anchorLock.ts). `exclusive` runs `anchor` only when this replica holds the
 * anchoring lock, giving it the size last anchored by any replica; `anchor` returns the size it
 * anchored (undefined: nothing to anchor).
 */
export type AnchorCoordinator = {
  exclusive(anchor: (anchoredSeq: number) => Promise<number | undefined>): Promise<{ ran: boolean }>;
};

/**
 * Periodically writes the audit log's head to AuditLogAnchor.anchorHead(head, count), sent by the
 * gateway's key (GATEWAY_ROLE). The log is fsynced first, so an anchored head is always on disk.
 * Anchors never overlap; a failed anchor is logged and retried at the next tick.
 */
export function createAuditAnchorer(options: { audit: AuditLog; anchorContract: AuditLogAnchorContract; intervalMs: number; logger: Logger; onFailure?: () => void; coordinator?: AnchorCoordinator }): AuditAnchorer {
  let lastSeq = 0;
  let last: { seq: number; at: number } | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();

  async function anchor() {
    if (!options.coordinator) return anchorAbove(0);
    let result: Awaited<ReturnType<typeof anchorAbove>> = undefined;
    await options.coordinator.exclusive(async (anchoredSeq) => {
      result = await anchorAbove(anchoredSeq);
      return result?.seq;
    });
    return result;
  }

  async function anchorAbove(anchoredSeq: number) {
    await options.audit.sync();
    const { seq, head } = options.audit.head();
    if (seq === 0 || seq <= Math.max(lastSeq, anchoredSeq)) return undefined;
    const tx = await options.anchorContract.anchorHead(head, seq);
    const receipt = await tx.wait();
    lastSeq = seq;
    last = { seq, at: Math.floor(Date.now() / 1000) };
    options.logger.info({ seq, head, tx: receipt?.hash }, "audit head anchored");
    return { seq, head, transactionHash: receipt?.hash as string };
  }

  const anchorNow = () => {
    const next = running.then(anchor);
    running = next.catch(() => undefined);
    return next;
  };

  return {
    anchorNow,
    lastAnchor: () => last,
    start() {
      timer = setInterval(() => {
        anchorNow().catch((error: unknown) => {
          options.onFailure?.();
          options.logger.warn({ err: error }, "audit anchor failed; will retry");
        });
      }, options.intervalMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
