import { readFile } from "node:fs/promises";

import { expect } from "chai";

import { bundleForBrowser, isNodeSealLoaderImport } from "../architecture/browserBuild.js";
import { describeInBrowser, serveStatic, type StaticSite } from "./harness.js";

/**
 * The trap a bundler sets (TOOLCHAIN.md): the wasm is served under another name than node-seal
 * looks for. The page serves it only as /assets/seal-3f9a1c.wasm, as Vite would.
 */
describeInBrowser("fhe/seal.ts in Chromium: SEAL's wasm from the URL the app gives", ({ newPage }) => {
  let site: StaticSite;
  before(async () => {
    const bundle = await bundleForBrowser(`
      import { configureSeal, loadSeal, parameterContext } from "./fhe/seal.ts";
      globalThis.sealProbe = async (wasmUrl) => {
        try {
          if (wasmUrl) configureSeal({ wasmUrl });
          await loadSeal();
          const ctx = await parameterContext("ckks-2048-v1");
          return { ok: true, slots: ctx.encoder.slotCount() };
        } catch (error) {
          return { ok: false, message: String(error?.message ?? error) };
        }
      };`);
    expect(bundle.errors).to.deep.equal([]);
    expect(bundle.nodeImports.filter((entry) => !isNodeSealLoaderImport(entry))).to.deep.equal([]);
    const wasm = await readFile(new URL("../../node_modules/node-seal/dist/seal_throws.wasm", import.meta.url));
    site = await serveStatic({
      files: { "/index.html": `<!doctype html><script type="module" src="/assets/index-4b2e.js"></script>`, "/assets/index-4b2e.js": bundle.code, "/assets/seal-3f9a1c.wasm": new Uint8Array(wasm) },
    });
  });
  after(() => site.close());

  it("fails the way the issue describes without the option, and loads with configureSeal({ wasmUrl })", async function () {
    const without = await newPage();
    await without.goto(site.url);
    await without.waitForFunction(() => "sealProbe" in globalThis);
    const failed = await without.evaluate(() => (globalThis as unknown as { sealProbe(url?: string): Promise<{ ok: boolean; message?: string }> }).sealProbe());
    expect(failed.ok).to.equal(false);
    expect(failed.message).to.match(/wasm/i);

    const withUrl = await newPage();
    await withUrl.goto(site.url);
    await withUrl.waitForFunction(() => "sealProbe" in globalThis);
    const loaded = await withUrl.evaluate(() => (globalThis as unknown as { sealProbe(url?: string): Promise<{ ok: boolean; slots?: number; message?: string }> }).sealProbe("/assets/seal-3f9a1c.wasm"));
    expect(loaded).to.deep.equal({ ok: true, slots: 1024 });
  });
});
