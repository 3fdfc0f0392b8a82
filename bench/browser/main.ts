/**
 * The bench page: loads SEAL the way a bundled dapp must (the wasm imported with `?url`, handed
 * to `locateFile`, since the bundler renames it), then runs the client timings and leaves them on
 * `window.__bench` for scripts/bench/browser.ts.
 */
import SEAL from "node-seal";
import wasmUrl from "node-seal/dist/seal_throws.wasm?url";

import { runSealBench, type SealBenchResult } from "./sealBench.js";

declare global {
  interface Window {
    __bench?: { startupMs: number; result: SealBenchResult } | { error: string };
  }
}

const params = new URLSearchParams(location.search);
const rounds = Number(params.get("rounds") ?? "15");
const status = document.getElementById("status")!;

try {
  const started = performance.now();
  const seal = await SEAL({ locateFile: () => wasmUrl });
  const startupMs = performance.now() - started;
  const result = runSealBench(seal, params.get("paramSet") ?? "ckks-2048-v1", rounds);
  window.__bench = { startupMs, result };
  status.textContent = `done: ${rounds} rounds`;
} catch (error) {
  window.__bench = { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  status.textContent = `failed: ${window.__bench.error}`;
}
