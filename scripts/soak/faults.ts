/**
 * `npm run soak:faults`: two soaks of the oracle daemon and the gateway (their own processes)
 * under a stream of prediction requests from several patients, on anvil with 1-second blocks:
 *   - crash: the daemon and the gateway are SIGKILLed at random moments (SOAK_KILLS each, at
 *     least 10 by default) and restarted on their own data;
 *   - rpcFaults: the daemon reaches the chain only through a faulting JSON-RPC proxy
 *     (scripts/soak/faultyRpc.ts: dropped connections, delays, errors, lagging answers).
 * Then the same final checks as the reorg soak (scripts/soak/verify.ts). Writes the `crash` and
 * `rpcFaults` sections of bench/results/soak.json (SOAK_ONLY=crash or rpcFaults runs one).
 */
import { knobsFromEnv, numberFromEnv } from "./config.js";
import { startFaultyRpc } from "./faultyRpc.js";
import { createRandom, type Random } from "./random.js";
import { printSoakTable, withoutLogs, writeSoakSections } from "./results.js";
import { runRequestStream, runSupervisor } from "./stream.js";
import { settleAndVerify } from "./verify.js";
import { createSoakWorld, log, sleep, type SoakRequest, type SoakWorld } from "./world.js";

const knobs = knobsFromEnv({ requests: 60, requestIntervalMs: 700 });
const kills = numberFromEnv("SOAK_KILLS", 10);
const only = process.env.SOAK_ONLY;

/** Kills a service `count` times: up 0.5–4 s after it is started, down 0.2–1.5 s. */
async function killRepeatedly(world: SoakWorld, random: Random, count: number, kill: () => Promise<void>, restart: () => Promise<void>, what: string): Promise<number> {
  let done = 0;
  for (; done < count; done++) {
    const upMs = random.int(500, 4_000);
    const downMs = random.int(200, 1_500);
    await sleep(upMs);
    await kill();
    log(world.soak, `SIGKILL ${what} ${done + 1}/${count} (up ${upMs} ms since its start, down ${downMs} ms)`);
    await sleep(downMs);
    await restart().catch(async (error: unknown) => {
      log(world.soak, `${what} restart failed (${String(error).slice(0, 200)}); retrying`);
      await sleep(1_000);
      await restart();
    });
  }
  return done;
}

async function crashSoak(): Promise<Record<string, unknown>> {
  const name = "crash";
  const random = createRandom(knobs.seed).fork(name);
  const world = await createSoakWorld({ soak: name, chainId: 31_981, patients: knobs.patients });
  try {
    await world.startIntervalMining(knobs.blockSeconds);
    await world.startOracle({ CONFIRMATIONS: 1 });
    log(name, `oracle and gateway up; ${knobs.requests} requests from ${knobs.patients} patients, ${kills} SIGKILLs of each`);
    const requests: SoakRequest[] = [];
    const stream = runRequestStream(world, random.fork("stream"), { count: knobs.requests, intervalMs: knobs.requestIntervalMs, into: requests });
    const oracleKills = killRepeatedly(world, random.fork("oracle kills"), kills, () => world.oracle.kill(), () => world.oracle.restart(), "oracle");
    const gatewayKills = killRepeatedly(world, random.fork("gateway kills"), kills, () => world.gateway.kill(), () => world.restartGateway(), "gateway");
    const [, oracleKilled, gatewayKilled] = await Promise.all([stream, oracleKills, gatewayKills]);
    log(name, `${oracleKilled} oracle and ${gatewayKilled} gateway SIGKILLs done; verifying`);
    const verdict = await settleAndVerify(world, requests, knobs);
    return { kills: oracleKilled + gatewayKilled, oracleKills: oracleKilled, gatewayKills: gatewayKilled, ...verdict };
  } finally {
    await world.close();
  }
}

async function rpcFaultSoak(): Promise<Record<string, unknown>> {
  const name = "rpcFaults";
  const random = createRandom(knobs.seed).fork(name);
  const world = await createSoakWorld({ soak: name, chainId: 31_982, patients: knobs.patients });
  const faulty = await startFaultyRpc(world.anvil, random.fork("faults"));
  try {
    await world.startIntervalMining(knobs.blockSeconds);
    // Per-call faults from the daemon's start on; the transport windows (which would only delay its start-up) once it is up.
    await world.startOracle({ CONFIRMATIONS: 1, RPC_URL: faulty.url });
    await faulty.startWindows();
    log(name, `oracle up behind the faulting proxy ${faulty.url}; ${knobs.requests} requests from ${knobs.patients} patients`);
    const requests: SoakRequest[] = [];
    let streaming = true;
    const supervisor = runSupervisor(world, () => !streaming);
    await runRequestStream(world, random.fork("stream"), { count: knobs.requests, intervalMs: knobs.requestIntervalMs, into: requests });
    await sleep(5_000);
    streaming = false;
    await supervisor;
    await faulty.heal();
    log(name, `faults stopped after ${faulty.faultedCalls()} faulted calls ${JSON.stringify(faulty.counts)}; verifying`);
    const verdict = await settleAndVerify(world, requests, knobs);
    return { faultedCalls: faulty.faultedCalls(), faults: faulty.counts, ...verdict };
  } finally {
    await world.close();
    await faulty.close();
  }
}

const sections: Record<string, Record<string, unknown>> = {};
try {
  if (only === undefined || only === "crash") sections.crash = await crashSoak();
  if (only === undefined || only === "rpcFaults") sections.rpcFaults = await rpcFaultSoak();
} catch (error) {
  console.error(error);
  process.exit(1);
}
const setup = { ...knobs, kills, node: process.version };
writeSoakSections(Object.fromEntries(Object.entries(sections).map(([k, v]) => [k, { ...v, setup }])));
printSoakTable(sections);
for (const [k, v] of Object.entries(sections)) console.log(`${k}: ${JSON.stringify({ nonce: v.nonce, failureCodes: v.failureCodes, storeDisagrees: v.storeDisagrees, oracleTxsReverted: v.oracleTxsReverted, oracleWarnings: v.oracleWarnings, examples: withoutLogs(v.examples) })}`);
console.log(`wrote bench/results/soak.json (${Object.keys(sections).join(", ")})`);
process.exit(Object.values(sections).every((s) => s.passed) ? 0 : 2);
