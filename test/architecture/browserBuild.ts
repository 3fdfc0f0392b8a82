/**
 * Bundling for the browser the way a dapp's bundler would (esbuild, platform browser, no
 * polyfills), while recording every Node built-in the bundle reaches instead of stopping at the
 * first: the tests report all offending imports at once.
 */
import { builtinModules } from "node:module";
import { fileURLToPath } from "node:url";

import { build, type Plugin } from "esbuild";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export type NodeImport = { path: string; importer: string; kind: string };

const BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

export function isNodeBuiltin(specifier: string): boolean {
  return specifier.startsWith("node:") || BUILTINS.has(specifier) || BUILTINS.has(specifier.split("/")[0]!);
}

/**
 * The one Node built-in a browser bundle may keep: node-seal's Emscripten loader does
 * `await import("module")` only inside `if (ENVIRONMENT_IS_NODE)`, a branch a browser never takes
 * (Vite stubs it the same way). A static import, or any other module, is not allowed.
 */
export function isNodeSealLoaderImport(entry: NodeImport): boolean {
  return entry.path === "module" && entry.kind === "dynamic-import" && /node_modules[\\/]node-seal[\\/]dist[\\/]seal_(throws|allows)\.js$/.test(entry.importer);
}

/**
 * npm packages that share a Node built-in's name and that browser bundlers (esbuild, Vite) resolve
 * from node_modules like any package: `buffer` (feross/buffer) is a declared dependency of
 * @zk-kit/utils, which Semaphore's identity and group packages import as `from "buffer"`. It is
 * JavaScript, not Node: the bundle contains it, so it is resolved, not recorded. `node:buffer` still is.
 */
export const USERLAND_PACKAGES_NAMED_LIKE_BUILTINS: ReadonlySet<string> = new Set(["buffer"]);

export type BrowserBundle = { code: string; bytes: number; nodeImports: NodeImport[]; errors: string[]; inputs: string[] };

export type BundleOptions = { minify?: boolean };

/** Bundles `contents` (TypeScript, resolved from the repository root) for the browser. */
export async function bundleForBrowser(contents: string, options: BundleOptions = {}): Promise<BrowserBundle> {
  const nodeImports: NodeImport[] = [];
  const recordNodeImports: Plugin = {
    name: "record-node-imports",
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (!isNodeBuiltin(args.path) || USERLAND_PACKAGES_NAMED_LIKE_BUILTINS.has(args.path)) return undefined;
        const entry = { path: args.path, importer: args.importer.replace(REPO_ROOT, ""), kind: args.kind };
        nodeImports.push(entry);
        // Kept external only so that the build goes on and every offender is listed; the tests fail on them.
        return { path: args.path, external: true };
      });

    },
  };
  const result = await build({
    stdin: { contents, resolveDir: REPO_ROOT, loader: "ts", sourcefile: "browser-entry.ts" },
    bundle: true, platform: "browser", format: "esm", target: "es2022", write: false, logLevel: "silent",
    minify: options.minify ?? false, plugins: [recordNodeImports], metafile: true,
  }).catch((error: { errors?: { text: string; location?: { file: string; line: number } | null }[] }) => ({ outputFiles: undefined, metafile: undefined, errors: error.errors ?? [{ text: String(error) }] }));
  const errors = (result.errors ?? []).map((e) => `${e.location ? `${e.location.file}:${e.location.line}: ` : ""}${e.text}`);
  const code = result.outputFiles?.[0]?.text ?? "";
  const inputs = Object.keys(result.metafile?.inputs ?? {});
  return { code, bytes: result.outputFiles?.[0]?.contents.length ?? 0, nodeImports, errors, inputs };
}
