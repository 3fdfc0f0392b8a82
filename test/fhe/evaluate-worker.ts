// Worker-thread entry for engine.test.ts (its own SEAL WebAssembly instance): evaluates and
// returns the result. Mocha also imports every file under test/, so outside a worker it does nothing.
import { isMainThread, parentPort, workerData } from "node:worker_threads";

import { createEvaluator, loadModel } from "../../fhe/index.js";

if (!isMainThread && parentPort !== null) {
  const { modelId, input, maskKey } = workerData as { modelId: string; input: Uint8Array; maskKey: Uint8Array };
  const evaluator = await createEvaluator();
  parentPort.postMessage(await evaluator.evaluate(loadModel(modelId), input, { maskKey }));
  evaluator.dispose();
}
