import { expect } from "chai";

import { describeInBrowser, serveStatic, type StaticSite } from "./harness.js";

describeInBrowser("browser harness: Debian Chromium through playwright-core", ({ newPage, pageErrors }) => {
  let site: StaticSite;
  before(async () => { site = await serveStatic({ files: { "/index.html": "<!doctype html><title>probe</title>" } }); });
  after(() => site.close());

  it("runs a page with the WebCrypto algorithms the SDK needs (X25519, Ed25519, AES-GCM, HKDF, SHA-256)", async () => {
    const page = await newPage();
    await page.goto(site.url);
    const supported = await page.evaluate(async () => {
      const subtle = globalThis.crypto.subtle;
      const results: Record<string, boolean> = {};
      const probe = async (name: string, run: () => Promise<unknown>) => {
        try { await run(); results[name] = true; } catch { results[name] = false; }
      };
      await probe("X25519", () => subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]));
      await probe("Ed25519", () => subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]));
      await probe("AES-GCM", () => subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt"]));
      await probe("HKDF", () => subtle.importKey("raw", new Uint8Array(32), "HKDF", false, ["deriveKey"]));
      await probe("SHA-256", () => subtle.digest("SHA-256", new Uint8Array(1)));
      return results;
    });
    expect(supported).to.deep.equal({ X25519: true, Ed25519: true, "AES-GCM": true, HKDF: true, "SHA-256": true });
    expect(pageErrors(page)).to.deep.equal([]);
  });
});
