import { readFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";

import { expect } from "chai";

import { bundleForBrowser, isNodeSealLoaderImport, type BrowserBundle } from "../architecture/browserBuild.js";

/**
 * What a dapp's bundler does with `import … from "medcipher"`: esbuild, platform browser (so the
 * package's "browser" export condition), no polyfill and no external for any Node built-in.
 * Every Node built-in the bundle reaches is listed at once.
 */
describe("sdk: the browser bundle of the public entry", function () {
  this.timeout(120_000);
  let bundle: BrowserBundle;
  before(async function () {
    bundle = await bundleForBrowser(`export * from "medcipher";`, { minify: true });
  });

  it("resolves \"medcipher\" to the browser entry (sdk/index.ts), not the Node one", function () {
    expect(bundle.errors).to.deep.equal([]);
    expect(bundle.inputs).to.include("sdk/index.ts");
    expect(bundle.inputs).not.to.include("sdk/node.ts");
    expect(bundle.inputs.filter((input) => input.startsWith("sdk/node/") || input.startsWith("sdk/keystore/file"))).to.deep.equal([]);
  });

  it("builds with no Node built-in (node-seal's Node-only loader branch aside)", function () {
    const offending = bundle.nodeImports.filter((entry) => !isNodeSealLoaderImport(entry)).map((entry) => `${entry.importer} imports ${entry.path} (${entry.kind})`);
    const kib = (bytes: number) => Math.round((bytes / 1024) * 10) / 10;
    process.stdout.write(`      (browser bundle of sdk/index.ts: ${kib(bundle.bytes)} KiB minified, ${kib(gzipSync(bundle.code).length)} KiB gzip, SEAL wasm not included)\n`);
    expect([...new Set(offending)].sort(), "Node built-ins in the browser bundle").to.deep.equal([]);
  });

  it("the one allowance is node-seal's `await import(\"module\")` inside its ENVIRONMENT_IS_NODE branch", async function () {
    const loader = await readFile(new URL("../../node_modules/node-seal/dist/seal_throws.js", import.meta.url), "utf8");
    const at = loader.indexOf('await import("module")');
    expect(at).to.be.greaterThan(0);
    const branch = loader.lastIndexOf("if(ENVIRONMENT_IS_NODE){", at);
    expect(branch, "the import sits in the Node branch").to.be.greaterThan(0);
    expect(loader.slice(branch, at)).not.to.match(/\}\s*else|;\s*\}\s*[a-z]/);
    expect(isNodeSealLoaderImport({ path: "module", kind: "import-statement", importer: "node_modules/node-seal/dist/seal_throws.js" })).to.equal(false);
    expect(isNodeSealLoaderImport({ path: "fs", kind: "dynamic-import", importer: "node_modules/node-seal/dist/seal_throws.js" })).to.equal(false);
  });
});
