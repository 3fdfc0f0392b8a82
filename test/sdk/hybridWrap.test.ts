/**
 * The hybrid (X25519 + ML-KEM-768) key wrap and sealed box (sdk/crypto/hybrid.ts, envelope.ts,
 * sealedBox.ts): only the right recipient opens them, each half of the key matters, every altered
 * or truncated field is refused, and what was written before (classic wraps, "MCS1" boxes, the
 * recorded vectors) still opens with the new code and a hybrid key pair.
 */
import { expect } from "chai";
import { build } from "esbuild";
import { keccak256 } from "ethers";

import { base64UrlToBytes, bytesToBase64Url, hexStringToBytes, utf8ToBytes } from "../../core/bytes.js";
import { bucketLength } from "../../core/padding.js";
import {
  CLASSIC_WRAP_ALG, HYBRID_WRAP_ALG, openRecordAsPatient, parseSealedRecord, sealRecord, unwrapDataKey, wrapDataKey, wrapDataKeyHybrid,
  type HybridWrappedKey, type WrappedKey,
} from "../../sdk/crypto/envelope.js";
import { generateHybridKeyPair, hybridPublicKey, hybridPublicKeyHash, HYBRID_PUBLIC_KEY_BYTES, splitHybridPublicKey, type HybridKeyPair } from "../../sdk/crypto/hybrid.js";
import { generateMlKemKeyPair, ML_KEM_768, mlKemDecapsulate, mlKemEncapsulate, mlKemKeyPairFromSeed } from "../../sdk/crypto/mlkem.js";
import { HYBRID_BOX_OVERHEAD_BYTES, isSealedBox, openBox, sealBox } from "../../sdk/crypto/sealedBox.js";
import { generateEncryptionKeyPair } from "../../sdk/crypto/x25519.js";
import { DEFAULT_LIMITS } from "../../gateway/limits.js";
import envelope from "../fixtures/vectors/envelope.json" with { type: "json" };
import { describeInBrowser, serveStatic, type StaticSite } from "../browser/harness.js";

const bytes = (value: string) => hexStringToBytes(value.slice(2));
const randomKey = () => globalThis.crypto.getRandomValues(new Uint8Array(32));

async function failure(promise: Promise<unknown>): Promise<{ name?: string; code?: string; details?: Record<string, unknown> }> {
  const error = await promise.then(() => undefined, (e: unknown) => e as { name?: string; code?: string; details?: Record<string, unknown> });
  expect(error, "expected a failure").not.to.equal(undefined);
  return error!;
}

async function expectDecryptionError(promise: Promise<unknown>, what: string): Promise<void> {
  const error = await failure(promise);
  expect([error.name, error.code], what).to.deep.equal(["DecryptionError", "SDK_DECRYPTION"]);
}

/** `field` with one bit flipped at `index`. */
function flipped(wrap: HybridWrappedKey, field: keyof HybridWrappedKey, index = 0): WrappedKey {
  const value = base64UrlToBytes(wrap[field]);
  value[index] = value[index]! ^ 0x01;
  return { ...wrap, [field]: bytesToBase64Url(value) };
}

function truncated(wrap: HybridWrappedKey, field: keyof HybridWrappedKey): WrappedKey {
  return { ...wrap, [field]: bytesToBase64Url(base64UrlToBytes(wrap[field]).subarray(1)) };
}

describe("sdk: hybrid key wrap (X25519 + ML-KEM-768)", function () {
  this.timeout(60_000);
  let alice: HybridKeyPair;
  let bob: HybridKeyPair;

  before(async function () {
    alice = await generateHybridKeyPair();
    bob = await generateHybridKeyPair();
  });

  it("ML-KEM-768 on WebCrypto: FIPS 203 sizes, the seed re-derives the key, decapsulation gives the sender's secret", async function () {
    const pair = await generateMlKemKeyPair();
    expect([pair.publicKey.length, pair.seed.length]).to.deep.equal([ML_KEM_768.publicKeyBytes, ML_KEM_768.seedBytes]);
    expect((await mlKemKeyPairFromSeed(pair.seed)).publicKey).to.deep.equal(pair.publicKey);
    const { sharedSecret, ciphertext } = await mlKemEncapsulate(pair.publicKey);
    expect(ciphertext.length).to.equal(ML_KEM_768.ciphertextBytes);
    expect(await mlKemDecapsulate(pair.seed, ciphertext)).to.deep.equal(sharedSecret);
    const other = await generateMlKemKeyPair();
    expect(await mlKemDecapsulate(other.seed, ciphertext), "implicit rejection: another key gets another secret").not.to.deep.equal(sharedSecret);
    expect((await failure(mlKemEncapsulate(pair.publicKey.subarray(1)))).code).to.equal("MLKEM_KEY_INVALID");
    expect((await failure(mlKemDecapsulate(pair.seed, ciphertext.subarray(1)))).code).to.equal("MLKEM_KEY_INVALID");
    expect((await failure(mlKemDecapsulate(pair.seed.subarray(1), ciphertext))).code).to.equal("MLKEM_KEY_INVALID");
  });

  it("the public form is X25519 ‖ ML-KEM (1216 B), its on-chain hash is keccak256 of it; other lengths are refused", async function () {
    const key = hybridPublicKey(alice);
    expect(key.length).to.equal(HYBRID_PUBLIC_KEY_BYTES);
    expect(splitHybridPublicKey(key)).to.deep.equal({ x25519: alice.x25519.publicKey, mlkem: alice.mlkem.publicKey });
    expect(hybridPublicKeyHash(key)).to.equal(keccak256(key));
    const error = await failure(Promise.resolve().then(() => hybridPublicKeyHash(key.subarray(0, 1215))));
    expect([error.code, error.details?.reason, error.details?.bytes]).to.deep.equal(["SDK_INVALID_INPUT", "bad-encryption-key-length", 1215]);
  });

  it("wrapDataKey picks the wrap by the key's length: 32 B classic, 1216 B hybrid, anything else refused", async function () {
    const dataKey = randomKey();
    expect((await wrapDataKey(dataKey, alice.x25519.publicKey)).alg).to.equal(CLASSIC_WRAP_ALG);
    const hybrid = (await wrapDataKey(dataKey, hybridPublicKey(alice))) as HybridWrappedKey;
    expect(hybrid.alg).to.equal(HYBRID_WRAP_ALG);
    expect([base64UrlToBytes(hybrid.kem).length, base64UrlToBytes(hybrid.ephemeral).length, base64UrlToBytes(hybrid.ciphertext).length]).to.deep.equal([1088, 32, 48]);
    expect(base64UrlToBytes(hybrid.recipient)).to.deep.equal(alice.x25519.publicKey);
    for (const length of [0, 31, 33, 1184, 1215, 1217]) {
      const error = await failure(wrapDataKey(dataKey, new Uint8Array(length)));
      expect([error.code, error.details?.bytes], `length ${length}`).to.deep.equal(["SDK_INVALID_INPUT", length]);
    }
  });

  it("only the recipient unwraps, and only with both halves of its key", async function () {
    const dataKey = randomKey();
    const wrap = await wrapDataKeyHybrid(dataKey, hybridPublicKey(alice));
    expect(await unwrapDataKey(wrap, alice)).to.deep.equal(dataKey);
    await expectDecryptionError(unwrapDataKey(wrap, bob), "another hybrid key");
    await expectDecryptionError(unwrapDataKey(wrap, { x25519: alice.x25519, mlkem: bob.mlkem }), "the right X25519 key with another ML-KEM key");
    await expectDecryptionError(unwrapDataKey(wrap, { x25519: bob.x25519, mlkem: alice.mlkem }), "the right ML-KEM key with another X25519 key");
    const classicOnly = await failure(unwrapDataKey(wrap, alice.x25519));
    expect([classicOnly.code, classicOnly.details?.reason], "the X25519 pair alone: says the ML-KEM key is needed").to.deep.equal(["SDK_DECRYPTION", "mlkem-key-needed"]);
  });

  it("refuses a tampered ML-KEM ciphertext, X25519 ephemeral, IV or wrapped key, truncated fields, and a swapped algorithm", async function () {
    const wrap = await wrapDataKeyHybrid(randomKey(), hybridPublicKey(alice));
    await expectDecryptionError(unwrapDataKey(flipped(wrap, "kem", 0), alice), "ML-KEM ciphertext, first byte");
    await expectDecryptionError(unwrapDataKey(flipped(wrap, "kem", 1087), alice), "ML-KEM ciphertext, last byte");
    await expectDecryptionError(unwrapDataKey(flipped(wrap, "ephemeral", 5), alice), "X25519 ephemeral");
    await expectDecryptionError(unwrapDataKey(flipped(wrap, "iv"), alice), "IV");
    await expectDecryptionError(unwrapDataKey(flipped(wrap, "ciphertext", 40), alice), "wrapped key (tag)");
    for (const field of ["kem", "ephemeral", "iv", "ciphertext"] as const) await expectDecryptionError(unwrapDataKey(truncated(wrap, field), alice), `truncated ${field}`);
    await expectDecryptionError(unwrapDataKey({ ...wrap, kem: "" }, alice), "empty ML-KEM ciphertext");
    // The same X25519 ephemeral with another wrap's ML-KEM ciphertext: the KEK's salt binds both.
    const other = await wrapDataKeyHybrid(randomKey(), hybridPublicKey(alice));
    await expectDecryptionError(unwrapDataKey({ ...wrap, kem: other.kem }, alice), "ML-KEM ciphertext of another wrap");
    await expectDecryptionError(unwrapDataKey({ ...wrap, alg: CLASSIC_WRAP_ALG } as WrappedKey, alice), "hybrid wrap relabelled classic");
    const unknown = await failure(unwrapDataKey({ ...wrap, alg: "X25519MLKEM1024" } as unknown as WrappedKey, alice));
    expect(unknown.code).to.equal("SDK_DECRYPTION");
  });

  it("a hybrid pair opens classic wraps made to its X25519 part, and today's recorded records and wrapped keys", async function () {
    const dataKey = randomKey();
    expect(await unwrapDataKey(await wrapDataKey(dataKey, alice.x25519.publicKey), alice)).to.deep.equal(dataKey);
    const patient = { x25519: { publicKey: bytes(envelope.patient.publicKey), privateKey: bytes(envelope.patient.privateKey) }, mlkem: alice.mlkem };
    const grantee = { x25519: { publicKey: bytes(envelope.grantee.publicKey), privateKey: bytes(envelope.grantee.privateKey) }, mlkem: bob.mlkem };
    expect(await openRecordAsPatient(bytes(envelope.fixed.record.sealed), patient)).to.deep.equal(bytes(envelope.plaintext));
    expect(await openRecordAsPatient(bytes(envelope.free.record.sealed), patient)).to.deep.equal(bytes(envelope.plaintext));
    expect(await unwrapDataKey(envelope.fixed.share.wrapped as WrappedKey, grantee)).to.deep.equal(bytes(envelope.fixed.share.dataKey));
  });

  it("sealRecord to a hybrid key: the header's wrap is hybrid and fixed-length, the record opens for the hybrid pair only", async function () {
    const plaintext = utf8ToBytes(JSON.stringify({ resourceType: "Bundle", note: "hybrid" }));
    const first = await sealRecord(plaintext, hybridPublicKey(alice));
    const second = await sealRecord(utf8ToBytes("x".repeat(900)), hybridPublicKey(alice));
    expect(parseSealedRecord(first.sealed).header.wrap.alg).to.equal(HYBRID_WRAP_ALG);
    expect(first.sealed.length, "same bucket, same fixed-length header: same size").to.equal(second.sealed.length);
    expect(await openRecordAsPatient(first.sealed, alice)).to.deep.equal(plaintext);
    await expectDecryptionError(openRecordAsPatient(first.sealed, bob), "another hybrid key");
    expect((await failure(openRecordAsPatient(first.sealed, alice.x25519))).details?.reason).to.equal("mlkem-key-needed");
  });
});

describe("sdk: hybrid sealed box (\"MCH1\")", function () {
  this.timeout(60_000);
  let alice: HybridKeyPair;

  before(async function () {
    alice = await generateHybridKeyPair();
  });

  it("seals to a 1216-byte key as bucket + 1152 B, names no key, opens for the recipient only", async function () {
    const plaintext = utf8ToBytes("a share's JSON");
    const box = await sealBox(plaintext, hybridPublicKey(alice));
    expect(new TextDecoder().decode(box.subarray(0, 4))).to.equal("MCH1");
    expect(isSealedBox(box)).to.equal(true);
    expect(box.length).to.equal(bucketLength(plaintext.length) + HYBRID_BOX_OVERHEAD_BYTES);
    expect(box.length, "a 4 KiB-bucket hybrid share fits the gateway's wrapped-key limit").to.be.at.most(DEFAULT_LIMITS.maxBytes["wrapped-key"]);
    const key = hybridPublicKey(alice);
    const asText = Buffer.from(box).toString("latin1");
    for (const part of [alice.x25519.publicKey, alice.mlkem.publicKey.subarray(0, 32)]) expect(asText.includes(Buffer.from(part).toString("latin1")), "no recipient key bytes in the box").to.equal(false);
    expect(key.length).to.equal(1216);
    expect(await openBox(box, alice)).to.deep.equal(plaintext);
    await expectDecryptionError(openBox(box, await generateHybridKeyPair()), "another hybrid key");
    await expectDecryptionError(openBox(box, { x25519: alice.x25519, mlkem: await generateMlKemKeyPair() }), "the right X25519 key with another ML-KEM key");
    expect((await failure(openBox(box, alice.x25519))).details?.reason).to.equal("mlkem-key-needed");
  });

  it("refuses a tampered ephemeral, ML-KEM ciphertext, IV or body, and a truncated box", async function () {
    const box = await sealBox(utf8ToBytes("share"), hybridPublicKey(alice));
    for (const [what, index] of [["X25519 ephemeral", 4], ["ML-KEM ciphertext", 4 + 32 + 500], ["IV", 4 + 32 + 1088], ["body", box.length - 1]] as const) {
      const altered = Uint8Array.from(box);
      altered[index] = altered[index]! ^ 0x01;
      await expectDecryptionError(openBox(altered, alice), what);
    }
    await expectDecryptionError(openBox(box.subarray(0, box.length - 1), alice), "truncated body");
    await expectDecryptionError(openBox(box.subarray(0, 1100), alice), "cut inside the ML-KEM ciphertext");
  });

  it("classic boxes (\"MCS1\") still seal to 32-byte keys and open with the X25519 pair or the hybrid pair built on it", async function () {
    const classic = await generateEncryptionKeyPair();
    const hybridOnClassic = await generateHybridKeyPair(classic);
    const box = await sealBox(utf8ToBytes("old share"), classic.publicKey);
    expect(new TextDecoder().decode(box.subarray(0, 4))).to.equal("MCS1");
    expect(await openBox(box, classic)).to.deep.equal(utf8ToBytes("old share"));
    expect(await openBox(box, hybridOnClassic)).to.deep.equal(utf8ToBytes("old share"));
    expect((await failure(sealBox(utf8ToBytes("x"), new Uint8Array(64)))).code).to.equal("SDK_INVALID_INPUT");
  });
});

/** What the page reports: whether it has ML-KEM, and what the hybrid and classic paths did there. */
type BrowserOutcome = { available: boolean; generate: string; wrap: string; classic: string; hybridRoundTrip: string };

describeInBrowser("sdk: hybrid wrap in Chromium (ML-KEM-768 from WebCrypto, or a clear MLKEM_UNAVAILABLE)", ({ newPage, pageErrors }) => {
  let site: StaticSite;
  before(async function () {
    const bundle = await build({
      stdin: {
        contents: `import { generateHybridKeyPair, hybridPublicKey } from "./sdk/crypto/hybrid.ts";
          import { mlKemAvailable } from "./sdk/crypto/mlkem.ts";
          import { unwrapDataKey, wrapDataKey } from "./sdk/crypto/envelope.ts";
          import { generateEncryptionKeyPair } from "./sdk/crypto/x25519.ts";
          const codeOf = (promise) => promise.then(() => "ok", (error) => String(error.code ?? error));
          globalThis.runHybrid = async () => {
            const available = await mlKemAvailable();
            const dataKey = crypto.getRandomValues(new Uint8Array(32));
            const x25519 = await generateEncryptionKeyPair();
            const fakeHybrid = new Uint8Array(1216); fakeHybrid.set(x25519.publicKey, 0);
            const classicWrap = await wrapDataKey(dataKey, x25519.publicKey);
            const opened = await unwrapDataKey(classicWrap, { x25519, mlkem: { publicKey: new Uint8Array(1184), seed: new Uint8Array(64) } });
            let hybridRoundTrip = "skipped";
            if (available) {
              const pair = await generateHybridKeyPair();
              const back = await unwrapDataKey(await wrapDataKey(dataKey, hybridPublicKey(pair)), pair);
              hybridRoundTrip = back.every((b, i) => b === dataKey[i]) ? "ok" : "mismatch";
            }
            return { available, generate: await codeOf(generateHybridKeyPair()), wrap: available ? "n/a" : await codeOf(wrapDataKey(dataKey, fakeHybrid)),
              classic: opened.every((b, i) => b === dataKey[i]) ? "ok" : "mismatch", hybridRoundTrip };
          };`,
        resolveDir: new URL("../../", import.meta.url).pathname,
        loader: "ts",
      },
      bundle: true, platform: "browser", format: "esm", write: false, logLevel: "silent",
    });
    site = await serveStatic({ files: {
      "/index.html": "<!doctype html><title>hybrid</title><script type=module src=/hybrid.js></script>",
      "/hybrid.js": bundle.outputFiles[0]!.text,
    } });
  });
  after(() => site?.close());

  it("hybrid wraps round-trip where WebCrypto has ML-KEM-768, else fail with MLKEM_UNAVAILABLE while classic wraps keep working", async function () {
    const page = await newPage();
    await page.goto(site.url);
    await page.waitForFunction(() => typeof (globalThis as { runHybrid?: unknown }).runHybrid === "function");
    const outcome = await page.evaluate(() => (globalThis as unknown as { runHybrid(): Promise<BrowserOutcome> }).runHybrid());
    expect(outcome.classic, "a classic wrap opens with a hybrid-shaped pair").to.equal("ok");
    if (outcome.available) expect([outcome.generate, outcome.hybridRoundTrip]).to.deep.equal(["ok", "ok"]);
    else expect([outcome.generate, outcome.wrap], "Debian's Chromium 150 has no ML-KEM in WebCrypto yet").to.deep.equal(["MLKEM_UNAVAILABLE", "MLKEM_UNAVAILABLE"]);
    expect(pageErrors(page)).to.deep.equal([]);
  });
});
