/**
 * `npm run bench:fhe` — times the CKKS engine for each shipped model and the N=8192 reference
 * circuit, prints a table and writes bench/results/fhe.json.
 *
 * Per model (ckks-2048-v1, one request = one reading, seeded + packed input):
 *   encryptMs  client: encode + encrypt + serialise          (median)
 *   evalMs     server: the homomorphic work only (ct × pt, plus the mask of a private model)
 *   serverMs   server: evaluate() as the oracle calls it — checks, load, evaluate, serialise
 *   decryptMs  client: load + decrypt + decode + sum + round  (median)
 *   sizes, and maxAbsError / classAgreement over every held-out row against the plaintext model
 *   batchPredictionsPerSecond: worker threads (one per core), each calling evaluate() on
 *   column-layout batch inputs (1,024 readings, one full-form raw ciphertext per feature) already
 *   in memory, results serialised; client encryption excluded. The tiled layout with every block
 *   used is timed the same way (batchTiledPredictionsPerSecond) for comparison.
 * referenceEvalMs: 13-feature LR with rotate-and-sum and cubic sigmoid at N=8192 (eval only).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { isMainThread, parentPort, Worker } from "node:worker_threads";

import { sha256Hex } from "../../core/hash.js";
import { encodeReading } from "../../fhe/encoding.js";
import { createEvaluator, FheClient, loadModel, MODEL_IDS, type EvaluateTimings, type ModelArtifact } from "../../fhe/index.js";
import { createReferenceCircuit, createReferenceClient, referencePlain } from "../../fhe/reference.js";
import { loadHeartDisease, loadMaternalRisk, type Dataset } from "../../models/datasets.js";
import { predictClass, scores } from "../../models/logistic.js";

const MASK_KEY = new Uint8Array(32).fill(0x42); // benchmark only; real mask keys are secrets
/** The issue's targets, for both models. */
const TARGETS = { evalMs: 1, serverMs: 3, inputBytes: 32 * 1024, resultBytes: 32 * 1024, batchPredictionsPerSecond: 500_000 } as const;
const BATCH_SECONDS = 4;

/** `readings`: per input, how many readings it holds (the header no longer says: the count is encrypted). */
type WorkerJob = { modelId: string; inputs: Uint8Array[]; readings: number[]; seconds: number };
type WorkerReport = { predictions: number; evaluations: number; elapsedMs: number };

async function main(): Promise<void> {
  const datasets: Record<string, Dataset> = { "heart-disease-lr-v1": loadHeartDisease(), "maternal-risk-v1": loadMaternalRisk() };
  const threads = availableParallelism();
  const results: Record<string, unknown> = {};
  const rows: string[][] = [];

  for (const id of MODEL_IDS) {
    const model = loadModel(id);
    const data = datasets[id] as Dataset;
    const heldOut = model.training.split.testRows.map((i) => data.rows[i] as Record<string, number>);
    const client = await FheClient.generate(model.paramSetId);
    const evaluator = await createEvaluator();
    const options = { maskKey: MASK_KEY };

    // Accuracy: every held-out row, one request each.
    let maxAbsError = 0;
    let agree = 0;
    for (const reading of heldOut) {
      const [prediction] = client.decrypt(model, await evaluator.evaluate(model, client.encrypt(model, reading), options));
      const plain = scores(model.weights, encodeReading(model.encodingSpec, reading));
      plain.forEach((s, k) => (maxAbsError = Math.max(maxAbsError, Math.abs(s - prediction!.scores[k]!))));
      if (prediction!.classIndex === predictClass(plain)) agree++;
    }

    const reading = heldOut[0]!;
    const encryptMs = median(time(300, () => client.encrypt(model, reading)));
    const input = client.encrypt(model, reading);
    const evalTimes: number[] = [];
    const serverTimes: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const timings = {} as EvaluateTimings;
      const start = performance.now();
      await evaluator.evaluate(model, input, { ...options, timings });
      serverTimes.push(performance.now() - start);
      evalTimes.push(timings.evalMs);
    }
    const result = await evaluator.evaluate(model, input, options);
    const decryptMs = median(time(300, () => client.decrypt(model, result, { inputHash: sha256Hex(input) })));
    const evalKeys = client.evaluationKeys();

    // Batch: full-form raw inputs in memory. Column layout (1,024 readings, one ciphertext per
    // feature) is the batch mode; the tiled layout with every block used is timed for comparison.
    const per = model.encodingSpec.layout.readingsPerCiphertext;
    const slots = 1024;
    const pick = (b: number, count: number) => Array.from({ length: count }, (_, r) => data.rows[(b * count + r) % data.rows.length]!);
    const columnInputs = Array.from({ length: 4 }, (_, b) => client.encrypt(model, pick(b, slots), { layout: "columns", form: "full", codec: "raw" }));
    const tiledInputs = Array.from({ length: 16 }, (_, b) => client.encrypt(model, pick(b, per), { form: "full", codec: "raw" }));
    const columnRequestTimes: number[] = [];
    for (let i = 0; i < 60; i++) {
      const start = performance.now();
      await evaluator.evaluate(model, columnInputs[i % columnInputs.length]!, options);
      if (i >= 10) columnRequestTimes.push(performance.now() - start);
    }
    const batch = await runBatch(model, columnInputs, columnInputs.map(() => slots), threads);
    const tiledBatch = await runBatch(model, tiledInputs, tiledInputs.map(() => per), threads);
    client.dispose();
    evaluator.dispose();

    const entry = {
      paramSetId: model.paramSetId,
      isPrivate: model.isPrivate,
      tupleLength: model.encodingSpec.layout.tupleLength,
      readingsPerCiphertext: per,
      encryptMs: round(encryptMs),
      evalMs: round(median(evalTimes)),
      serverMs: round(median(serverTimes)),
      decryptMs: round(decryptMs),
      inputBytes: input.length,
      resultBytes: result.length,
      evalKeysBytes: evalKeys.length,
      batchLayout: "columns, 1,024 readings per request, full-form raw ciphertexts",
      batchInputBytes: columnInputs[0]!.length,
      // One 1,024-reading column request, one thread: 1,024 / this × threads bounds the batch rate.
      batchRequestMs: round(median(columnRequestTimes)),
      maxAbsError: Number(maxAbsError.toExponential(3)),
      classAgreement: agree / heldOut.length,
      heldOutRows: heldOut.length,
      batchPredictionsPerSecond: Math.round(batch.predictionsPerSecond),
      batchTiledPredictionsPerSecond: Math.round(tiledBatch.predictionsPerSecond),
      batchThreads: threads,
    };
    const misses = [
      entry.evalMs > TARGETS.evalMs && "evalMs",
      entry.serverMs > TARGETS.serverMs && "serverMs",
      entry.inputBytes > TARGETS.inputBytes && "inputBytes",
      entry.resultBytes > TARGETS.resultBytes && "resultBytes",
      entry.batchPredictionsPerSecond < TARGETS.batchPredictionsPerSecond && "batchPredictionsPerSecond",
    ].filter((miss): miss is string => typeof miss === "string");
    results[id] = { ...entry, targetsMissed: misses };
    rows.push([
      id,
      String(entry.encryptMs),
      String(entry.evalMs),
      String(entry.serverMs),
      String(entry.decryptMs),
      kib(entry.inputBytes),
      kib(entry.resultBytes),
      kib(entry.evalKeysBytes),
      entry.maxAbsError.toExponential(1),
      `${(entry.classAgreement * 100).toFixed(1)} %`,
      entry.batchPredictionsPerSecond.toLocaleString("en-US"),
      entry.batchTiledPredictionsPerSecond.toLocaleString("en-US"),
    ]);
  }

  const reference = await benchReference();
  const report = {
    generatedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "unknown", node: process.version, threads },
    notes: "medians; one request = one reading (tiled, seeded, packed); batch = column layout, 1,024 readings per request, full-form raw inputs in memory, evaluate() incl. checks and result serialisation, one worker per core",
    targets: TARGETS,
    models: results,
    referenceEvalMs: reference.evalMs,
    reference,
  };
  mkdirSync(new URL("../../bench/results/", import.meta.url), { recursive: true });
  writeFileSync(new URL("../../bench/results/fhe.json", import.meta.url), `${JSON.stringify(report, null, 2)}\n`);

  const header = ["model", "encrypt ms", "eval ms", "server ms", "decrypt ms", "input", "result", "eval keys", "max |Δ|", "agree", "batch pred/s", "tiled batch pred/s"];
  printTable(header, rows);
  console.log(
    `\nreference (N=8192 [50,40,40,40,48], rotate-and-sum + cubic sigmoid on the server): eval ${reference.evalMs} ms, ` +
      `encrypt ${reference.encryptMs} ms, input ${kib(reference.inputBytes)}, eval keys ${kib(reference.evalKeysBytes)}, max |Δ| ${reference.maxAbsError.toExponential(1)}`,
  );
  for (const [id, entry] of Object.entries(results) as [string, { targetsMissed: string[] }][]) {
    console.log(`${id}: ${entry.targetsMissed.length === 0 ? "meets every target" : `misses ${entry.targetsMissed.join(", ")}`}`);
  }
  console.log("written: bench/results/fhe.json");
}

async function benchReference() {
  // A 13-feature LR on the heart data's raw inputs, standardised (weights from a quick fit).
  const { fitLogistic } = await import("../../models/logistic.js");
  const heart = loadHeartDisease();
  const names = heart.inputNames;
  const means = names.map((n) => heart.rows.reduce((s, r) => s + r[n]!, 0) / heart.rows.length);
  const stds = names.map((n, f) => Math.sqrt(heart.rows.reduce((s, r) => s + (r[n]! - means[f]!) ** 2, 0) / heart.rows.length));
  const xs = heart.rows.map((r) => Float64Array.from([...names.map((n, f) => (r[n]! - means[f]!) / stds[f]!), 1]));
  const fitted = fitLogistic(xs, heart.labels, 2, 30)[0]!;
  const weights = fitted.slice(0, 13);
  const bias = fitted[13]!;

  const client = await createReferenceClient();
  const circuit = await createReferenceCircuit(weights, bias, client.evaluationKeys);
  try {
    const x = Array.from(xs[0]!.subarray(0, 13));
    const encryptTimes = time(20, () => client.encrypt(x));
    const inputBytes = client.encrypt(x);
    const input = circuit.load(inputBytes);
    const evalTimes: number[] = [];
    let maxAbsError = 0;
    for (let i = 0; i < 30; i++) {
      const start = performance.now();
      const output = circuit.evaluate(input);
      evalTimes.push(performance.now() - start);
      if (i < 3) maxAbsError = Math.max(maxAbsError, Math.abs(client.decrypt(output) - referencePlain(weights, bias, x)));
      output.delete();
    }
    input.delete();
    return {
      paramSetId: "ckks-8192-v1",
      evalMs: round(median(evalTimes)),
      encryptMs: round(median(encryptTimes)),
      inputBytes: inputBytes.length,
      evalKeysBytes: client.evaluationKeys.length,
      maxAbsError,
    };
  } finally {
    circuit.dispose();
    client.dispose();
  }
}

async function runBatch(model: ModelArtifact, inputs: Uint8Array[], readings: number[], threads: number): Promise<{ predictionsPerSecond: number }> {
  const api = import.meta.resolve("tsx/esm/api");
  const bootstrap = `import(${JSON.stringify(api)}).then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const workers = Array.from({ length: threads }, () => new Worker(bootstrap, { eval: true }));
  const ready = workers.map((worker) => new Promise<void>((resolve, reject) => {
    worker.once("message", () => resolve());
    worker.once("error", reject);
  }));
  workers.forEach((worker) => worker.postMessage({ modelId: model.id, inputs, readings, seconds: BATCH_SECONDS } satisfies WorkerJob));
  await Promise.all(ready);
  const reports = workers.map((worker) => new Promise<WorkerReport>((resolve) => worker.once("message", resolve)));
  workers.forEach((worker) => worker.postMessage("go"));
  const done = await Promise.all(reports);
  await Promise.all(workers.map((worker) => worker.terminate()));
  const elapsed = Math.max(...done.map((r) => r.elapsedMs)) / 1000;
  return { predictionsPerSecond: done.reduce((s, r) => s + r.predictions, 0) / elapsed };
}

async function runWorker(): Promise<void> {
  const port = parentPort!;
  const job = await new Promise<WorkerJob>((resolve) => port.once("message", resolve));
  const model = loadModel(job.modelId);
  const evaluator = await createEvaluator();
  const options = { maskKey: MASK_KEY };
  const readings = job.readings;
  for (let i = 0; i < 50; i++) await evaluator.evaluate(model, job.inputs[i % job.inputs.length]!, options); // warm-up
  port.postMessage("ready");
  await new Promise((resolve) => port.once("message", resolve));
  let predictions = 0;
  let evaluations = 0;
  const start = performance.now();
  const deadline = start + job.seconds * 1000;
  while (performance.now() < deadline) {
    for (let i = 0; i < 8; i++) {
      const input = job.inputs[evaluations % job.inputs.length]!;
      const result = await evaluator.evaluate(model, input, options);
      if (result.length === 0) throw new Error("empty result");
      predictions += readings[evaluations % job.inputs.length]!;
      evaluations++;
    }
  }
  port.postMessage({ predictions, evaluations, elapsedMs: performance.now() - start } satisfies WorkerReport);
  evaluator.dispose();
}

function time(runs: number, body: () => unknown): number[] {
  for (let i = 0; i < Math.min(20, runs); i++) body();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    body();
    times.push(performance.now() - start);
  }
  return times;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const round = (v: number) => Number(v.toFixed(3));
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const row of rows) console.log(line(row));
}

// Last, so every constant above is initialised: the same file is the main script and the worker.
if (isMainThread) await main();
else await runWorker();
