/**
 * The browser-safe crypto (core/hash, core/bytes, core/crypto/ed25519, protocol/, fhe/keys,
 * sdk/crypto/envelope) against vectors recorded with the Node-only code it replaced
 * (test/fixtures/vectors/, made by scripts/vectors/record-crypto-vectors.ts): in Node, and the same checks bundled into
 * a page in real Chromium. Node-side, also: the gateway server's node:crypto Ed25519 agrees with
 * the client's WebCrypto one, and core/bytes agrees with Buffer.
 */
import { randomBytes } from "node:crypto";

import { expect } from "chai";
import { build } from "esbuild";

import { base64ToBytes, base64UrlToBytes, bytesToBase64, bytesToBase64Url, bytesToHexString, bytesToUtf8, concatBytes, hexStringToBytes, utf8ToBytes } from "../../core/bytes.js";
import { generateEd25519KeyPair, importEd25519PublicKey, importEd25519Seed, signEd25519, verifyEd25519 } from "../../core/crypto/ed25519.js";
import { sha256, sha256Hex, sha256Portable } from "../../core/hash.js";
import { hexToBytes } from "../../core/hex.js";
import { ed25519PrivateKey, ed25519PublicKey, ed25519Sign, ed25519Verify, generateEd25519 } from "../../gateway/auth/ed25519.js";
import { describeInBrowser, serveStatic, type StaticSite } from "../browser/harness.js";
import { vectorChecks } from "../fixtures/vectors/checks.js";
import ed25519Vectors from "../fixtures/vectors/ed25519.json" with { type: "json" };

describe("protocol: crypto test vectors recorded with the Node-only code", function () {
  this.timeout(60_000);
  for (const check of vectorChecks) it(check.name, () => check.run());

  it("Ed25519: the gateway's node:crypto keys and the client's WebCrypto keys sign alike and verify each other", async function () {
    for (const v of ed25519Vectors.vectors) {
      const seed = hexToBytes(v.seed);
      const nodeKey = ed25519PrivateKey(seed, hexToBytes(v.publicKey));
      for (const s of v.signatures) expect(`0x${bytesToHexString(ed25519Sign(nodeKey, hexToBytes(s.message)))}`).to.equal(s.signature);
    }
    const digest = new Uint8Array(randomBytes(32));
    // Client signs (session key), server verifies.
    const session = await generateEd25519KeyPair();
    expect(ed25519Verify(ed25519PublicKey(session.publicKey), digest, await signEd25519(session.privateKey, digest))).to.equal(true);
    // Server signs (response key), client verifies.
    const server = generateEd25519();
    const clientView = await importEd25519PublicKey(server.publicKey);
    expect(await verifyEd25519(clientView, digest, ed25519Sign(server.privateKey, digest))).to.equal(true);
    expect(await verifyEd25519(clientView, new Uint8Array(32), ed25519Sign(server.privateKey, digest))).to.equal(false);
    // A seed imported on both sides gives one key.
    const seed = new Uint8Array(randomBytes(32));
    const imported = await importEd25519Seed(seed);
    expect(ed25519Verify(ed25519PublicKey(imported.publicKey), digest, ed25519Sign(ed25519PrivateKey(seed, imported.publicKey), digest))).to.equal(true);
    expect(await importEd25519PublicKey(new Uint8Array(31)).then(() => null, (error: unknown) => error)).to.be.instanceOf(RangeError);
  });

  it("SHA-256: the native path (Node) and the pure-JS path (browsers) agree on every length around the block size", function () {
    for (let length = 0; length <= 200; length++) {
      const input = new Uint8Array(randomBytes(length));
      expect(sha256(input)).to.deep.equal(sha256Portable(input));
    }
    const big = new Uint8Array(randomBytes(3 * 1024 * 1024 + 7));
    expect(sha256Hex(big)).to.equal(`0x${bytesToHexString(sha256Portable(big))}`);
  });

  it("core/bytes encodes like Buffer and refuses what Buffer would silently skip", function () {
    for (let length = 0; length <= 70; length++) {
      const input = new Uint8Array(randomBytes(length));
      const buffer = Buffer.from(input);
      expect(bytesToBase64(input)).to.equal(buffer.toString("base64"));
      expect(bytesToBase64Url(input)).to.equal(buffer.toString("base64url"));
      expect(bytesToHexString(input)).to.equal(buffer.toString("hex"));
      expect(base64ToBytes(buffer.toString("base64"))).to.deep.equal(input);
      expect(base64ToBytes(buffer.toString("base64").replace(/=+$/, ""))).to.deep.equal(input);
      expect(base64UrlToBytes(buffer.toString("base64url"))).to.deep.equal(input);
      expect(hexStringToBytes(buffer.toString("hex").toUpperCase())).to.deep.equal(input);
    }
    const text = "Größe ✓ 測試 🙂";
    expect(utf8ToBytes(text)).to.deep.equal(new Uint8Array(Buffer.from(text, "utf8")));
    expect(bytesToUtf8(utf8ToBytes(text))).to.equal(text);
    expect(concatBytes(Uint8Array.of(1), new Uint8Array(), Uint8Array.of(2, 3))).to.deep.equal(Uint8Array.of(1, 2, 3));
    for (const bad of ["a", "ab$c", "abc=d", "ab==c", "abcde"]) expect(() => base64ToBytes(bad), bad).to.throw(TypeError);
    expect(() => base64UrlToBytes("ab+/")).to.throw(TypeError); // standard alphabet is not base64url
    expect(() => base64ToBytes("ab-_")).to.throw(TypeError);
    expect(() => hexStringToBytes("abc")).to.throw(TypeError);
    expect(() => hexStringToBytes("zz")).to.throw(TypeError);
    expect(() => hexToBytes("0x12", 2)).to.throw(TypeError);
    expect(() => hexToBytes("12")).to.throw(TypeError);
    expect(() => bytesToUtf8(Uint8Array.of(0xff, 0xfe))).to.throw(TypeError);
  });
});

describeInBrowser("protocol: the same crypto vectors in Chromium (WebCrypto, pure-JS SHA-256 and scrypt)", ({ newPage, pageErrors }) => {
  let site: StaticSite;
  before(async function () {
    const bundle = await build({
      stdin: {
        contents: `import { vectorChecks } from "./checks.ts";
          globalThis.runVectorChecks = async () => {
            const results = [];
            for (const check of vectorChecks) {
              try { await check.run(); results.push({ name: check.name, error: null }); }
              catch (error) { results.push({ name: check.name, error: String(error && error.stack || error) }); }
            }
            return results;
          };`,
        resolveDir: new URL("../fixtures/vectors/", import.meta.url).pathname,
        loader: "ts",
      },
      bundle: true, platform: "browser", format: "esm", write: false, logLevel: "silent",
    });
    site = await serveStatic({ files: {
      "/index.html": "<!doctype html><title>vectors</title><script type=module src=/vectors.js></script>",
      "/vectors.js": bundle.outputFiles[0]!.text,
    } });
  });
  after(() => site?.close());

  it("every vector check passes in the page, with no Node built-in bundled", async function () {
    const page = await newPage();
    await page.goto(site.url);
    await page.waitForFunction(() => typeof (globalThis as { runVectorChecks?: unknown }).runVectorChecks === "function");
    const results = await page.evaluate(() => (globalThis as unknown as { runVectorChecks(): Promise<{ name: string; error: string | null }[]> }).runVectorChecks());
    expect(results.map((r) => r.name)).to.deep.equal(vectorChecks.map((c) => c.name));
    expect(results.filter((r) => r.error !== null)).to.deep.equal([]);
    expect(pageErrors(page)).to.deep.equal([]);
  });
});
