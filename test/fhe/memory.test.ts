import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

import { expect } from "chai";

import { createEvaluator, FheClient, loadModel } from "../../fhe/index.js";
import { sealMemoryBytes } from "../../fhe/seal.js";
import { loadHeartDisease, loadMaternalRisk } from "../../models/datasets.js";

/** JavaScript memory in use (heap + ArrayBuffers) after a full collection (gc exposed at run time for this measurement). */
function collectedHeapBytes(): number {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers; // result blobs live in ArrayBuffers, outside heapUsed
}

describe("fhe: memory stays flat", function () {
  this.timeout(120_000);

  it("over 1,000 evaluations and 500 client operations (WebAssembly heap unchanged, JS heap and RSS bounded)", async function () {
    const heart = loadModel("heart-disease-lr-v1");
    const maternal = loadModel("maternal-risk-v1");
    const client = await FheClient.generate("ckks-2048-v1");
    const evaluator = await createEvaluator();
    const maskKey = new Uint8Array(32).fill(9);
    const heartInput = client.encrypt(heart, loadHeartDisease().rows.slice(0, 40));
    const maternalInputs = loadMaternalRisk().rows.slice(0, 20).map((row) => client.encrypt(maternal, row));
    const columnInput = client.encrypt(maternal, loadMaternalRisk().rows.slice(0, 100), { layout: "columns" });
    const cycle = async (i: number) => {
      if (i % 5 === 0) await evaluator.evaluate(maternal, columnInput); // 12 inputs, 2 outputs, scratch
      else await evaluator.evaluate(heart, heartInput, { maskKey }); // private: mask encoded every time
      const input = maternalInputs[i % maternalInputs.length]!;
      const result = await evaluator.evaluate(maternal, input);
      if (i % 2 === 0) client.decrypt(maternal, result);
      else client.encrypt(maternal, loadMaternalRisk().rows[i % 50]!);
    };
    try {
      for (let i = 0; i < 100; i++) await cycle(i); // warm-up: pools and caches reach their size
      const heapBefore = sealMemoryBytes();
      const rssBefore = process.memoryUsage().rss;
      const jsHeapBefore = collectedHeapBytes();
      for (let i = 0; i < 500; i++) await cycle(i); // 1,000 evaluations
      const heapAfter = sealMemoryBytes();
      const rssGrowth = process.memoryUsage().rss - rssBefore;
      const jsHeapAfter = collectedHeapBytes();
      expect(heapBefore).to.be.a("number");
      // One leaked ciphertext per evaluation would add ~32 MiB.
      expect(heapAfter! - heapBefore!).to.be.at.most(1024 * 1024);
      expect(rssGrowth).to.be.below(64 * 1024 * 1024); // allocator slack; the precise checks are the two heaps
      expect(jsHeapAfter - jsHeapBefore).to.be.below(4 * 1024 * 1024); // 1,000 retained results would be ≥ 27 MiB
    } finally {
      evaluator.dispose();
      client.dispose();
    }
  });
});
