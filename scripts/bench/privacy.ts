/**
 * `npm run bench:privacy` — what unlinkability costs and what it achieves. Prints a table and
 * writes bench/results/privacy.json:
 *   proveMs    median of PROOFS Semaphore v4 proofs (depth 20, the pinned circuit files in
 *              circuits/semaphore, passed as { wasm, zkey }: nothing is downloaded)
 *   verifyMs   median off-chain verifyProof of the same proofs
 *   linkedRequests / linkedConsents / linkedDeviceBindings
 *              what the chain observer (scripts/privacy/observer.ts) links after a run of the
 *              private forms (scripts/privacy/world.ts: 4 patients, 5 anonymous requests,
 *              4 private consents, 3 device bindings, 3 researchers' group accesses). Until the
 *              private forms are in the build, the control run of the public forms is observed
 *              instead and `linkSource` says so.
 *
 * Run: `hardhat run scripts/bench/privacy.ts` (it needs the Hardhat network for the observer run).
 */
import { createHash } from "node:crypto";
import { readFileSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { network } from "hardhat";
import { Group } from "@semaphore-protocol/group";
import { Identity } from "@semaphore-protocol/identity";
import { generateProof, verifyProof } from "@semaphore-protocol/proof";

import { artifactAbis } from "../privacy/abis.js";
import { formatReport, observeChain } from "../privacy/observer.js";
import { playPrivateForms, releaseProver } from "../privacy/world.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const CIRCUITS = path.join(ROOT, "circuits/semaphore");
const DEPTH = 20;
const ARTIFACTS = { wasm: path.join(CIRCUITS, `semaphore-${DEPTH}.wasm`), zkey: path.join(CIRCUITS, `semaphore-${DEPTH}.zkey`) };
const PROOFS = Number(process.env.PRIVACY_BENCH_PROOFS ?? 7);
const GROUP_SIZE = 16;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
const round = (v: number) => Number(v.toFixed(1));
const sha256File = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

// ── Proofs ───────────────────────────────────────────────────────────────────────────────────
const members = Array.from({ length: GROUP_SIZE }, () => new Identity());
const group = new Group(members.map((m) => m.commitment));
// One warm-up proof (loads the wasm and zkey, JIT), not counted.
console.error(`proving: 1 warm-up + ${PROOFS} proofs, depth ${DEPTH}`);
await generateProof(members[0]!, group, 1n, 1n, DEPTH, ARTIFACTS);
const proveTimes: number[] = [];
const proofs: Awaited<ReturnType<typeof generateProof>>[] = [];
for (let i = 0; i < PROOFS; i++) {
  const start = performance.now();
  proofs.push(await generateProof(members[i % GROUP_SIZE]!, group, BigInt(1000 + i), BigInt(2000 + i), DEPTH, ARTIFACTS));
  proveTimes.push(performance.now() - start);
}
const verifyTimes: number[] = [];
for (const proof of proofs) {
  const start = performance.now();
  const valid = await verifyProof(proof);
  verifyTimes.push(performance.now() - start);
  if (!valid) throw new Error("a freshly made proof did not verify");
}

console.error(`proved: median ${round(median(proveTimes))} ms; observing a run`);
// ── Linkability ──────────────────────────────────────────────────────────────────────────────
const connection = await network.create();
const world = await playPrivateForms(connection, ARTIFACTS);
const report = await observeChain({ provider: connection.ethers.provider, deployment: world.addresses, abis: await artifactAbis(world.addresses) });
const linkSource = "private forms (anonymous requests, private consents, researchers' group)";

const results = {
  generatedAt: new Date().toISOString(),
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "unknown", node: process.version },
  notes: `medians of ${PROOFS} proofs (after one warm-up) in a group of ${GROUP_SIZE}, depth ${DEPTH}, @semaphore-protocol/proof generateProof/verifyProof with local { wasm, zkey }; link counts from scripts/privacy/observer.ts`,
  circuit: { depth: DEPTH, wasmSha256: sha256File(ARTIFACTS.wasm), zkeySha256: sha256File(ARTIFACTS.zkey) },
  proveMs: round(median(proveTimes)),
  verifyMs: round(median(verifyTimes)),
  proveMsRange: [round(Math.min(...proveTimes)), round(Math.max(...proveTimes))],
  verifyMsRange: [round(Math.min(...verifyTimes)), round(Math.max(...verifyTimes))],
  linkSource,
  linkedRequests: report.linkedRequests,
  linkedConsents: report.linkedConsents,
  linkedConsentPairs: report.linkedConsentPairs,
  linkedDeviceBindings: report.linkedDeviceBindings,
  observed: {
    requests: report.requests,
    consents: report.consents,
    deviceBindings: report.deviceBindings,
    blocks: report.blocks,
    transactions: report.transactions,
    logs: report.logs,
    undecodedLogs: report.undecodedLogs,
    viewCalls: report.viewCalls,
    views: report.views.length,
    anonymitySets: report.subjects.flatMap((s) => (s.anonymitySet === undefined ? [] : [s.anonymitySet])),
  },
};

console.log(formatReport(report, "private forms"));
console.log("");
console.table({
  proveMs: { value: results.proveMs, note: `median of ${PROOFS}, depth ${DEPTH}` },
  verifyMs: { value: results.verifyMs, note: "off-chain verifyProof" },
  linkedRequests: { value: results.linkedRequests, note: `of ${report.requests} requests` },
  linkedConsents: { value: results.linkedConsents, note: `of ${report.consents} consents` },
  linkedDeviceBindings: { value: results.linkedDeviceBindings, note: `of ${report.deviceBindings} bindings (public by design)` },
});
console.log(`link counts from: ${linkSource}`);
mkdirSync(path.join(ROOT, "bench/results"), { recursive: true });
writeFileSync(path.join(ROOT, "bench/results/privacy.json"), `${JSON.stringify(results, null, 2)}\n`);
console.log("wrote bench/results/privacy.json");
await releaseProver();
