import { expect } from "chai";

import { createEvaluator, FheClient, loadModel } from "../../fhe/index.js";
import { sealMemoryBytes } from "../../fhe/seal.js";
import { loadHeartDisease, loadMaternalRisk } from "../../models/datasets.js";

describe("fhe: memory stays flat", function () {
  this.timeout(120_000);

  it("over 1,000 evaluations and 1,000 client round trips (WebAssembly heap unchanged, RSS bounded)", async function () {
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
      for (let i = 0; i < 500; i++) await cycle(i); // 1,000 evaluations
      const heapAfter = sealMemoryBytes();
      const rssGrowth = process.memoryUsage().rss - rssBefore;
      expect(heapBefore).to.be.a("number");
      // One leaked ciphertext per evaluation would add ~32 MiB.
      expect(heapAfter! - heapBefore!).to.be.at.most(1024 * 1024);
      expect(rssGrowth).to.be.below(24 * 1024 * 1024);
    } finally {
      evaluator.dispose();
      client.dispose();
    }
  });
});
