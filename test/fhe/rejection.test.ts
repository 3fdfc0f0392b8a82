import { expect } from "chai";

import { BaseError } from "../../core/errors.js";
import { sha256Hex } from "../../core/hash.js";
import { HEADER_BYTES, readBlobHeader, writeBlob } from "../../fhe/blob.js";
import {
  BlobTooLargeError,
  createEvaluator,
  FheClient,
  InvalidReadingError,
  KeysHashMismatchError,
  loadModel,
  MalformedBlobError,
  MaskKeyRequiredError,
  MissingEvaluationKeysError,
  ResultBindingError,
  SealOperationError,
  UnsupportedBlobVersionError,
  WrongBlobKindError,
  WrongCiphertextShapeError,
  WrongModelError,
  WrongParameterSetError,
  type FheEvaluator,
} from "../../fhe/index.js";
import { readEvaluationKeysBlob, writeEvaluationKeysBlob } from "../../fhe/keys.js";
import { sealMemoryBytes } from "../../fhe/seal.js";
import { loadHeartDisease, loadMaternalRisk } from "../../models/datasets.js";

const heart = loadModel("heart-disease-lr-v1");
const maternal = loadModel("maternal-risk-v1");
const heartReading = loadHeartDisease().rows[0]!;
const maternalReading = loadMaternalRisk().rows[0]!;
const MASK_KEY = new Uint8Array(32).fill(3);

/** A copy of `blob` with `bytes` written at `offset`. */
function patched(blob: Uint8Array, offset: number, bytes: ArrayLike<number>): Uint8Array {
  const copy = Uint8Array.from(blob);
  copy.set(bytes, offset);
  return copy;
}

async function expectRejection(promise: Promise<unknown>, type: new (...args: never[]) => BaseError, code: string): Promise<void> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(type);
    expect(error).to.be.instanceOf(BaseError);
    expect((error as BaseError).code).to.equal(code);
    return;
  }
  expect.fail(`expected ${type.name}`);
}

describe("fhe: the evaluator rejects what it does not expect, before SEAL parses it", function () {
  this.timeout(60_000);
  let evaluator: FheEvaluator;
  let client: FheClient;
  let input: Uint8Array;
  const evaluate = (blob: Uint8Array, model = maternal, options = {}) => evaluator.evaluate(model, blob, options);

  before(async function () {
    evaluator = await createEvaluator();
    client = await FheClient.generate("ckks-2048-v1");
    input = client.encrypt(maternal, maternalReading);
    await evaluate(input); // warm: contexts and weights exist before memory is measured
  });
  after(function () {
    evaluator.dispose();
    client.dispose();
  });

  it("accepts the untouched input (the cases below differ from it in one field)", async function () {
    expect(readBlobHeader(await evaluate(input), "result").binding).to.equal(sha256Hex(input));
  });

  it("huge blob → BlobTooLargeError, without touching WebAssembly memory", async function () {
    const before = sealMemoryBytes();
    await expectRejection(evaluate(new Uint8Array(16 * 1024 * 1024)), BlobTooLargeError, "FHE_BLOB_TOO_LARGE");
    // A valid header in front of more bytes than the largest column batch (8 groups × 12 features × 32 KiB).
    const oversized = new Uint8Array(4 * 1024 * 1024);
    oversized.set(input);
    await expectRejection(evaluate(oversized), BlobTooLargeError, "FHE_BLOB_TOO_LARGE");
    expect(sealMemoryBytes()).to.equal(before);
  });

  it("truncated, bad magic, reserved bytes, payload length → MalformedBlobError", async function () {
    await expectRejection(evaluate(input.subarray(0, 50)), MalformedBlobError, "FHE_MALFORMED_BLOB");
    await expectRejection(evaluate(input.subarray(0, input.length - 1)), MalformedBlobError, "FHE_MALFORMED_BLOB");
    await expectRejection(evaluate(patched(input, 0, [0x4e])), MalformedBlobError, "FHE_MALFORMED_BLOB");
    await expectRejection(evaluate(patched(input, 90, [1])), MalformedBlobError, "FHE_MALFORMED_BLOB");
    await expectRejection(evaluate(patched(input, 7, [2])), MalformedBlobError, "FHE_MALFORMED_BLOB");
    await expectRejection(evaluate(patched(input, 6, [9])), MalformedBlobError, "FHE_MALFORMED_BLOB");
    await expectRejection(evaluate(patched(input, 43, [9])), MalformedBlobError, "FHE_MALFORMED_BLOB");
    // A tiled ciphertext declared as a column batch: the payload is not 12 ciphertexts long.
    await expectRejection(evaluate(patched(input, 43, [1])), MalformedBlobError, "FHE_MALFORMED_BLOB");
  });

  it("unknown format version → UnsupportedBlobVersionError", async function () {
    await expectRejection(evaluate(patched(input, 4, [2])), UnsupportedBlobVersionError, "FHE_UNSUPPORTED_VERSION");
  });

  it("a result or key blob where an input belongs → WrongBlobKindError", async function () {
    const result = await evaluate(input);
    await expectRejection(evaluate(result), WrongBlobKindError, "FHE_WRONG_KIND");
    await expectRejection(evaluate(client.evaluationKeys()), WrongBlobKindError, "FHE_WRONG_KIND");
    expect(() => client.decrypt(maternal, input)).to.throw(WrongBlobKindError);
  });

  it("another parameter set → WrongParameterSetError", async function () {
    const id = new Uint8Array(32);
    id.set(new TextEncoder().encode("ckks-8192-v1"));
    await expectRejection(evaluate(patched(input, 8, id)), WrongParameterSetError, "FHE_WRONG_PARAMETER_SET");
  });

  it("an input encoded for another model → WrongModelError", async function () {
    await expectRejection(evaluate(client.encrypt(heart, heartReading), maternal), WrongModelError, "FHE_WRONG_MODEL");
  });

  it("wrong level, size, scale or reading count → WrongCiphertextShapeError", async function () {
    await expectRejection(evaluate(patched(input, 40, [1])), WrongCiphertextShapeError, "FHE_WRONG_SHAPE");
    await expectRejection(evaluate(patched(input, 41, [3])), WrongCiphertextShapeError, "FHE_WRONG_SHAPE");
    await expectRejection(evaluate(patched(input, 42, [26])), WrongCiphertextShapeError, "FHE_WRONG_SHAPE");
    // 0 is the current form (the count is encrypted); a clear count above the layout's capacity is refused.
    await expectRejection(evaluate(patched(input, 44, [maternal.encodingSpec.layout.readingsPerCiphertext + 1, 0, 0, 0])), WrongCiphertextShapeError, "FHE_WRONG_SHAPE");
    await expectRejection(evaluate(patched(input, 44, [0xff, 0xff, 0, 0])), WrongCiphertextShapeError, "FHE_WRONG_SHAPE");
  });

  it("SEAL metadata or seed record that differ from the only acceptable ones → MalformedBlobError", async function () {
    const before = sealMemoryBytes();
    // parms_id, then the coefficient count SEAL would allocate for, then the PRNG type of the seed record.
    await expectRejection(evaluate(patched(input, HEADER_BYTES + 20, [0xff])), MalformedBlobError, "FHE_MALFORMED_BLOB");
    await expectRejection(evaluate(patched(input, HEADER_BYTES + 105, [0xff, 0xff, 0xff, 0x7f])), MalformedBlobError, "FHE_MALFORMED_BLOB");
    await expectRejection(evaluate(patched(input, input.length - 65, [2])), MalformedBlobError, "FHE_MALFORMED_BLOB");
    expect(sealMemoryBytes()).to.equal(before);
  });

  it("a coefficient at or above its prime → SealOperationError (SEAL's own check)", async function () {
    // Packed layout: 113 metadata bytes, 4-byte low words, then the 22-bit high parts.
    const lowWords = HEADER_BYTES + 113;
    const highBits = lowWords + 2048 * 4;
    const crafted = patched(input, lowWords, [0xff, 0xff, 0xff, 0xff]);
    crafted.set([0xff, 0xff, 0x3f | (crafted[highBits + 2]! & 0xc0)], highBits);
    await expectRejection(evaluate(crafted), SealOperationError, "FHE_SEAL_FAILURE");
  });

  it("evaluation keys: hash mismatch, hash without keys, other parameter set, malformed sections", async function () {
    const keys = client.evaluationKeys();
    const otherKeys = client.evaluationKeys();
    await expectRejection(evaluate(input, maternal, { evaluationKeys: otherKeys, expectedKeysHash: sha256Hex(keys) }), KeysHashMismatchError, "FHE_KEYS_HASH_MISMATCH");
    await expectRejection(evaluate(input, maternal, { expectedKeysHash: sha256Hex(keys) }), MissingEvaluationKeysError, "FHE_MISSING_EVALUATION_KEYS");
    const sections = readEvaluationKeysBlob(keys, "ckks-2048-v1");
    const foreign = writeEvaluationKeysBlob("ckks-8192-v1", sections);
    await expectRejection(evaluate(input, maternal, { evaluationKeys: foreign }), WrongParameterSetError, "FHE_WRONG_PARAMETER_SET");
    const badCount = patched(keys, HEADER_BYTES, [2]);
    await expectRejection(evaluate(input, maternal, { evaluationKeys: badCount }), MalformedBlobError, "FHE_MALFORMED_BLOB");
    const badSection = patched(keys, HEADER_BYTES + 1, [7]);
    await expectRejection(evaluate(input, maternal, { evaluationKeys: badSection }), MalformedBlobError, "FHE_MALFORMED_BLOB");
    const hugeSection = patched(keys, HEADER_BYTES + 3, [0xff, 0xff, 0xff, 0x0f]);
    await expectRejection(evaluate(input, maternal, { evaluationKeys: hugeSection }), MalformedBlobError, "FHE_MALFORMED_BLOB");
    const compressedPublicKey = patched(keys, HEADER_BYTES + 12, [2]);
    await expectRejection(evaluate(input, maternal, { evaluationKeys: compressedPublicKey }), MalformedBlobError, "FHE_MALFORMED_BLOB");
    const notSeal = patched(keys, HEADER_BYTES + 7, [0]);
    await expectRejection(evaluate(input, maternal, { evaluationKeys: notSeal }), MalformedBlobError, "FHE_MALFORMED_BLOB");
    expect(() => client.evaluationKeys({ relinKeys: true })).to.throw(MissingEvaluationKeysError);
  });

  it("a private model without a 32-byte mask key → MaskKeyRequiredError", async function () {
    const heartInput = client.encrypt(heart, heartReading);
    await expectRejection(evaluate(heartInput, heart), MaskKeyRequiredError, "FHE_MASK_KEY_REQUIRED");
    await expectRejection(evaluate(heartInput, heart, { maskKey: new Uint8Array(16) }), MaskKeyRequiredError, "FHE_MASK_KEY_REQUIRED");
    expect(readBlobHeader(await evaluate(heartInput, heart, { maskKey: MASK_KEY })).kind).to.equal("result");
  });

  it("the client rejects a result computed from another input → ResultBindingError", async function () {
    const result = await evaluate(input);
    expect(() => client.decrypt(maternal, result, { inputHash: sha256Hex(client.encrypt(maternal, maternalReading)) })).to.throw(ResultBindingError);
    expect(client.decrypt(maternal, result, { inputHash: sha256Hex(input) })).to.have.length(1);
  });

  it("readings that are missing, out of range, not a category, or too many → InvalidReadingError (value not echoed)", function () {
    const check = (body: () => unknown) => expect(body).to.throw(InvalidReadingError).with.property("code", "FHE_INVALID_READING");
    const { heartRate: _omitted, ...missing } = maternalReading;
    check(() => client.encrypt(maternal, missing));
    check(() => client.encrypt(maternal, { ...maternalReading, systolicBP: 612 }));
    check(() => client.encrypt(maternal, { ...maternalReading, bodyTemp: Number.NaN }));
    check(() => client.encrypt(heart, { ...heartReading, cp: 5 }));
    check(() => client.encrypt(maternal, new Array(maternal.encodingSpec.layout.readingsPerCiphertext + 1).fill(maternalReading)));
    try {
      client.encrypt(maternal, { ...maternalReading, systolicBP: 612 });
    } catch (error) {
      expect(JSON.stringify((error as BaseError).details)).to.not.contain("612");
    }
  });

  it("writes no blob whose header it would itself reject", function () {
    expect(() => writeBlob({ kind: "input", codec: "raw", seeded: false, paramSetId: "x".repeat(33), chainIndex: 0, ciphertextSize: 2, scaleLog2: 25, readings: 1 }, new Uint8Array())).to.throw(TypeError);
  });
});
