import { Worker } from "node:worker_threads";

import { expect } from "chai";
import type { MainModule } from "node-seal";

import { sha256Hex } from "../../core/hash.js";
import { readBlobHeader } from "../../fhe/blob.js";
import { encodeReading } from "../../fhe/encoding.js";
import { createEvaluator, FheClient, FhePublicEncryptor, loadModel, type FheEvaluator, type ModelArtifact } from "../../fhe/index.js";
import { openSecretKey } from "../../fhe/keys.js";
import type { PrecisionPath } from "../../fhe/model.js";
import { fixedCount, openCiphertextBlob } from "../../fhe/ciphertext-blob.js";
import { parameterContext } from "../../fhe/seal.js";
import { loadHeartDisease, loadMaternalRisk, type Dataset } from "../../models/datasets.js";
import { predictClass, scores } from "../../models/logistic.js";

const MASK_KEY = new Uint8Array(32).fill(0x5a);

const cases: { model: ModelArtifact; data: Dataset }[] = [
  { model: loadModel("heart-disease-lr-v1"), data: loadHeartDisease() },
  { model: loadModel("maternal-risk-v1"), data: loadMaternalRisk() },
];

describe("fhe: engine (ckks-2048-v1)", function () {
  this.timeout(60_000);
  let evaluator: FheEvaluator;
  const clients = new Map<string, FheClient>();
  const client = (model: ModelArtifact) => clients.get(model.paramSetId) as FheClient;

  before(async function () {
    evaluator = await createEvaluator();
    for (const { model } of cases) if (!clients.has(model.paramSetId)) clients.set(model.paramSetId, await FheClient.generate(model.paramSetId));
  });
  after(function () {
    evaluator.dispose();
    for (const c of clients.values()) c.dispose();
  });

  for (const { model, data } of cases) {
    describe(model.id, function () {
      const heldOut = () => model.training.split.testRows.map((i) => data.rows[i] as Record<string, number>);
      const plaintextScores = (reading: Record<string, number>) => scores(model.weights, encodeReading(model.encodingSpec, reading));

      it("round-trips one reading within the size targets", async function () {
        const reading = heldOut()[0]!;
        const input = client(model).encrypt(model, reading);
        const result = await evaluator.evaluate(model, input, { maskKey: MASK_KEY });
        expect(input.length).to.be.at.most(32 * 1024);
        expect(result.length).to.be.at.most(32 * 1024);
        const [prediction] = client(model).decrypt(model, result, { inputHash: sha256Hex(input) });
        const plain = plaintextScores(reading);
        expect(prediction!.scores).to.have.length(plain.length);
        prediction!.scores.forEach((s, k) => expect(Math.abs(s - plain[k]!)).to.be.at.most(statedError(model, "single")));
        expect(prediction!.classIndex).to.equal(predictClass(plain));
        expect(prediction!.label).to.equal(model.output.labels[prediction!.classIndex]);
        expectNear(prediction!.probabilities.reduce((a, b) => a + b, 0), 1, 0.01);
      });

      it("agrees with the plaintext model on every held-out row, one request each (|Δscore| within the stated bound, same class)", async function () {
        let maxDiff = 0;
        let agree = 0;
        for (const reading of heldOut()) {
          const input = client(model).encrypt(model, reading);
          const [prediction] = client(model).decrypt(model, await evaluator.evaluate(model, input, { maskKey: MASK_KEY }));
          const plain = plaintextScores(reading);
          plain.forEach((s, k) => (maxDiff = Math.max(maxDiff, Math.abs(s - prediction!.scores[k]!))));
          if (prediction!.classIndex === predictClass(plain)) agree++;
        }
        expect(maxDiff).to.be.at.most(statedError(model, "single"));
        expect(agree).to.equal(heldOut().length);
      });

      it("scores a batch of readings packed in one ciphertext, in order, like the plaintext model", async function () {
        const rows = heldOut();
        const per = model.encodingSpec.layout.readingsPerCiphertext;
        let maxDiff = 0;
        let agree = 0;
        for (let start = 0; start < rows.length; start += per) {
          const batch = rows.slice(start, start + per);
          const input = client(model).encrypt(model, batch, { form: "full" });
          // The count travels inside the ciphertext: the header says 0 whatever the batch.
          expect(readBlobHeader(input).readings).to.equal(0);
          const predictions = client(model).decrypt(model, await evaluator.evaluate(model, input, { maskKey: MASK_KEY }));
          expect(predictions).to.have.length(batch.length);
          predictions.forEach((prediction, i) => {
            const plain = plaintextScores(batch[i]!);
            plain.forEach((s, k) => (maxDiff = Math.max(maxDiff, Math.abs(s - prediction.scores[k]!))));
            if (prediction.classIndex === predictClass(plain)) agree++;
          });
        }
        expect(maxDiff).to.be.at.most(statedError(model, "tiledBatch"));
        expect(agree).to.equal(rows.length);
      });

      it("scores every held-out row in one column batch (one ciphertext per feature), like the plaintext model", async function () {
        const rows = heldOut();
        const input = client(model).encrypt(model, rows, { layout: "columns", form: "full", codec: "raw" });
        const header = readBlobHeader(input, "input");
        expect([header.layout, header.readings]).to.deep.equal(["columns", 0]);
        const result = await evaluator.evaluate(model, input); // no mask key: a column result holds scores only
        expect(readBlobHeader(result).layout).to.equal("columns");
        const predictions = client(model).decrypt(model, result, { inputHash: sha256Hex(input) });
        expect(predictions).to.have.length(rows.length);
        let maxDiff = 0;
        predictions.forEach((prediction, i) => {
          const plain = plaintextScores(rows[i]!);
          plain.forEach((s, k) => (maxDiff = Math.max(maxDiff, Math.abs(s - prediction.scores[k]!))));
          expect(prediction.classIndex).to.equal(predictClass(plain));
        });
        expect(maxDiff).to.be.at.most(statedError(model, "columns"));
        const again = await evaluator.evaluate(model, input);
        expect(sha256Hex(again)).to.equal(sha256Hex(result));
      });

      it("evaluates deterministically: same input, byte-identical result, across evaluator instances", async function () {
        const input = client(model).encrypt(model, heldOut().slice(0, 3));
        const second = await createEvaluator();
        try {
          const a = await evaluator.evaluate(model, input, { maskKey: MASK_KEY });
          const b = await evaluator.evaluate(model, input, { maskKey: MASK_KEY });
          const c = await second.evaluate(model, input, { maskKey: MASK_KEY });
          expect(sha256Hex(a)).to.equal(sha256Hex(b)).and.to.equal(sha256Hex(c));
          // Encryption, in contrast, is randomised.
          expect(sha256Hex(client(model).encrypt(model, heldOut().slice(0, 3)))).to.not.equal(sha256Hex(input));
        } finally {
          second.dispose();
        }
      });

      it("reads an input held in a Node Buffer view (non-zero byteOffset, shared pool) exactly like a plain Uint8Array", async function () {
        const input = client(model).encrypt(model, heldOut().slice(0, 2), { codec: "packed", form: "full" });
        // What fs.readFile / HTTP bodies hand over: a Buffer inside a larger allocation.
        const pool = Buffer.alloc(input.length + 3 * 1024);
        pool.set(input, 1024);
        const view = pool.subarray(1024, 1024 + input.length);
        expect(view.byteOffset).to.not.equal(0);
        const fromView = await evaluator.evaluate(model, view, { maskKey: MASK_KEY });
        const fromCopy = await evaluator.evaluate(model, input, { maskKey: MASK_KEY });
        expect(sha256Hex(fromView)).to.equal(sha256Hex(fromCopy));
      });

      it("gives the same result bytes in another thread's SEAL instance (independent oracles agree)", async function () {
        const input = client(model).encrypt(model, heldOut().slice(0, 2));
        const here = await evaluator.evaluate(model, input, { maskKey: MASK_KEY });
        const there = await evaluateInWorker(model.id, input, MASK_KEY);
        expect(sha256Hex(there)).to.equal(sha256Hex(here));
      });

      it("binds the result to its input and round-trips raw and packed codecs alike", async function () {
        const reading = heldOut()[1]!;
        const raw = client(model).encrypt(model, reading, { codec: "raw" });
        const packed = client(model).encrypt(model, reading, { codec: "packed", form: "full" });
        expect(readBlobHeader(raw).codec).to.equal("raw");
        const result = await evaluator.evaluate(model, raw, { maskKey: MASK_KEY });
        expect(readBlobHeader(result).binding).to.equal(sha256Hex(raw));
        const [a] = client(model).decrypt(model, result, { inputHash: sha256Hex(raw) });
        const [b] = client(model).decrypt(model, await evaluator.evaluate(model, packed, { maskKey: MASK_KEY }));
        expect(a!.classIndex).to.equal(b!.classIndex);
        a!.scores.forEach((s, k) => expectNear(s, b!.scores[k]!, 2 * statedError(model, "single")));
      });
    });
  }

  it("masks a private model's partial products: slots are not w·x, range sums are unchanged", async function () {
    const { model, data } = cases.find((c) => c.model.isPrivate)!;
    const reading = data.rows[model.training.split.testRows[0]!]!;
    const input = client(model).encrypt(model, reading);
    const masked = await evaluator.evaluate(model, input, { maskKey: MASK_KEY });
    const otherKey = await evaluator.evaluate(model, input, { maskKey: new Uint8Array(32).fill(1) });
    expect(sha256Hex(otherKey)).to.not.equal(sha256Hex(masked));
    expect(client(model).decrypt(model, otherKey)[0]!.scores).to.deep.equal(client(model).decrypt(model, masked)[0]!.scores);

    // Decrypt the raw slots the way an attacker-patient would, bypassing the client's summing.
    const slots = await rawSlots(client(model), masked);
    const tuple = encodeReading(model.encodingSpec, reading);
    const partials = model.weights[0]!.map((w, f) => w * tuple[f]!);
    const firstRange = Array.from(slots.subarray(0, partials.length));
    const maxSlotGap = Math.max(...firstRange.map((v, f) => Math.abs(v - partials[f]!)));
    expect(maxSlotGap).to.be.above(1); // partial products are ≤ slotBound ≈ 2.2; the mask is uniform in ±16
    expectNear(firstRange.reduce((a, b) => a + b, 0), partials.reduce((a, b) => a + b, 0), 1e-3);
  });

  it("scores a day of per-minute vitals (1,440 readings, two column groups) in one request", async function () {
    const { model, data } = cases[1]!;
    const day = Array.from({ length: 1440 }, (_, i) => data.rows[(i * 7) % data.rows.length]!);
    const input = client(model).encrypt(model, day, { layout: "columns" });
    const result = await evaluator.evaluate(model, input);
    const packedCiphertextBytes = 113 + 2048 * 2 * 4 + (2048 * 2 * 22) / 8; // metadata, low words, 22-bit high parts
    // 2 groups × 2 scores, and the encrypted count
    expect(readBlobHeader(result).payloadLength).to.equal((2 * 2 + 1) * packedCiphertextBytes);
    const predictions = client(model).decrypt(model, result, { inputHash: sha256Hex(input) });
    expect(predictions).to.have.length(1440);
    for (const i of [0, 1023, 1024, 1439]) {
      const plain = scores(model.weights, encodeReading(model.encodingSpec, day[i]!));
      expect(predictions[i]!.classIndex).to.equal(predictClass(plain));
      plain.forEach((s, k) => expect(Math.abs(s - predictions[i]!.scores[k]!)).to.be.at.most(statedError(model, "columns")));
    }
    const tooMany = Array.from({ length: 8 * 1024 + 1 }, () => day[0]!);
    expect(() => client(model).encrypt(model, tooMany, { layout: "columns" })).to.throw(/wrong number of readings/);
  });

  it("leaves a public model's slots as the partial products", async function () {
    const { model, data } = cases.find((c) => !c.model.isPrivate)!;
    const reading = data.rows[model.training.split.testRows[0]!]!;
    const slots = await rawSlots(client(model), await evaluator.evaluate(model, client(model).encrypt(model, reading)));
    const tuple = encodeReading(model.encodingSpec, reading);
    model.weights[0]!.forEach((w, f) => expectNear(slots[f], w * tuple[f]!, 1e-3));
  });

  for (const { model, data } of cases) {
    it(`lets a device encrypt with the patient's public keys (${model.id}): every held-out row within the stated bound, tiled and columns`, async function () {
      const keys = client(model).evaluationKeys();
      const device = await FhePublicEncryptor.fromEvaluationKeys(keys, model.paramSetId);
      try {
        const rows = model.training.split.testRows.map((i) => data.rows[i]!);
        const per = model.encodingSpec.layout.readingsPerCiphertext;
        const inputs = [device.encrypt(model, rows, { layout: "columns" })];
        for (let start = 0; start < rows.length; start += per) inputs.push(device.encrypt(model, rows.slice(start, start + per)));
        expect(inputs[1]!.length).to.be.at.most(32 * 1024);
        const columns = client(model).decrypt(model, await evaluator.evaluate(model, inputs[0]!, { evaluationKeys: keys, expectedKeysHash: sha256Hex(keys) }));
        const tiled: typeof columns = [];
        for (const input of inputs.slice(1)) tiled.push(...client(model).decrypt(model, await evaluator.evaluate(model, input, { maskKey: MASK_KEY })));
        for (const [path, predictions] of [["columns", columns], ["tiledBatch", tiled]] as const) {
          expect(predictions).to.have.length(rows.length);
          let maxDiff = 0;
          predictions.forEach((p, i) => {
            const plain = scores(model.weights, encodeReading(model.encodingSpec, rows[i]!));
            plain.forEach((s, k) => (maxDiff = Math.max(maxDiff, Math.abs(s - p.scores[k]!))));
            expect(p.classIndex).to.equal(predictClass(plain));
          });
          expect(maxDiff).to.be.at.most(statedError(model, path));
        }
      } finally {
        device.dispose();
      }
    });
  }
});

/** Evaluates in a fresh worker thread; TypeScript there goes through tsx's loader. */
async function evaluateInWorker(modelId: string, input: Uint8Array, maskKey: Uint8Array): Promise<Uint8Array> {
  const api = import.meta.resolve("tsx/esm/api");
  const entry = new URL("./evaluate-worker.ts", import.meta.url).href;
  const bootstrap = `import(${JSON.stringify(api)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`;
  const worker = new Worker(bootstrap, { eval: true, workerData: { modelId, input, maskKey } });
  try {
    return await new Promise<Uint8Array>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
  } finally {
    await worker.terminate();
  }
}

/** Test-only: the decoded slots of a result, unsummed and unrounded (what the client API never returns). */
async function rawSlots(client: FheClient, result: Uint8Array): Promise<Float64Array> {
  const { secretKeyBytes } = await openSecretKey(await client.exportSecretKey("test"), "test");
  const ctx = await parameterContext(client.paramSetId);
  const seal: MainModule = ctx.seal;
  const secretKey = new seal.SecretKey();
  const ciphertext = new seal.Ciphertext();
  const plaintext = new seal.Plaintext();
  secretKey.loadFromArray(ctx.context, secretKeyBytes);
  const decryptor = new seal.Decryptor(ctx.context, secretKey);
  try {
    const header = readBlobHeader(result, "result");
    const { ciphertexts } = openCiphertextBlob(ctx, result, { kind: "result", chainIndex: 0, size: 2, scaleLog2: header.scaleLog2, layouts: { tiled: fixedCount(1, 1024) } });
    ciphertext.loadFromArray(ctx.context, ciphertexts[0]!);
    decryptor.decrypt(ciphertext, plaintext);
    return Float64Array.from(ctx.encoder.decodeFloat64(plaintext) as Float64Array);
  } finally {
    decryptor.delete();
    secretKey.delete();
    ciphertext.delete();
    plaintext.delete();
  }
}

/** The precision an application gets on `path`: the stated noise bound plus half a rounding step. */
function statedError(model: ModelArtifact, path: PrecisionPath): number {
  return model.output.scoreNoise[path] + 0.5 * 10 ** -model.output.scoreDecimals;
}

/**
 * |actual − expected| ≤ tolerance. Not chai's closeTo: hardhat-ethers-chai-matchers replaces it
 * with a bigint-only version once any test file loads the plugin, and these values are floats.
 */
function expectNear(actual: number | undefined, expected: number, tolerance: number): void {
  expect(actual, "value").to.be.a("number");
  expect(Math.abs(actual! - expected), `|${actual} - ${expected}|`).to.be.at.most(tolerance);
}
