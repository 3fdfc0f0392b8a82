/**
 * Fails when line coverage of the Solidity contracts is below a threshold. Reads the lcov report
 * that `hardhat test --coverage` writes (coverage/lcov.info); test contracts (*.t.sol) are
 * excluded. Run after the tests: `tsx scripts/check-coverage.ts [--min 95] [--lcov path]`.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    min: { type: "string", default: "95" },
    lcov: { type: "string", default: "coverage/lcov.info" },
  },
});
const minimum = Number(values.min);

type FileCoverage = { file: string; hit: number; found: number };

function parseLcov(text: string): FileCoverage[] {
  const files: FileCoverage[] = [];
  let current: FileCoverage | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith("SF:")) current = { file: line.slice(3), hit: 0, found: 0 };
    else if (line.startsWith("LH:") && current) current.hit = Number(line.slice(3));
    else if (line.startsWith("LF:") && current) current.found = Number(line.slice(3));
    else if (line === "end_of_record" && current) {
      files.push(current);
      current = undefined;
    }
  }
  return files;
}

const report = await readFile(values.lcov, "utf8").catch(() => {
  console.error(`check-coverage: no report at ${values.lcov}; run \`hardhat test --coverage\` first`);
  process.exit(1);
});
const contracts = parseLcov(report).filter((f) => f.file.startsWith("contracts/") && !f.file.endsWith(".t.sol"));
const hit = contracts.reduce((sum, f) => sum + f.hit, 0);
const found = contracts.reduce((sum, f) => sum + f.found, 0);
if (found === 0) {
  console.error(`check-coverage: ${values.lcov} covers no contract lines`);
  process.exit(1);
}
const percent = (100 * hit) / found;
for (const f of contracts) {
  const p = f.found === 0 ? 100 : (100 * f.hit) / f.found;
  if (p < minimum) console.error(`  ${f.file}: ${p.toFixed(2)}% (${f.hit}/${f.found} lines)`);
}
const summary = `contract line coverage ${percent.toFixed(2)}% (${hit}/${found} lines, ${contracts.length} files), minimum ${minimum}%`;
if (percent < minimum) {
  console.error(`check-coverage: FAILED — ${summary}`);
  process.exit(1);
}
console.log(`check-coverage: ok — ${summary}`);
