/**
 * `npm run soak:reorg`: the oracle daemon and the gateway (their own processes) under a stream of
 * prediction requests from several patients while anvil really replaces blocks (random depth
 * 1–3, the replaced transactions re-included in a new order, returned to the pool shuffled, or
 * dropped), once per CONFIRMATIONS value (default 1 and 3). At the end every request must be on
 * the final chain fulfilled exactly once with the result of its own input, with no nonce gap, no
 * stuck request and no false failure (scripts/soak/verify.ts). Writes the `reorg` section of
 * bench/results/soak.json. docs/soaks.md has the knobs.
 */
import { knobsFromEnv, numberFromEnv } from "./config.js";
import { createRandom } from "./random.js";
import { printSoakTable, withoutLogs, writeSoakSections } from "./results.js";
import { emptyReorgStats, reorgOnce } from "./reorgs.js";
import { runPatientRebroadcast, runRequestStream, runSupervisor } from "./stream.js";
import { settleAndVerify, type SoakVerdict } from "./verify.js";
import { createSoakWorld, log, sleep, type SoakRequest } from "./world.js";

const knobs = knobsFromEnv({ requests: 40, requestIntervalMs: 500 });
const confirmationValues = (process.env.SOAK_CONFIRMATIONS ?? "1,3").split(",").map((v) => Number(v.trim())).filter((v) => v >= 1);
const reorgMinMs = numberFromEnv("SOAK_REORG_MIN_MS", 1_500);
const reorgMaxMs = numberFromEnv("SOAK_REORG_MAX_MS", 3_500);
/** Reorgs go on this long after the last request was sent, so the last requests' fulfilments are exposed too. */
const reorgTailMs = numberFromEnv("SOAK_REORG_TAIL_MS", 8_000);

async function soakAt(confirmations: number): Promise<Record<string, unknown>> {
  const name = `reorg/c${confirmations}`;
  const random = createRandom(knobs.seed).fork(name);
  const world = await createSoakWorld({ soak: name, chainId: 31_990 + confirmations, patients: knobs.patients });
  try {
    await world.startIntervalMining(knobs.blockSeconds);
    await world.startOracle({ CONFIRMATIONS: confirmations });
    log(name, `anvil ${world.anvil.url}, gateway ${world.gatewayUrl}, oracle up with CONFIRMATIONS=${confirmations}; ${knobs.requests} requests from ${knobs.patients} patients`);

    const requests: SoakRequest[] = [];
    const stats = emptyReorgStats();
    const floorBlock = Number(await world.anvil.rpc<string>("eth_blockNumber"));
    let streaming = true;
    let reorging = true;
    const stream = runRequestStream(world, random.fork("stream"), { count: knobs.requests, intervalMs: knobs.requestIntervalMs, into: requests }).finally(() => (streaming = false));
    const rebroadcast = runPatientRebroadcast(world, requests, () => !reorging);
    const supervisor = runSupervisor(world, () => !reorging);
    const reorgRandom = random.fork("reorgs");
    const reorgs = (async () => {
      let streamEndedAt: number | undefined;
      while (streamEndedAt === undefined || Date.now() - streamEndedAt < reorgTailMs) {
        await sleep(reorgRandom.int(reorgMinMs, reorgMaxMs));
        const done = await reorgOnce(world, reorgRandom, stats, floorBlock).catch((error: unknown) => `reorg failed: ${String(error)}`);
        if (done) log(name, done);
        if (!streaming && streamEndedAt === undefined) streamEndedAt = Date.now();
      }
      reorging = false;
    })();
    await stream;
    await reorgs;
    await rebroadcast;
    await supervisor;
    log(name, `${stats.reorgs} reorgs (${JSON.stringify(stats.byDepth)} by depth, ${stats.sameHeightSwaps} same-height swaps); chain settled, verifying`);

    const verdict: SoakVerdict = await settleAndVerify(world, requests, knobs);
    return { reorgs: stats.reorgs, ...verdict, confirmations, reorgDetail: stats };
  } finally {
    await world.close();
  }
}

const sections: Record<string, Record<string, unknown>> = {};
try {
  for (const confirmations of confirmationValues) sections[`confirmations${confirmations}`] = await soakAt(confirmations);
} catch (error) {
  console.error(error);
  process.exit(1);
}
writeSoakSections({ reorg: { ...sections, setup: { ...knobs, confirmations: confirmationValues, reorgMinMs, reorgMaxMs, reorgTailMs, node: process.version } } });
printSoakTable(Object.fromEntries(Object.entries(sections).map(([k, v]) => [`reorg ${k}`, v])));
for (const [k, v] of Object.entries(sections)) console.log(`reorg ${k}: ${JSON.stringify({ nonce: v.nonce, failureCodes: v.failureCodes, storeDisagrees: v.storeDisagrees, oracleTxsReverted: v.oracleTxsReverted, examples: withoutLogs(v.examples) })}`);
console.log("wrote bench/results/soak.json (reorg)");
process.exit(Object.values(sections).every((s) => s.passed) ? 0 : 2);
