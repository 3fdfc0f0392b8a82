import { expect } from "chai";
import { getBytes, Wallet } from "ethers";

import { BaseError } from "../../core/errors.js";
import { sha256Hex } from "../../core/hash.js";
import { HEADER_BYTES, readBlobHeader } from "../../fhe/blob.js";
import { inputExpectation, openCiphertextBlob, writeCiphertextBlob } from "../../fhe/ciphertext-blob.js";
import { encodeReading } from "../../fhe/encoding.js";
import { checkWellFormed, firewallInput, loadFirewallKey, rerandomize, type FirewallKey } from "../../fhe/firewall.js";
import { createEvaluator, FheClient, FhePublicEncryptor, loadModel, scoreReading, type FheEvaluator } from "../../fhe/index.js";
import { openSecretKey } from "../../fhe/keys.js";
import { ownedBytes, parameterContext, type ParameterContext } from "../../fhe/seal.js";
import { loadMaternalRisk } from "../../models/datasets.js";
import { agreement, bitsOf, firstCoefficientBit, inputHashBit, recoverBits, subvertedEncryptions, type LeakChannel } from "./helpers/subverted.js";

const maternal = loadModel("maternal-risk-v1");
const reading = loadMaternalRisk().rows[0]!;
const SECRET_BITS = 64;
/**
 * 64 fair coins agree with a fixed secret in 16..48 places except with probability 2.6·10⁻⁵
 * (binomial tails P(X ≤ 15) = P(X ≥ 49)): outside it, the firewalled ciphertexts still carry the bits.
 */
const CHANCE = { min: 16, max: 48 };

function refusal(run: () => unknown): BaseError {
  try {
    run();
  } catch (error) {
    expect(error).to.be.instanceOf(BaseError);
    return error as BaseError;
  }
  expect.fail("expected the firewall to refuse");
}

/** A copy of `blob` with `bytes` written at `offset`. */
function patched(blob: Uint8Array, offset: number, bytes: ArrayLike<number>): Uint8Array {
  const copy = Uint8Array.from(blob);
  copy.set(bytes, offset);
  return copy;
}

describe("fhe: the reverse firewall at ingestion (fhe/firewall.ts)", function () {
  this.timeout(300_000);
  let ctx: ParameterContext;
  let client: FheClient;
  let device: FhePublicEncryptor;
  let key: FirewallKey;
  let evaluator: FheEvaluator;

  before(async function () {
    ctx = await parameterContext(maternal.paramSetId);
    client = await FheClient.generate(maternal.paramSetId);
    const keys = client.evaluationKeys();
    key = await loadFirewallKey(keys, maternal.paramSetId);
    device = await FhePublicEncryptor.fromEvaluationKeys(keys, maternal.paramSetId);
    evaluator = await createEvaluator();
  });
  after(function () {
    evaluator?.dispose();
    key?.dispose();
    device?.dispose();
    client?.dispose();
  });

  describe("a subverted encryptor that leaks 64 bits of a device key through its randomness", function () {
    // What it wants out: the first 64 bits of the device's signing key.
    const secret = bitsOf(getBytes(Wallet.createRandom().privateKey), SECRET_BITS);
    const channels: [string, () => LeakChannel][] = [
      ["bit 0 of the blob's SHA-256 (its on-chain inputHash)", () => inputHashBit],
      ["bit 0 of c0's first coefficient", () => firstCoefficientBit(ctx)],
    ];
    const encryptors: [string, () => () => Uint8Array][] = [
      ["secret-key encryption, seeded (FheClient)", () => () => client.encrypt(maternal, reading)],
      ["public-key encryption (FhePublicEncryptor)", () => () => device.encrypt(maternal, reading)],
    ];
    for (const [channelName, channelOf] of channels) {
      for (const [encryptorName, encryptorOf] of encryptors) {
        it(`${encryptorName}, ${channelName}: every bit from the raw ciphertexts, chance level from the firewalled ones`, function () {
          const channel = channelOf();
          const raw = subvertedEncryptions(encryptorOf(), secret, channel);
          expect(recoverBits(raw, channel), "the attack works on what the encryptor sends").to.deep.equal(secret);

          const firewalled = raw.map((blob) => firewallInput(key, blob).blob);
          const recovered = recoverBits(firewalled, channel);
          const correct = agreement(recovered, secret);
          expect(correct, `recovered ${correct}/64 bits after the firewall`).to.be.within(CHANCE.min, CHANCE.max);
          expect(recovered).to.not.deep.equal(secret);
        });
      }
    }
  });

  describe("changes no result beyond the engine's stated error", function () {
    it("the firewalled input decrypts to the raw input's slots within one rounding step of the scores, and is a fresh full ciphertext", async function () {
      const exported = await client.exportSecretKey("firewall-test");
      const { secretKeyBytes } = await openSecretKey(exported, "firewall-test");
      const { seal, context, encoder } = ctx;
      const secretKey = new seal.SecretKey();
      secretKey.loadFromArray(context, secretKeyBytes);
      secretKeyBytes.fill(0);
      const decryptor = new seal.Decryptor(context, secretKey);
      const ciphertext = new seal.Ciphertext();
      const plaintext = new seal.Plaintext();
      const slotsOf = (blob: Uint8Array) => {
        const [bytes] = openCiphertextBlob(ctx, blob, inputExpectation(ctx, maternal)).ciphertexts;
        ciphertext.loadFromArray(context, bytes);
        decryptor.decrypt(ciphertext, plaintext);
        return encoder.decodeFloat64(plaintext) as Float64Array;
      };
      try {
        const raw = client.encrypt(maternal, reading);
        const { blob: firewalled } = firewallInput(key, raw);
        expect(readBlobHeader(raw).seeded).to.equal(true);
        const header = readBlobHeader(firewalled);
        expect(header).to.deep.include({ kind: "input", seeded: false, codec: "packed", layout: "tiled", readings: 0, binding: maternal.encodingSpecHash, chainIndex: 0, ciphertextSize: 2, scaleLog2: 27 });
        const [rawCt] = openCiphertextBlob(ctx, raw, inputExpectation(ctx, maternal)).ciphertexts;
        const [freshCt] = openCiphertextBlob(ctx, firewalled, inputExpectation(ctx, maternal)).ciphertexts;
        // Both polynomials are new: c0 (offset 113 on) and c1 (which the raw form only had as a seed).
        expect(Buffer.from(freshCt!.subarray(113, 113 + 8 * 2048)).equals(Buffer.from(rawCt!.subarray(113, 113 + 8 * 2048)))).to.equal(false);

        const before = slotsOf(raw);
        const after = slotsOf(firewalled);
        const encoded = encodeReading(maternal.encodingSpec, reading);
        const step = 10 ** -maternal.output.scoreDecimals;
        let drift = 0;
        for (let i = 0; i < before.length; i++) drift = Math.max(drift, Math.abs((after[i] as number) - (before[i] as number)));
        expect(drift, "max |firewalled − raw| over every slot").to.be.below(step);
        expect(Math.abs((after[0] as number) - (encoded[0] as number))).to.be.below(step);
      } finally {
        for (const object of [decryptor, secretKey, ciphertext, plaintext]) object.delete();
      }
    });

    it("the result of a firewalled input answers it (binding = its SHA-256) and stays within the stated single-request error of the plaintext reference", async function () {
      const { blob } = firewallInput(key, client.encrypt(maternal, reading));
      const result = await evaluator.evaluate(maternal, blob);
      const [prediction] = client.decrypt(maternal, result, { inputHash: sha256Hex(blob) });
      const reference = scoreReading(maternal, reading);
      prediction!.scores.forEach((score, k) => expect(Math.abs(score - reference[k]!)).to.be.at.most(maternal.output.scoreNoise.single + 0.5 * 10 ** -maternal.output.scoreDecimals));
    });

    // Every path, both encryptions, behind the firewall, against the stated bounds:
    // test/fhe/precision.test.ts ("client+firewall", "device+firewall" in scripts/bench/precision.ts ENCRYPTIONS).
  });

  describe("refuses what an honest encryptor of the parameter set does not write", function () {
    let raw: Uint8Array;
    let full: Uint8Array;
    let sealBytes: Uint8Array;
    before(function () {
      raw = client.encrypt(maternal, reading);
      full = client.encrypt(maternal, reading, { form: "full", codec: "raw" });
      sealBytes = openCiphertextBlob(ctx, full, inputExpectation(ctx)).ciphertexts[0]!;
    });

    /** A raw-codec blob around `bytes` with the header of `shape` (what a crafted upload would declare). */
    const blobOf = (bytes: Uint8Array, shape: { size?: number; scaleLog2?: number } = {}) =>
      writeCiphertextBlob(ctx, "input", [bytes], { chainIndex: 0, size: shape.size ?? 2, scaleLog2: shape.scaleLog2 ?? 27, seeded: false }, { codec: "raw", readings: 0, binding: maternal.encodingSpecHash });

    it("accepts both forms an honest client writes (seeded + packed, full + raw)", function () {
      expect(checkWellFormed(ctx, raw, maternal).ciphertexts).to.have.length(1);
      expect(checkWellFormed(ctx, full, maternal).ciphertexts).to.have.length(1);
      expect(readBlobHeader(firewallInput(key, full).blob).codec).to.equal("raw");
    });

    const cases: [string, () => Uint8Array, string, Record<string, unknown>?][] = [
      ["a truncated blob", () => raw.subarray(0, raw.length - 1), "FHE_MALFORMED_BLOB"],
      ["trailing bytes after the payload", () => Uint8Array.from([...raw, 0]), "FHE_MALFORMED_BLOB"],
      ["trailing bytes inside a declared payload (a second ciphertext's worth missing)", () => {
        const longer = Uint8Array.from([...full, ...new Uint8Array(8)]);
        new DataView(longer.buffer).setUint32(80, longer.length - HEADER_BYTES, true);
        return longer;
      }, "FHE_MALFORMED_BLOB"],
      ["junk", () => new Uint8Array(500).fill(7), "FHE_MALFORMED_BLOB"],
      ["another parameter set", () => patched(raw, 8, new TextEncoder().encode("ckks-8192-v1")), "FHE_WRONG_PARAMETER_SET"],
      ["another level (header)", () => patched(raw, 40, [1]), "FHE_WRONG_SHAPE", { field: "level" }],
      ["a result ciphertext", () => patched(raw, 5, [2]), "FHE_WRONG_KIND"],
      ["another scale (header)", () => patched(raw, 42, [30]), "FHE_WRONG_SHAPE", { field: "scale" }],
      ["size 3 (header)", () => patched(raw, 41, [3]), "FHE_WRONG_SHAPE", { field: "size" }],
      ["another parms_id inside the ciphertext (another level's)", () => blobOf(patched(sealBytes, 16, new Uint8Array(32).fill(0xab))), "FHE_MALFORMED_BLOB"],
      ["a ciphertext not in NTT form", () => blobOf(patched(sealBytes, 48, [0])), "FHE_MALFORMED_BLOB"],
      ["a ciphertext whose own scale is not the header's", () => {
        const copy = Uint8Array.from(sealBytes);
        new DataView(copy.buffer).setFloat64(73, 2 ** 30, true);
        return blobOf(copy);
      }, "FHE_MALFORMED_BLOB"],
      ["a coefficient equal to its prime (raw codec)", () => {
        const copy = Uint8Array.from(sealBytes);
        new DataView(copy.buffer).setBigUint64(113 + 8 * 5, 18014398509404161n, true);
        return blobOf(copy);
      }, "FHE_COEFFICIENT_NOT_REDUCED", { polynomial: 0, coefficient: 5 }],
      ["a coefficient above its prime in c1 (packed codec: 2^54 − 1 fits the packing, not the prime)", () => {
        const copy = Uint8Array.from(sealBytes);
        new DataView(copy.buffer).setBigUint64(113 + 8 * (2048 + 7), 2n ** 54n - 1n, true);
        return writeCiphertextBlob(ctx, "input", [copy], { chainIndex: 0, size: 2, scaleLog2: 27, seeded: false }, { codec: "packed", readings: 0, binding: maternal.encodingSpecHash });
      }, "FHE_COEFFICIENT_NOT_REDUCED", { polynomial: 1, coefficient: 7 }],
      ["a columns batch in the older clear-count form (its count needs the model)", () => {
        const batch = client.encrypt(maternal, [reading, reading], { layout: "columns", codec: "raw", form: "full" });
        const groups = openCiphertextBlob(ctx, batch, inputExpectation(ctx, maternal)).ciphertexts.slice(0, -1);
        return writeCiphertextBlob(ctx, "input", groups, { chainIndex: 0, size: 2, scaleLog2: 27, seeded: false }, { codec: "raw", readings: 2, binding: maternal.encodingSpecHash, layout: "columns" });
      }, "FHE_WRONG_SHAPE", { field: "readings" }],
    ];
    for (const [name, craft, code, details] of cases) {
      it(`${name}: ${code}`, function () {
        const error = refusal(() => firewallInput(key, craft()));
        expect(error.code).to.equal(code);
        if (details) expect(error.details).to.deep.include(details);
      });
    }

    it("a genuine size-3 ciphertext (a product, not relinearised): FHE_WRONG_SHAPE size", function () {
      const { seal, context, evaluator: sealEvaluator } = ctx;
      const a = new seal.Ciphertext();
      const b = new seal.Ciphertext();
      const product = new seal.Ciphertext();
      try {
        a.loadFromArray(context, sealBytes);
        b.loadFromArray(context, sealBytes);
        b.setScale(1); // so the product stays at the input scale, below the 54-bit prime
        sealEvaluator.multiply(a, b, product);
        expect(product.size()).to.equal(3);
        const bytes = ownedBytes(product.saveToArray(seal.ComprModeType.none));
        const error = refusal(() => firewallInput(key, blobOf(bytes, { size: 3 })));
        expect(error.code).to.equal("FHE_WRONG_SHAPE");
        expect(error.details).to.deep.include({ field: "size", expected: 2, actual: 3 });
      } finally {
        for (const ct of [a, b, product]) ct.delete();
      }
    });

    it("a genuine ciphertext at another scale (2^30): FHE_WRONG_SHAPE scale", function () {
      const { seal, encoder } = ctx;
      const plaintext = new seal.Plaintext();
      const ciphertext = new seal.Ciphertext();
      try {
        encoder.encode(new Float64Array(1024).fill(0.5), 2 ** 30, plaintext);
        key.encryptor.encrypt(plaintext, ciphertext);
        const blob = blobOf(ownedBytes(ciphertext.saveToArray(seal.ComprModeType.none)), { scaleLog2: 30 });
        const error = refusal(() => firewallInput(key, blob));
        expect(error.code).to.equal("FHE_WRONG_SHAPE");
        expect(error.details).to.deep.include({ field: "scale" });
      } finally {
        plaintext.delete();
        ciphertext.delete();
      }
    });

    it("an input bound to another model than the one named: FHE_WRONG_MODEL", function () {
      const heart = loadModel("heart-disease-lr-v1");
      expect(refusal(() => firewallInput(key, raw, { model: heart })).code).to.equal("FHE_WRONG_MODEL");
    });

    it("a key of another parameter set refuses the blob by name: FHE_WRONG_PARAMETER_SET", async function () {
      const other = await FheClient.generate("ckks-8192-v1");
      const otherKey = await loadFirewallKey(other.evaluationKeys());
      try {
        const error = refusal(() => firewallInput(otherKey, raw));
        expect(error.code).to.equal("FHE_WRONG_PARAMETER_SET");
        expect(error.details).to.deep.include({ expected: "ckks-8192-v1", actual: "ckks-2048-v1" });
      } finally {
        otherKey.dispose();
        other.dispose();
      }
    });
  });

  it("rerandomize (the unit the bench times): one ciphertext in, a different full ciphertext of the same length out", function () {
    const [bytes] = openCiphertextBlob(ctx, client.encrypt(maternal, reading, { form: "full", codec: "raw" }), inputExpectation(ctx)).ciphertexts;
    const once = rerandomize(key, bytes!);
    const twice = rerandomize(key, bytes!);
    expect(once.length).to.equal(bytes!.length);
    expect(sha256Hex(once)).to.not.equal(sha256Hex(twice));
    expect(sha256Hex(once)).to.not.equal(sha256Hex(bytes!));
  });
});
