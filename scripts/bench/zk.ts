/**
 * Semaphore proving and off-chain verification in Node with the pinned depth-20 files: the median
 * of RUNS (default 5) proofs in a group of 8. Prints JSON; bench:privacy can take proveMs/verifyMs from here.
 *
 *   node --import tsx scripts/bench/zk.ts [runs]
 */
import { randomIdentity } from "../../protocol/zk/identity.js";
import { Group, proveMembership, releaseProver, verifyOffChain } from "../../protocol/zk/prove.js";
import { readSemaphoreArtifacts } from "../../sdk/node/semaphoreArtifacts.js";

export async function measureSemaphore(runs = 5): Promise<{ runs: number; proveMs: number; verifyMs: number; proveRunsMs: number[]; verifyRunsMs: number[] }> {
  const artifacts = await readSemaphoreArtifacts();
  const identities = Array.from({ length: 8 }, () => randomIdentity());
  const group = new Group(identities.map((identity) => identity.commitment));
  const proveRunsMs: number[] = [];
  const verifyRunsMs: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      let started = performance.now();
      const proof = await proveMembership({ identity: identities[i % identities.length]!, group, message: BigInt(i), scope: 42n, artifacts });
      proveRunsMs.push(performance.now() - started);
      started = performance.now();
      if (!(await verifyOffChain(proof))) throw new Error("a fresh proof did not verify");
      verifyRunsMs.push(performance.now() - started);
    }
  } finally {
    await releaseProver();
  }
  const median = (values: number[]) => Math.round([...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!);
  return { runs, proveMs: median(proveRunsMs), verifyMs: median(verifyRunsMs), proveRunsMs: proveRunsMs.map(Math.round), verifyRunsMs: verifyRunsMs.map(Math.round) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${JSON.stringify(await measureSemaphore(Number(process.argv[2] ?? 5)))}\n`);
}
