import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { expect } from "chai";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
type Probe = { evaluations: number; wasmGrowth: number; rssGrowth: number; jsHeapGrowth: number; leaked: number };

/** Runs test/fhe/helpers/memory-probe.ts in its own process (nothing else allocates there). */
async function probe(...args: string[]): Promise<Probe> {
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "test/fhe/helpers/memory-probe.ts", ...args], { cwd: ROOT, maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split("\n").pop()!) as Probe;
}

/**
 * JS heap bound: clean runs measure about −1 MiB (with two collections before each reading; one
 * left up to 13 MiB of released ArrayBuffers counted and failed a full run); retaining every
 * measured result (1,000, ≥ 27 KiB each) grows it by ~30 MiB.
 */
const JS_HEAP_BOUND = 12 * 1024 * 1024;

describe("fhe: memory stays flat", function () {
  this.timeout(240_000);

  it("over 1,000 evaluations and 500 client operations (WebAssembly heap unchanged, JS heap and RSS bounded)", async function () {
    const run = await probe();
    expect(run.evaluations).to.equal(1_000);
    // One leaked SEAL ciphertext per evaluation would add ~32 MiB to the WebAssembly heap.
    expect(run.wasmGrowth).to.be.at.most(1024 * 1024);
    expect(run.rssGrowth).to.be.below(64 * 1024 * 1024); // allocator slack; the precise checks are the two heaps
    expect(run.jsHeapGrowth).to.be.below(JS_HEAP_BOUND);
  });

  it("would see a leak: retaining each result grows the JS heap past the bound", async function () {
    const run = await probe("--leak");
    expect(run.leaked).to.equal(1_000);
    expect(run.jsHeapGrowth).to.be.above(JS_HEAP_BOUND);
  });
});
