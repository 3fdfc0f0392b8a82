import { parentPort, workerData } from "node:worker_threads";

import type { EvalTask, Evaluator } from "./types.js";

/** An evaluation worker: loads the evaluator module once, then serves tasks one at a time. */
type Message = { id: number; task: EvalTask };

const { evaluatorModule, evaluatorOptions } = workerData as { evaluatorModule: string; evaluatorOptions?: unknown };
const port = parentPort!;
const loaded = (await import(evaluatorModule)) as { createEvaluator: (options?: unknown) => Promise<Evaluator> };
const evaluator = await loaded.createEvaluator(evaluatorOptions);
port.postMessage({ ready: true });

port.on("message", async ({ id, task }: Message) => {
  try {
    const outcome = await evaluator.evaluate(task);
    if (outcome.ok) port.postMessage({ id, outcome }, [outcome.result.buffer as ArrayBuffer]);
    else port.postMessage({ id, outcome });
  } catch (error) {
    const e = error as { code?: string; message?: string };
    port.postMessage({ id, outcome: { ok: false, code: e.code ?? "ORACLE_EVAL_CRASH", message: e.message ?? String(error), reason: null } });
  }
});
