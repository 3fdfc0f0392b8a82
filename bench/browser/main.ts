/**
 * The bench page: loads SEAL the way a bundled dapp must (the wasm imported with `?url`, handed
 * to fhe's `loadSeal`, since the bundler renames it), then runs
 * - the product path: FheClient (fhe's client entry) key generation, encryption, and decryption
 *   of results the oracle's evaluator computes in Node (`window.__evaluate`, exposed by
 *   scripts/bench/browser.ts);
 * - the raw node-seal operations underneath (sealBench.ts);
 * and leaves the figures on `window.__bench` for scripts/bench/browser.ts.
 */
import wasmUrl from "node-seal/dist/seal_throws.wasm?url";

import { parseModel, type Reading } from "../../fhe/client-entry.js";
import { loadSeal } from "../../fhe/seal.js";
import { runClientBench, type ClientBenchResult } from "./clientBench.js";
import { runSealBench, type SealBenchResult } from "./sealBench.js";

declare global {
  interface Window {
    __bench?: { startupMs: number; raw: SealBenchResult; client: ClientBenchResult } | { error: string };
    /** The oracle's evaluation of an input blob (base64 in, base64 out), done in Node. */
    __evaluate?: (inputBase64: string) => Promise<string>;
    __benchInput?: { model: unknown; reading: Reading };
  }
}

const toBase64 = (bytes: Uint8Array) => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

const params = new URLSearchParams(location.search);
const rounds = Number(params.get("rounds") ?? "15");
const status = document.getElementById("status")!;

try {
  // One SEAL runtime for the page: FheClient's own, loaded from the bundled wasm.
  const started = performance.now();
  const seal = await loadSeal({ wasmUrl });
  const startupMs = performance.now() - started;
  const { model, reading } = window.__benchInput!;
  const client = await runClientBench(parseModel(model as object), reading, rounds, async (input) => fromBase64(await window.__evaluate!(toBase64(input))));
  const raw = runSealBench(seal, params.get("paramSet") ?? "ckks-2048-v1", rounds);
  window.__bench = { startupMs, raw, client };
  status.textContent = `done: ${rounds} rounds`;
} catch (error) {
  window.__bench = { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  status.textContent = `failed: ${window.__bench.error}`;
}
