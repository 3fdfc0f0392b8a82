/**
 * `npm run bench:browser` — the browser figures of issue 11, printed beside their targets and
 * written to bench/results/browser.json:
 *
 *   keygenMs, encryptMs, decryptMs  medians in headless Chromium, ckks-2048-v1, from the bench
 *                                   page (bench/browser/, bundled by Vite, SEAL's wasm imported
 *                                   with `?url`); nodeEncryptMs (and keygen/decrypt) are the same
 *                                   code in this Node process, same run, so the ratio is visible
 *   sdkBundleKiB                    the SDK's browser entry (sdk/index.ts) bundled by esbuild for
 *                                   platform=browser, minified, gzip -9, SEAL's wasm excluded;
 *                                   null with the reason while it does not bundle
 *   wasmKiB                         SEAL's wasm as the page loads it (raw and gzip)
 *   appFirstLoadMs                  the built dapp served by startAppStack: navigation start to
 *                                   `data-ready="true"` (config loaded), median of cold loads
 *   machine                         CPU, cores, memory, Node and Chromium versions
 *
 * Options (environment): BENCH_ROUNDS (default 15), BENCH_APP_LOADS (default 3), BENCH_APP_DIST
 * (an already built dapp to load instead of building app/).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, platform, release, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

import { build as esbuild } from "esbuild";
import SEAL from "node-seal";
import type { Browser } from "playwright-core";
import { build as viteBuild } from "vite";

import { median, runSealBench, type SealBenchResult } from "../../bench/browser/sealBench.js";
import { launchChromium, serveStatic } from "../../test/browser/harness.js";
import { startAppStack } from "../app/stack.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const PARAM_SET = "ckks-2048-v1";
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const APP_LOADS = Number(process.env.BENCH_APP_LOADS ?? 3);
/** The issue's targets. */
const TARGETS = { keygenMs: 300, encryptMs: 20, decryptMs: 20, sdkBundleKiB: 250 } as const;

type Unavailable = { value: null; reason: string };
type Figure = number | Unavailable;

const round2 = (x: number) => Math.round(x * 100) / 100;
const kib = (bytes: number) => round2(bytes / 1024);

/** Builds the bench page with Vite into a temporary directory. */
async function buildBenchPage(outDir: string): Promise<void> {
  await viteBuild({
    configFile: false,
    root: join(ROOT, "bench", "browser"),
    base: "./",
    logLevel: "warn",
    // node-seal's package.json `exports` do not list the wasm, so Vite 8 refuses the bare
    // specifier (`"./dist/seal_throws.wasm" is not exported`): point it at the file itself.
    resolve: { alias: [{ find: /^node-seal\/dist\/seal_throws\.wasm/, replacement: join(ROOT, "node_modules", "node-seal", "dist", "seal_throws.wasm") }] },
    build: { outDir, emptyOutDir: true, target: "es2023", chunkSizeWarningLimit: 4096 },
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)]));
}

async function browserTimings(browser: Browser, pageDir: string): Promise<{ startupMs: number; result: SealBenchResult }> {
  const site = await serveStatic({ directory: pageDir });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${site.url}/index.html?rounds=${ROUNDS}&paramSet=${PARAM_SET}`);
    await page.waitForFunction(() => window.__bench !== undefined, undefined, { timeout: 180_000 });
    const outcome = await page.evaluate(() => window.__bench!);
    await context.close();
    if ("error" in outcome) throw new Error(`the bench page failed: ${outcome.error}`);
    return outcome;
  } finally {
    await site.close();
  }
}

async function nodeTimings(): Promise<{ startupMs: number; result: SealBenchResult }> {
  const started = performance.now();
  const seal = await SEAL();
  const startupMs = performance.now() - started;
  return { startupMs, result: runSealBench(seal, PARAM_SET, ROUNDS) };
}

/**
 * node-seal's Emscripten glue imports Node's `module` for its Node branch, which never runs in a
 * page; Vite replaces it with an empty module ("externalized for browser compatibility"). The
 * bundle size does the same, for that one import only: any other Node built-in still fails it.
 */
const sealGlueNodeBranch = {
  name: "seal-glue-node-branch",
  setup(build: { onResolve(options: { filter: RegExp }, callback: (args: { path: string; importer: string }) => { path: string; namespace: string } | undefined): void; onLoad(options: { filter: RegExp; namespace: string }, callback: () => { contents: string }): void }) {
    build.onResolve({ filter: /^module$/ }, (args) => (/node-seal[\\/]dist[\\/]/.test(args.importer) ? { path: "module", namespace: "seal-empty" } : undefined));
    build.onLoad({ filter: /.*/, namespace: "seal-empty" }, () => ({ contents: "export default {}; export const createRequire = undefined;" }));
  },
};

/** The SDK's browser entry bundled as a dapp's bundler would; the reason when it does not bundle. */
async function sdkBundleSize(): Promise<{ kib: Figure; rawKiB?: number }> {
  try {
    const result = await esbuild({
      entryPoints: [join(ROOT, "sdk", "index.ts")],
      bundle: true,
      platform: "browser",
      format: "esm",
      target: "es2023",
      minify: true,
      // Not written (write: false); names the output so its .js files can be told apart.
      outfile: join(tmpdir(), "medcipher-sdk-bundle.js"),
      write: false,
      logLevel: "silent",
      // SEAL's wasm is fetched at run time (its URL is an SDK option), not part of the JS.
      loader: { ".wasm": "empty" },
      plugins: [sealGlueNodeBranch],
    });
    const js = result.outputFiles.filter((file) => file.path.endsWith(".js")).reduce((sum, file) => sum + gzipSync(file.contents, { level: 9 }).length, 0);
    const raw = result.outputFiles.filter((file) => file.path.endsWith(".js")).reduce((sum, file) => sum + file.contents.length, 0);
    return { kib: kib(js), rawKiB: kib(raw) };
  } catch (error) {
    const errors = (error as { errors?: { text: string; location?: { file?: string } | null }[] }).errors ?? [];
    const nodeImports = errors.filter((e) => /node:|built-in|Could not resolve "(fs|path|crypto|module|http|https|util)/.test(e.text)).length;
    const where = errors.slice(0, 4).map((e) => `${e.text}${e.location?.file ? ` (${e.location.file})` : ""}`).join("; ");
    const first = where || String(error);
    return { kib: { value: null, reason: `sdk/index.ts does not bundle for the browser yet: ${errors.length} errors (${nodeImports} Node built-ins), first: ${first}` } };
  }
}

/** The dapp built from app/ into a temporary directory (or BENCH_APP_DIST as given), or why not. */
async function buildApp(outDir: string): Promise<string | Unavailable> {
  if (process.env.BENCH_APP_DIST) return resolve(process.env.BENCH_APP_DIST);
  const config = join(ROOT, "app", "vite.config.ts");
  try {
    statSync(config);
  } catch {
    return { value: null, reason: "app/vite.config.ts does not exist (the reference dapp is not in this tree)" };
  }
  try {
    await viteBuild({ configFile: config, logLevel: "warn", build: { outDir, emptyOutDir: true } });
    return outDir;
  } catch (error) {
    return { value: null, reason: `vite build of app/ failed: ${(error as Error).message.split("\n")[0]}` };
  }
}

const READY_OBSERVER = `
  new MutationObserver(() => {
    if (window.__readyAt === undefined && document.querySelector('[data-ready="true"]')) window.__readyAt = performance.now();
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-ready"] });
`;

/** Cold loads of the app from startAppStack: navigation start → `data-ready="true"` on any element. */
async function appFirstLoad(browser: Browser, appDist: string): Promise<{ medianMs: number; loadsMs: number[]; firstContentfulPaintMs?: number }> {
  const stack = await startAppStack({ port: 0, appDist });
  try {
    const loadsMs: number[] = [];
    const paints: number[] = [];
    for (let load = 0; load < APP_LOADS; load++) {
      const context = await browser.newContext();
      // Records the moment the app marks itself ready, whoever sets the attribute and when. A
      // string, not a function: tsx's keepNames would wrap a function in `__name`, unknown in the page.
      await context.addInitScript(READY_OBSERVER);
      const page = await context.newPage();
      await page.goto(stack.appUrl);
      await page.waitForFunction(() => (window as { __readyAt?: number }).__readyAt !== undefined, undefined, { timeout: 60_000 });
      const { readyAt, fcp } = await page.evaluate(() => ({
        readyAt: (window as { __readyAt?: number }).__readyAt!,
        fcp: performance.getEntriesByName("first-contentful-paint")[0]?.startTime,
      }));
      loadsMs.push(readyAt);
      if (fcp !== undefined) paints.push(fcp);
      await context.close();
    }
    return { medianMs: round2(median(loadsMs)), loadsMs: loadsMs.map(round2), ...(paints.length ? { firstContentfulPaintMs: round2(median(paints)) } : {}) };
  } finally {
    await stack.stop();
  }
}

function show(figure: Figure | undefined, unit: string): string {
  if (figure === undefined) return "—";
  return typeof figure === "number" ? `${figure} ${unit}` : "unavailable";
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "medcipher-bench-browser-"));
  const browser = await launchChromium();
  try {
    const pageDir = join(work, "page");
    await buildBenchPage(pageDir);
    const wasmFile = filesUnder(pageDir).find((file) => file.endsWith(".wasm"));
    if (!wasmFile) throw new Error("the bench page build emitted no .wasm (the ?url import failed)");
    const wasm = readFileSync(wasmFile);

    const inBrowser = await browserTimings(browser, pageDir);
    const inNode = await nodeTimings();
    const sdk = await sdkBundleSize();
    const app = await buildApp(join(work, "app"));
    const appLoad = typeof app === "string" ? await appFirstLoad(browser, app) : undefined;

    const b = inBrowser.result;
    const n = inNode.result;
    const results = {
      paramSetId: PARAM_SET,
      rounds: ROUNDS,
      keygenMs: round2(median(b.keygenMs)),
      encryptMs: round2(median(b.encryptMs)),
      decryptMs: round2(median(b.decryptMs)),
      sealStartupMs: round2(inBrowser.startupMs),
      contextMs: round2(b.contextMs),
      sdkBundleKiB: typeof sdk.kib === "number" ? sdk.kib : null,
      ...(typeof sdk.kib === "number" ? { sdkBundleRawKiB: sdk.rawKiB } : { sdkBundleUnavailable: sdk.kib.reason }),
      wasmKiB: kib(wasm.length),
      wasmGzipKiB: kib(gzipSync(wasm, { level: 9 }).length),
      appFirstLoadMs: appLoad ? appLoad.medianMs : null,
      ...(appLoad ? { appFirstLoadRunsMs: appLoad.loadsMs, appFirstContentfulPaintMs: appLoad.firstContentfulPaintMs } : { appFirstLoadUnavailable: (app as Unavailable).reason }),
      nodeEncryptMs: round2(median(n.encryptMs)),
      nodeKeygenMs: round2(median(n.keygenMs)),
      nodeDecryptMs: round2(median(n.decryptMs)),
      nodeSealStartupMs: round2(inNode.startupMs),
      nodeContextMs: round2(n.contextMs),
      browserToNodeEncryptRatio: round2(median(b.encryptMs) / median(n.encryptMs)),
      ciphertextBytes: b.ciphertextBytes,
      maxDecryptionError: Math.max(b.maxError, n.maxError),
      targets: TARGETS,
      what: "Client CKKS work driven through node-seal directly (bench/browser/sealBench.ts mirrors FheClient.generate + evaluationKeys, encrypt, decrypt); the same function in Chromium and in Node.",
      machine: {
        cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length, memoryGiB: round2(totalmem() / 2 ** 30),
        os: `${platform()} ${release()}`, node: process.version, chromium: browser.version(),
      },
      date: new Date().toISOString(),
    };

    const rows: [string, string, string, string][] = [
      ["keygen (browser)", show(results.keygenMs, "ms"), `≤ ${TARGETS.keygenMs} ms`, `node ${results.nodeKeygenMs} ms`],
      ["encrypt (browser)", show(results.encryptMs, "ms"), `≤ ${TARGETS.encryptMs} ms`, `node ${results.nodeEncryptMs} ms (×${results.browserToNodeEncryptRatio})`],
      ["decrypt (browser)", show(results.decryptMs, "ms"), `≤ ${TARGETS.decryptMs} ms`, `node ${results.nodeDecryptMs} ms`],
      ["SEAL start-up", show(results.sealStartupMs, "ms"), "", `node ${results.nodeSealStartupMs} ms`],
      ["CKKS context (once)", show(results.contextMs, "ms"), "", `node ${results.nodeContextMs} ms`],
      ["SDK JS (min+gzip)", show(sdk.kib, "KiB"), `≤ ${TARGETS.sdkBundleKiB} KiB`, typeof sdk.kib === "number" ? `raw ${sdk.rawKiB} KiB` : "does not bundle yet"],
      ["SEAL wasm", `${results.wasmKiB} KiB`, "", `gzip ${results.wasmGzipKiB} KiB`],
      ["app first load", show(appLoad?.medianMs ?? (app as Unavailable), "ms"), "", appLoad ? `FCP ${appLoad.firstContentfulPaintMs ?? "?"} ms, ${APP_LOADS} cold loads` : "not built"],
    ];
    const header: [string, string, string, string] = ["figure", "measured", "target", "beside it"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ");
    console.log(`browser bench: ${PARAM_SET}, ${ROUNDS} rounds, ${results.machine.cpu} ×${results.machine.cores}, Chromium ${results.machine.chromium}, Node ${process.version}\n`);
    console.log(line(header));
    console.log(line(widths.map((w) => "-".repeat(w))));
    for (const row of rows) console.log(line(row));
    if (typeof sdk.kib !== "number") console.log(`\nSDK bundle: ${sdk.kib.reason}`);
    if (!appLoad) console.log(`app first load: ${(app as Unavailable).reason}`);

    mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
    writeFileSync(join(ROOT, "bench", "results", "browser.json"), `${JSON.stringify(results, null, 2)}\n`);
    console.log("\nwrote bench/results/browser.json");
  } finally {
    await browser.close();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
