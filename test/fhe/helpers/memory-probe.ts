/**
 * The memory measurement of test/fhe/memory.test.ts, run in a process of its own so that nothing
 * else (other suites' servers, timers, coverage) allocates while it measures. Prints one JSON line.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

import { createEvaluator, FheClient, loadModel } from "../../../fhe/index.js";
import { sealMemoryBytes } from "../../../fhe/seal.js";
import { loadHeartDisease, loadMaternalRisk } from "../../../models/datasets.js";

/**
 * JavaScript memory in use (heap + ArrayBuffers) after full collections. Collected twice with a
 * turn of the event loop between: ArrayBuffers released by the first collection are freed by
 * tasks that run after it, and a single collection left up to ~13 MiB of them counted.
 */
async function collectedHeapBytes(): Promise<number> {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers; // result blobs live in ArrayBuffers, outside heapUsed
}

const heart = loadModel("heart-disease-lr-v1");
const maternal = loadModel("maternal-risk-v1");
const client = await FheClient.generate("ckks-2048-v1");
const evaluator = await createEvaluator();
const maskKey = new Uint8Array(32).fill(9);
const heartInput = client.encrypt(heart, loadHeartDisease().rows.slice(0, 40));
const maternalInputs = loadMaternalRisk().rows.slice(0, 20).map((row) => client.encrypt(maternal, row));
const columnInput = client.encrypt(maternal, loadMaternalRisk().rows.slice(0, 100), { layout: "columns" });
// With --leak, every result of the measured 1,000 evaluations is retained (≥ 27 MiB), to show the
// measurement sees a leak well above its noise (clean runs: about −1 MiB).
const leaked: Uint8Array[] = [];
const leak = process.argv.includes("--leak");
let measuring = false;
const cycle = async (i: number) => {
  const first = i % 5 === 0
    ? await evaluator.evaluate(maternal, columnInput) // 12 inputs, 2 outputs, scratch
    : await evaluator.evaluate(heart, heartInput, { maskKey }); // private: mask encoded every time
  if (leak && measuring) leaked.push(first);
  const input = maternalInputs[i % maternalInputs.length]!;
  const result = await evaluator.evaluate(maternal, input);
  if (leak && measuring) leaked.push(result);
  if (i % 2 === 0) client.decrypt(maternal, result);
  else client.encrypt(maternal, loadMaternalRisk().rows[i % 50]!);
};
try {
  for (let i = 0; i < 100; i++) await cycle(i); // warm-up: pools and caches reach their size
  const wasmBefore = sealMemoryBytes() ?? 0;
  const rssBefore = process.memoryUsage().rss;
  const jsBefore = await collectedHeapBytes();
  measuring = true;
  for (let i = 0; i < 500; i++) await cycle(i); // 1,000 evaluations
  const wasmGrowth = (sealMemoryBytes() ?? Number.NaN) - wasmBefore;
  const rssGrowth = process.memoryUsage().rss - rssBefore;
  const jsHeapGrowth = (await collectedHeapBytes()) - jsBefore;
  console.log(JSON.stringify({ evaluations: 1_000, wasmGrowth, rssGrowth, jsHeapGrowth, leaked: leaked.length }));
} finally {
  evaluator.dispose();
  client.dispose();
}
