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
 * Periodically writes the audit log's head to AuditLogAnchor.anchorHead(head, count), sent by the
 * gateway's key (GATEWAY_ROLE). The log is fsynced first, so an anchored head is always on disk.
 * Anchors never overlap; a failed anchor is logged and retried at the next tick.
 */
export function createAuditAnchorer(options: { audit: AuditLog; anchorContract: AuditLogAnchorContract; intervalMs: number; logger: Logger; onFailure?: () => void }): AuditAnchorer {
  let lastSeq = 0;
  let last: { seq: number; at: number } | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();

  async function anchor() {
    await options.audit.sync();
    const { seq, head } = options.audit.head();
    if (seq === 0 || seq <= lastSeq) return undefined;
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
