/**
 * The oldest Node.js MedCipher runs on. Hardhat 3 refuses anything older, node-seal 7's
 * WebAssembly needs GC and exception handling (Node 20 fails deep inside it with a WebAssembly
 * error), and the oracle's job store uses `node:sqlite`, which Node 20 does not have (its import
 * fails before any of our code runs). Keep in step with package.json `engines` and tools/setup.sh.
 */
export const MIN_NODE_VERSION = "22.13.0";

/** Why `version` (e.g. "20.20.2", as in `process.versions.node`) cannot run MedCipher, or undefined when it can. */
export function unsupportedNodeMessage(version: string, entryPoint = "MedCipher"): string | undefined {
  const parse = (v: string) => v.replace(/^v/, "").split(".").map((part) => Number.parseInt(part, 10) || 0);
  const [major = 0, minor = 0, patch = 0] = parse(version);
  const [minMajor = 0, minMinor = 0, minPatch = 0] = parse(MIN_NODE_VERSION);
  const recentEnough = major !== minMajor ? major > minMajor : minor !== minMinor ? minor > minMinor : patch >= minPatch;
  if (recentEnough) return undefined;
  return `${entryPoint} needs Node.js >= ${MIN_NODE_VERSION}; this is Node.js ${version.replace(/^v/, "")}. ` +
    "Run it through npm (`npm run medcipher -- …`, `npm run oracle`), which uses the project's pinned Node after `npm run setup`, " +
    "or put node_modules/.bin first on PATH.";
}

/**
 * Ends the process with a clear message on a Node.js that is too old. Call it first in an entry
 * point, before importing anything that may need a newer Node (import it statically, then load
 * the rest with a dynamic `import()`: a static import graph is linked before any code runs).
 */
export function exitOnUnsupportedNode(entryPoint?: string): void {
  const runtime = (globalThis as { process?: { versions?: { node?: string }; stderr?: { write(text: string): void }; exit(code: number): never } }).process;
  const version = runtime?.versions?.node;
  if (runtime === undefined || version === undefined) return; // not Node (a browser bundle)
  const message = unsupportedNodeMessage(version, entryPoint);
  if (message === undefined) return;
  runtime.stderr?.write(`${message}\n`);
  runtime.exit(1);
}
