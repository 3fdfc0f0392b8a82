import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

import { expect } from "chai";
import { build } from "esbuild";
import type { Page } from "playwright-core";

import { decryptKeystore } from "../../sdk/keystore/format.js";
import { describeInBrowser, serveStatic, type StaticSite } from "./harness.js";

const ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const SECRETS = { privateKey: "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d", encryption: { publicKey: "pub", privateKey: "priv-x25519" } };
const FAST_KDF = { N: 1 << 10, r: 8, p: 1 };

/** The page's script: the browser keystore module, bundled for the browser, on `window.keystore`. */
async function bundleKeystorePage(): Promise<string> {
  const result = await build({
    stdin: {
      contents: `import { openBrowserKeystore } from "./sdk/keystore/browser.ts"; globalThis.openBrowserKeystore = openBrowserKeystore;`,
      resolveDir: fileURLToPath(new URL("../../", import.meta.url)),
      loader: "ts",
    },
    bundle: true, platform: "browser", format: "esm", write: false, logLevel: "silent",
  });
  return result.outputFiles[0]!.text;
}

type PageKeystore = { openBrowserKeystore: typeof import("../../sdk/keystore/browser.js").openBrowserKeystore };

/** Runs `body` in the page with a freshly opened keystore; errors come back as { code, message }. */
function inPage<A, R>(page: Page, arg: A, body: (keystore: Awaited<ReturnType<PageKeystore["openBrowserKeystore"]>>, arg: A) => Promise<R>): Promise<R> {
  return page.evaluate(async ({ source, arg }) => {
    const run = new Function("keystore", "arg", `return (${source})(keystore, arg);`) as (k: unknown, a: unknown) => Promise<unknown>;
    const keystore = await (globalThis as unknown as PageKeystore).openBrowserKeystore();
    try {
      return await run(keystore, arg);
    } finally {
      keystore.close();
    }
  }, { source: body.toString(), arg }) as Promise<R>;
}

describeInBrowser("sdk browser keystore: IndexedDB, encrypted under a passphrase, backups the CLI opens", ({ newPage, pageErrors }) => {
  let site: StaticSite;
  let cliFixture: string;
  before(async () => {
    const script = await bundleKeystorePage();
    site = await serveStatic({ files: { "/index.html": `<!doctype html><title>keystore</title><script type="module" src="/keystore.js"></script>`, "/keystore.js": script } });
    cliFixture = await readFile(new URL("../sdk/fixtures/keystore-v1-default-kdf.json", import.meta.url), "utf8");
  });
  after(() => site.close());

  async function openPage(): Promise<Page> {
    const page = await newPage();
    await page.goto(site.url);
    await page.waitForFunction(() => "openBrowserKeystore" in globalThis);
    return page;
  }

  it("saves, lists, loads and deletes identities, stored encrypted (no secret in IndexedDB), surviving a reload", async function () {
    const page = await openPage();
    await inPage(page, { ADDRESS, SECRETS, FAST_KDF }, async (keystore, { ADDRESS, SECRETS, FAST_KDF }) => {
      await keystore.save(ADDRESS, SECRETS, "passphrase", { label: "patient", kdf: FAST_KDF });
    });
    await page.reload();
    await page.waitForFunction(() => "openBrowserKeystore" in globalThis);
    const listed = await inPage(page, null, (keystore) => keystore.list());
    expect(listed).to.have.length(1);
    expect(listed[0]).to.include({ address: ADDRESS, label: "patient" });
    const loaded = await inPage(page, ADDRESS.toLowerCase(), (keystore, address) => keystore.load(address, "passphrase"));
    expect(loaded).to.deep.equal({ address: ADDRESS, secrets: SECRETS, kdf: FAST_KDF });
    const wrong = await inPage(page, ADDRESS, (keystore, address) => keystore.load(address, "wrong").then(() => "opened", (error: { code?: string }) => error.code));
    expect(wrong).to.equal("SDK_KEYSTORE");
    // Everything IndexedDB holds, read around the SDK: no private key, no passphrase.
    const raw = await page.evaluate(() => new Promise<string>((resolve, reject) => {
      const opening = indexedDB.open("medcipher-keystore");
      opening.onsuccess = () => {
        const all = opening.result.transaction("identities").objectStore("identities").getAll();
        all.onsuccess = () => { resolve(JSON.stringify(all.result)); opening.result.close(); };
        all.onerror = () => reject(all.error);
      };
      opening.onerror = () => reject(opening.error);
    }));
    expect(raw).to.include(ADDRESS);
    for (const secret of [SECRETS.privateKey, SECRETS.privateKey.slice(2), SECRETS.encryption.privateKey, "passphrase"]) expect(raw).not.to.include(secret);
    expect(await inPage(page, ADDRESS, (keystore, address) => keystore.delete(address))).to.deep.equal({ deleted: true });
    expect(await inPage(page, ADDRESS, (keystore, address) => keystore.delete(address))).to.deep.equal({ deleted: false });
    expect(await inPage(page, null, (keystore) => keystore.list())).to.deep.equal([]);
    const missing = await inPage(page, ADDRESS, (keystore, address) => keystore.load(address, "passphrase").then(() => "opened", (error: { code?: string }) => error.code));
    expect(missing).to.equal("SDK_INVALID_INPUT");
    expect(pageErrors(page)).to.deep.equal([]);
  });

  it("imports a keystore file the CLI wrote (scrypt N=2^17) and exports a backup the Node keystore opens", async function () {
    const page = await openPage();
    const started = Date.now();
    const imported = await inPage(page, cliFixture, (keystore, text) => keystore.importBackup(text, "correct horse battery staple"));
    const importMs = Date.now() - started;
    process.stdout.write(`      (import with scrypt N=2^17 in Chromium: ${importMs} ms)\n`);
    expect(imported.address).to.equal(ADDRESS);
    const wrongPassphrase = await inPage(page, cliFixture, (keystore, text) => keystore.importBackup(text, "nope").then(() => "imported", (error: { code?: string }) => error.code));
    expect(wrongPassphrase).to.equal("SDK_KEYSTORE");
    const keySet = { keysHash: "cd".repeat(32), paramSet: "ckks-2048-v1", secretKey: "c2s=", evaluationKeys: "ZWs=", createdAt: "2026-12-02T01:00:00.000Z" };
    const added = await inPage(page, { ADDRESS, keySet }, (keystore, { ADDRESS, keySet }) => keystore.saveHeKeySet(ADDRESS, "correct horse battery staple", keySet));
    expect(added).to.deep.equal({ saved: true });
    const backup = await inPage(page, ADDRESS, (keystore, address) => keystore.exportBackup(address));
    // The backup is the CLI's file format: the Node side opens it with the same passphrase and cost.
    const opened = await decryptKeystore(backup, "correct horse battery staple");
    expect(opened.kdf).to.deep.equal({ N: 1 << 17, r: 8, p: 1 });
    expect(opened.secrets.heKeySets?.map((k) => k.keysHash)).to.deep.equal(["ab".repeat(32), "cd".repeat(32)]);
    expect(opened.secrets.heSecretKey).to.equal(keySet.secretKey);
    expect(backup).to.equal(JSON.stringify(JSON.parse(backup), null, 2));
    expect(pageErrors(page)).to.deep.equal([]);
  });
});
