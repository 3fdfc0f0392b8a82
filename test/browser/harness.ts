/**
 * Real-browser tests: Debian's Chromium driven by playwright-core (no browser download).
 *
 * `findChromium()` looks at CHROME_PATH, then `chromium` / `chromium-browser` / `google-chrome`
 * on PATH. `describeInBrowser` runs its suite when one is found and otherwise skips it, saying
 * so once on stderr (CI installs Chromium in .ci/run, so there the suites always run).
 */
import { accessSync, constants } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { delimiter, extname, join, normalize, sep } from "node:path";

import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

const CANDIDATES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

export function findChromium(): string | undefined {
  const explicit = process.env.CHROME_PATH;
  if (explicit) return isExecutable(explicit) ? explicit : undefined;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    for (const name of CANDIDATES) {
      const candidate = join(dir, name);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

let skipNoticeShown = false;

/**
 * `describe` for suites that need a real browser. Inside, `browser()` gives the launched Chromium
 * (one per suite, closed after it) and `newPage()` a fresh page in a fresh context whose console
 * errors and page errors are collected (`pageErrors(page)`).
 */
export function describeInBrowser(title: string, body: (ctx: BrowserSuite) => void): void {
  const executablePath = findChromium();
  if (!executablePath) {
    describe(title, function () {
      before(function () {
        if (!skipNoticeShown) {
          skipNoticeShown = true;
          process.stderr.write("\n  [browser tests SKIPPED] no Chromium found: set CHROME_PATH or install Debian's chromium " +
            "(apt-get install -y --no-install-recommends chromium); .ci/run installs it.\n\n");
        }
        this.skip();
      });
      it("needs Chromium (skipped)", () => undefined);
    });
    return;
  }
  describe(title, function () {
    this.timeout(120_000);
    let launched: Browser | undefined;
    const contexts: BrowserContext[] = [];
    const errors = new WeakMap<Page, string[]>();
    const suite: BrowserSuite = {
      executablePath,
      browser: () => {
        if (!launched) throw new Error("the browser is launched in before()");
        return launched;
      },
      newPage: async () => {
        const context = await suite.browser().newContext({ viewport: { width: 1280, height: 900 } });
        contexts.push(context);
        // tsx compiles tests with esbuild's keepNames, which wraps functions in `__name(…)`; a
        // function handed to page.evaluate() runs in the page, where that helper does not exist.
        await context.addInitScript("globalThis.__name = (fn) => fn;");
        const page = await context.newPage();
        const collected: string[] = [];
        errors.set(page, collected);
        page.on("pageerror", (error) => collected.push(`pageerror: ${error.message}`));
        page.on("console", (message) => { if (message.type() === "error") collected.push(`console: ${message.text()}`); });
        return page;
      },
      pageErrors: (page) => errors.get(page) ?? [],
    };
    before(async function () {
      launched = await chromium.launch({ executablePath, headless: true, args: chromiumArgs() });
    });
    after(async function () {
      for (const context of contexts) await context.close().catch(() => undefined);
      await launched?.close();
    });
    body(suite);
  });
}

export type BrowserSuite = {
  executablePath: string;
  browser(): Browser;
  newPage(): Promise<Page>;
  pageErrors(page: Page): string[];
};

/** Root (CI) cannot use Chromium's sandbox; a normal user keeps it. */
export function chromiumArgs(): string[] {
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  return isRoot ? ["--no-sandbox"] : [];
}

/** Launches Chromium outside mocha (benchmarks, `npm run app` smoke checks). */
export async function launchChromium(): Promise<Browser> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error("No Chromium found: set CHROME_PATH or apt-get install -y --no-install-recommends chromium");
  return chromium.launch({ executablePath, headless: true, args: chromiumArgs() });
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8", ".json": "application/json", ".wasm": "application/wasm", ".svg": "image/svg+xml", ".png": "image/png",
};

export type StaticSite = { url: string; close(): Promise<void> };

/**
 * Serves pages on loopback HTTP. WebCrypto (crypto.subtle) exists only in secure contexts:
 * http://127.0.0.1 is one, `about:blank` from page.setContent() is not, so browser tests load
 * their pages from here. `files` maps URL paths ("/index.html") to contents; `directory`, when
 * given, serves everything under it for the other paths.
 */
export async function serveStatic(options: { files?: Record<string, string | Uint8Array>; directory?: string }): Promise<StaticSite> {
  const files = options.files ?? {};
  const server: Server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? "/", "http://localhost").pathname);
    const name = path === "/" ? "/index.html" : path;
    const send = (body: string | Uint8Array) => {
      response.writeHead(200, { "content-type": CONTENT_TYPES[extname(name)] ?? "application/octet-stream", "cache-control": "no-store" });
      response.end(body);
    };
    if (files[name] !== undefined) return send(files[name]!);
    // Browsers ask for a favicon on every page; answering 204 keeps their consoles free of 404s.
    if (name === "/favicon.ico") { response.writeHead(204).end(); return; }
    if (!options.directory) { response.writeHead(404).end(); return; }
    const resolved = normalize(join(options.directory, name));
    if (!resolved.startsWith(normalize(options.directory) + sep)) { response.writeHead(403).end(); return; }
    readFile(resolved).then(send, () => response.writeHead(404).end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
