import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

import type { Common } from "../common.js";
import { QueueFullError, RetryableError, ShutdownError } from "../errors.js";
import type { EvalOutcome, EvalTask } from "./types.js";

/**
 * A fixed set of worker threads (one per core by default) behind a bounded queue. A full queue
 * rejects at once with QueueFullError (retryable): back-pressure instead of unbounded memory.
 * A worker that dies is replaced and its task fails as retryable.
 */
export type EvalPool = ReturnType<typeof createEvalPool>;

type Pending = { id: number; task: EvalTask; resolve: (o: EvalOutcome) => void; reject: (e: unknown) => void };
type Slot = { worker: Worker; ready: Promise<void>; busy: Pending | undefined };

const WORKER_URL = new URL("./worker.ts", import.meta.url);

/** Under tsx the worker needs tsx's loader too; compiled JavaScript needs nothing. */
function spawnWorker(evaluatorModule: string, evaluatorOptions: unknown): Worker {
  const workerData = { evaluatorModule, evaluatorOptions };
  if (!WORKER_URL.pathname.endsWith(".ts")) return new Worker(WORKER_URL, { workerData });
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm/api")).href;
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
  return new Worker(boot, { eval: true, workerData });
}

export function createEvalPool({ common, evaluatorModule, evaluatorOptions, size, queueLimit }: {
  common: Common;
  /** URL of a module exporting `createEvaluator(options)` (see eval/types.ts). */
  evaluatorModule: string;
  /** Passed to `createEvaluator` in each worker (structured-cloned). */
  evaluatorOptions?: unknown;
  size: number;
  queueLimit: number;
}) {
  const { logger, metrics } = common;
  const queue: Pending[] = [];
  const slots: Slot[] = [];
  let nextId = 1;
  let closed = false;

  function startSlot(): Slot {
    const worker = spawnWorker(evaluatorModule, evaluatorOptions);
    const slot: Slot = { worker, busy: undefined, ready: Promise.resolve() };
    slot.ready = new Promise<void>((resolve, reject) => {
      const onMessage = (message: { ready?: boolean }) => {
        if (message.ready) {
          worker.off("error", onStartError);
          resolve();
        }
      };
      const onStartError = (error: unknown) => reject(error);
      worker.once("error", onStartError);
      worker.on("message", onMessage);
    });
    worker.on("message", (message: { id?: number; outcome?: EvalOutcome }) => {
      if (message.id === undefined || !slot.busy || slot.busy.id !== message.id) return;
      const done = slot.busy;
      slot.busy = undefined;
      done.resolve(message.outcome!);
      dispatch();
    });
    worker.on("exit", (code) => {
      const index = slots.indexOf(slot);
      if (index >= 0) slots.splice(index, 1);
      if (slot.busy) {
        slot.busy.reject(new RetryableError("Evaluation worker exited", { code: "ORACLE_WORKER_EXIT", details: { code } }));
        slot.busy = undefined;
      }
      if (!closed) {
        logger.error({ code }, "evaluation worker exited; starting a new one");
        slots.push(startSlot());
        dispatch();
      }
    });
    void slot.ready.then(dispatch, (error: unknown) => logger.error({ err: String(error) }, "evaluation worker failed to start"));
    return slot;
  }

  function dispatch(): void {
    metrics.evalQueueDepth.set(queue.length);
    for (const slot of slots) {
      if (slot.busy || queue.length === 0) continue;
      const job = queue.shift()!;
      slot.busy = job;
      void slot.ready.then(
        () => slot.worker.postMessage({ id: job.id, task: job.task }),
        (error: unknown) => {
          slot.busy = undefined;
          job.reject(new RetryableError("Evaluation worker unavailable", { code: "ORACLE_WORKER_START", cause: error }));
        },
      );
    }
    metrics.evalQueueDepth.set(queue.length);
  }

  for (let i = 0; i < size; i++) slots.push(startSlot());

  return {
    /** Waits until every worker has loaded the evaluator (fails if one cannot). */
    ready: () => Promise.all(slots.map((s) => s.ready)).then(() => undefined),
    evaluate(task: EvalTask): Promise<EvalOutcome> {
      if (closed) return Promise.reject(new ShutdownError());
      const busy = slots.filter((s) => s.busy).length;
      if (queue.length >= queueLimit && busy >= slots.length) return Promise.reject(new QueueFullError(queueLimit));
      return new Promise<EvalOutcome>((resolve, reject) => {
        const started = performance.now();
        queue.push({
          id: nextId++, task,
          resolve: (outcome) => {
            metrics.evaluationSeconds.observe((performance.now() - started) / 1000);
            resolve(outcome);
          },
          reject,
        });
        dispatch();
      });
    },
    queueDepth: () => queue.length,
    size: () => slots.length,
    async close(): Promise<void> {
      closed = true;
      for (const pending of queue.splice(0)) pending.reject(new ShutdownError());
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
