import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

import type { Common } from "../common.js";
import { QueueFullError, RetryableError, ShutdownError } from "../errors.js";
import type { GatewayBackend } from "../pipeline/blobs.js";
import type { EvalOutcome, EvalTask, GatewayWorkerConfig, SignedTx, UnsignedTx, WorkerError, WorkerReply, WorkerTask } from "./types.js";

/**
 * A fixed set of worker threads (one per core by default) behind a bounded queue. Workers
 * evaluate and perform gateway requests, several tasks each at a time. A full queue rejects at
 * once with QueueFullError (retryable): back-pressure instead of unbounded memory. A worker that
 * dies is replaced and its tasks fail as retryable.
 */
export type EvalPool = ReturnType<typeof createEvalPool>;

type Pending = { id: number; job: WorkerTask; resolve: (r: WorkerReply) => void; reject: (e: unknown) => void };
type Slot = { worker: Worker; ready: Promise<void>; active: Map<number, Pending> };

/** Tasks handed to one worker before it has answered any: enough to overlap gateway I/O. */
export const TASKS_PER_WORKER = 64;

const WORKER_URL = new URL("./worker.ts", import.meta.url);

/**
 * V8 heap limits of a worker: its JavaScript needs little (SEAL's memory is WebAssembly, outside
 * these), and small young generations keep the process's peak RSS down. A worker that runs out
 * is replaced and its tasks retried.
 */
const WORKER_RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 192 };

/** Under tsx the worker needs tsx's loader too; compiled JavaScript needs nothing. */
function spawnWorker(workerData: unknown): Worker {
  const options = { workerData, resourceLimits: WORKER_RESOURCE_LIMITS };
  if (!WORKER_URL.pathname.endsWith(".ts")) return new Worker(WORKER_URL, options);
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm/api")).href;
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
  return new Worker(boot, { ...options, eval: true });
}

/** An error thrown in a worker, rebuilt with the fields callers classify by (name, code, status). */
export class WorkerTaskError extends Error {
  readonly code: string | undefined;
  readonly status: number | undefined;
  readonly details: Record<string, unknown> | undefined;
  constructor(error: WorkerError) {
    super(error.message);
    this.name = error.name;
    this.code = error.code;
    this.status = error.status;
    this.details = error.details;
  }
}

export function createEvalPool({ common, evaluatorModule, evaluatorOptions, gateway, size, queueLimit }: {
  common: Common;
  /** URL of a module exporting `createEvaluator(options)` (see eval/types.ts). */
  evaluatorModule: string;
  /** Passed to `createEvaluator` in each worker (structured-cloned). */
  evaluatorOptions?: unknown;
  /** When given, the workers also perform gateway requests (see `gatewayBackend()`). */
  gateway?: GatewayWorkerConfig;
  size: number;
  queueLimit: number;
}) {
  const { logger, metrics } = common;
  const queue: Pending[] = [];
  const slots: Slot[] = [];
  let nextId = 1;
  let closed = false;

  function startSlot(): Slot {
    const worker = spawnWorker({ evaluatorModule, evaluatorOptions, gateway });
    const slot: Slot = { worker, active: new Map(), ready: Promise.resolve() };
    slot.ready = new Promise<void>((resolve, reject) => {
      const onStartError = (error: unknown) => reject(error);
      worker.once("error", onStartError);
      worker.on("message", (message: { ready?: boolean }) => {
        if (message.ready) {
          worker.off("error", onStartError);
          resolve();
        }
      });
    });
    worker.on("message", (message: { id?: number; reply?: WorkerReply }) => {
      if (message.id === undefined) return;
      const done = slot.active.get(message.id);
      if (!done) return;
      slot.active.delete(message.id);
      done.resolve(message.reply!);
      dispatch();
    });
    worker.on("exit", (code) => {
      const index = slots.indexOf(slot);
      if (index >= 0) slots.splice(index, 1);
      for (const pending of slot.active.values()) {
        pending.reject(new RetryableError("Worker exited", { code: "ORACLE_WORKER_EXIT", details: { code } }));
      }
      slot.active.clear();
      if (!closed) {
        logger.error({ code }, "worker exited; starting a new one");
        slots.push(startSlot());
        dispatch();
      }
    });
    void slot.ready.then(dispatch, (error: unknown) => logger.error({ err: String(error) }, "worker failed to start"));
    return slot;
  }

  function dispatch(): void {
    while (queue.length > 0) {
      const slot = slots.filter((s) => s.active.size < TASKS_PER_WORKER).sort((a, b) => a.active.size - b.active.size)[0];
      if (!slot) break;
      const pending = queue.shift()!;
      slot.active.set(pending.id, pending);
      void slot.ready.then(
        () => slot.worker.postMessage({ id: pending.id, job: pending.job }),
        (error: unknown) => {
          slot.active.delete(pending.id);
          pending.reject(new RetryableError("Worker unavailable", { code: "ORACLE_WORKER_START", cause: error }));
        },
      );
    }
    metrics.evalQueueDepth.set(queue.length);
  }

  function run(job: WorkerTask): Promise<WorkerReply> {
    if (closed) return Promise.reject(new ShutdownError());
    if (queue.length >= queueLimit) return Promise.reject(new QueueFullError(queueLimit));
    return new Promise<WorkerReply>((resolve, reject) => {
      queue.push({ id: nextId++, job, resolve, reject });
      dispatch();
    });
  }

  async function runOk(job: WorkerTask): Promise<Extract<WorkerReply, { ok: true }>> {
    const reply = await run(job);
    if (!reply.ok) throw new WorkerTaskError(reply.error);
    return reply;
  }

  for (let i = 0; i < size; i++) slots.push(startSlot());

  return {
    /** Waits until every worker has loaded the evaluator (fails if one cannot). */
    ready: () => Promise.all(slots.map((s) => s.ready)).then(() => undefined),

    async evaluate(task: EvalTask): Promise<EvalOutcome> {
      const started = performance.now();
      const reply = await runOk({ kind: "evaluate", task });
      metrics.evaluationSeconds.observe((performance.now() - started) / 1000);
      return reply.outcome!;
    },

    /**
     * Signs transactions with the oracle key held by the workers (needs `gateway` at creation),
     * split across them; the order of the input is kept.
     */
    async signTransactions(txs: readonly UnsignedTx[]): Promise<SignedTx[]> {
      if (!gateway) throw new Error("pool created without a signing key");
      const parts = Math.max(1, Math.min(slots.length, Math.ceil(txs.length / 8)));
      const size = Math.ceil(txs.length / parts);
      const chunks = Array.from({ length: parts }, (_, i) => txs.slice(i * size, (i + 1) * size)).filter((c) => c.length > 0);
      const replies = await Promise.all(chunks.map((chunk) => runOk({ kind: "signTransactions", txs: [...chunk] })));
      return replies.flatMap((r) => r.signed!);
    },

    /** The gateway, reached from the workers (needs `gateway` at creation). */
    gatewayBackend(): GatewayBackend {
      if (!gateway) throw new Error("pool created without a gateway");
      return {
        url: gateway.url,
        get: async (blobId, parameters) => (await runOk({ kind: "gatewayGet", blobId, purpose: parameters.purpose, ...(parameters.ref ? { ref: parameters.ref } : {}) })).bytes!,
        put: async (bytes, parameters) => (await runOk({
          kind: "gatewayPut", bytes, owner: parameters.owner, blobKind: parameters.kind, category: parameters.category,
          ...(parameters.purpose !== undefined ? { purpose: parameters.purpose } : {}), ...(parameters.ref ? { ref: parameters.ref } : {}),
        })).blobId!,
      };
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
