import { expect } from "chai";

import { sha256Hex } from "../../core/hash.js";
import { payloadOf, readBlobHeader } from "../../fhe/blob.js";
import { openCiphertextBlob, writeCiphertextBlob } from "../../fhe/ciphertext-blob.js";
import { tiledCountDivisor, tiledCountSlot } from "../../fhe/encoding.js";
import { createEvaluator, FheClient, FhePublicEncryptor, loadModel, MalformedBlobError, type FheEvaluator } from "../../fhe/index.js";
import { slotCount } from "../../fhe/params.js";
import { parameterContext } from "../../fhe/seal.js";
import { loadMaternalRisk } from "../../models/datasets.js";

const model = loadModel("maternal-risk-v1");
const rows = loadMaternalRisk().rows;
const take = (count: number) => Array.from({ length: count }, (_, i) => rows[i % rows.length]!);

describe("fhe: input ciphertexts in size buckets, the reading count encrypted (not in the header)", function () {
  this.timeout(300_000);
  let client: FheClient;
  let evaluator: FheEvaluator;
  before(async function () {
    client = await FheClient.generate(model.paramSetId);
    evaluator = await createEvaluator();
  });
  after(function () {
    client.dispose();
    evaluator.dispose();
  });

  it("tiled: 1, 2 and a full ciphertext of readings are the same size, say 0 readings in the header, and decrypt to as many predictions", async function () {
    const per = model.encodingSpec.layout.readingsPerCiphertext;
    const sizes = new Set<number>();
    for (const count of [1, 2, 17, per]) {
      const input = client.encrypt(model, take(count));
      expect(readBlobHeader(input).readings).to.equal(0);
      sizes.add(input.length);
      const result = await evaluator.evaluate(model, input, { maskKey: new Uint8Array(32).fill(7) });
      expect(readBlobHeader(result).readings).to.equal(0);
      expect(client.decrypt(model, result, { inputHash: sha256Hex(input) }), `${count} readings`).to.have.length(count);
    }
    expect(sizes.size).to.equal(1);
  });

  it("columns: groups padded to 1, 2, 4 or 8; 1 and 1,024 readings the same size, 2,049 and 4,096 too; counts decrypt exactly (device encryption too)", async function () {
    const device = await FhePublicEncryptor.fromEvaluationKeys(client.evaluationKeys(), model.paramSetId);
    try {
      const size = async (count: number, encryptor: Pick<FheClient, "encrypt"> = client) => {
        const input = encryptor.encrypt(model, take(count), { layout: "columns" });
        expect(readBlobHeader(input).readings).to.equal(0);
        const predictions = client.decrypt(model, await evaluator.evaluate(model, input));
        expect(predictions, `${count} readings`).to.have.length(count);
        return input.length;
      };
      expect(await size(1)).to.equal(await size(1024));
      expect(await size(1025)).to.equal(await size(2048));
      expect(await size(2049)).to.equal(await size(4096));
      expect(await size(2049)).to.be.above(await size(2048));
      expect(await size(3, device)).to.equal(await size(1000, device));
    } finally {
      device.dispose();
    }
  });

  it("a result whose encrypted count was tampered with (a plaintext added to its count slot by the evaluator) → MalformedBlobError, no predictions", async function () {
    const ctx = await parameterContext(model.paramSetId);
    const input = client.encrypt(model, take(3), { codec: "raw" });
    const result = await evaluator.evaluate(model, input);
    const header = readBlobHeader(result);
    const shape = { chainIndex: header.chainIndex, size: header.ciphertextSize, scaleLog2: header.scaleLog2, seeded: false };
    const ct = new ctx.seal.Ciphertext();
    const pt = new ctx.seal.Plaintext();
    try {
      ct.loadFromArray(ctx.context, payloadOf(result));
      const shift = new Float64Array(slotCount(ctx.set));
      shift[tiledCountSlot(model.encodingSpec.layout, shift.length)] = 100 / tiledCountDivisor(model.encodingSpec.layout);
      ctx.encoder.encode(shift, ct.scale(), pt);
      ctx.evaluator.addPlainInplace(ct, pt);
      const tampered = writeCiphertextBlob(ctx, "result", [ct.saveToArray(ctx.seal.ComprModeType.none) as Uint8Array], shape, {
        codec: "raw", readings: 0, binding: header.binding, layout: "tiled",
      });
      expect(() => openCiphertextBlob(ctx, tampered, { kind: "result", chainIndex: 0, size: 2, scaleLog2: header.scaleLog2, layouts: { tiled: { maxReadings: 39, count: () => 1, maxCount: 1, encryptedCount: [1] } } })).to.not.throw();
      expect(() => client.decrypt(model, tampered)).to.throw(MalformedBlobError, /encrypted reading count/);
    } finally {
      ct.delete();
      pt.delete();
    }
  });
});
