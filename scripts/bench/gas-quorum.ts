/**
 * Only the OracleQuorum rows of the gas bench (the full one also proves Semaphore requests and is
 * slower): measures them and merges them into bench/results/gas.json.
 * Run: `npx hardhat run scripts/bench/gas-quorum.ts`.
 */
import { readFile, writeFile, mkdir } from "node:fs/promises";
import path from "node:path";

import { network } from "hardhat";

import { measureQuorumGas, QUORUM_GAS_RATIO_TARGET } from "./quorumGas.js";

const connection = await network.create();
const gas = await measureQuorumGas(connection);
const out = path.join("bench", "results", "gas.json");
const current = JSON.parse(await readFile(out, "utf8").catch(() => "{}")) as Record<string, number>;
await mkdir(path.dirname(out), { recursive: true });
await writeFile(out, `${JSON.stringify({ ...current, ...gas }, null, 2)}\n`);
const ratio = gas.quorumPerRequest / gas.singleOperatorPerRequest;
console.log("| operation | gas used |\n|---|---:|");
for (const [operation, used] of Object.entries(gas)) console.log(`| ${operation} | ${used.toLocaleString("en-US")} |`);
const scheduled = gas.quorumPerRequestPrimariesOnly / gas.singleOperatorPerRequest;
console.log(`\n3-of-2 quorum / single Operator per request: ${ratio.toFixed(3)} with every operator voting, ${scheduled.toFixed(3)} with the primaries only (target ≤ ${QUORUM_GAS_RATIO_TARGET})\nmerged into ${out}`);
if (ratio > QUORUM_GAS_RATIO_TARGET) {
  console.error("the quorum gas target was missed");
  process.exitCode = 1;
}
await connection.close();
