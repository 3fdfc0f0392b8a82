import type { Random } from "./random.js";
import { sleep, type SoakRequest, type SoakWorld } from "./world.js";

/**
 * The request stream: `count` requests, round-robin over the patients, one every `intervalMs`,
 * each prepared (encrypted, uploaded, signed) and broadcast by its patient. Requests are pushed
 * to `into` as they are sent, so disturbances running alongside see them.
 */
export async function runRequestStream(world: SoakWorld, random: Random, options: { count: number; intervalMs: number; into: SoakRequest[] }): Promise<void> {
  for (let index = 0; index < options.count; index++) {
    const started = Date.now();
    const request = await world.prepareRequest(index, random);
    await world.broadcast(request.raw);
    options.into.push(request);
    await sleep(Math.max(0, options.intervalMs - (Date.now() - started)));
  }
}

/** Re-broadcasts vanished request transactions every `everyMs` until `done()`, as patients' wallets do. */
export async function runPatientRebroadcast(world: SoakWorld, requests: SoakRequest[], done: () => boolean, everyMs = 2_000): Promise<void> {
  while (!done()) {
    await sleep(everyMs);
    await world.rebroadcastVanished([...requests]).catch(() => undefined);
  }
}

/** Runs the world's supervisor every `everyMs` until `done()` (for the soaks that do not kill on purpose). */
export async function runSupervisor(world: SoakWorld, done: () => boolean, everyMs = 2_000): Promise<void> {
  while (!done()) {
    await sleep(everyMs);
    await world.superviseOnce().catch(() => undefined);
  }
}
