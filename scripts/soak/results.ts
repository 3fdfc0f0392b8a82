import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const SOAK_RESULTS_FILE = join(ROOT, "bench", "results", "soak.json");

/** The counts every soak reports (bench/results/soak.json); all but `reorgs`, `kills`… must be 0 or equal `requests`. */
export type SoakCounts = {
  requests: number;
  fulfilled: number;
  wrongResult: number;
  falseFailures: number;
  duplicates: number;
  lost: number;
  stuckSeconds: number;
};

/**
 * Merges `sections` into bench/results/soak.json: each soak run writes only its own sections
 * (`reorg`, `crash`, `rpcFaults`), so `soak:reorg` and `soak:faults` can run in either order.
 */
export function writeSoakSections(sections: Record<string, unknown>): void {
  let existing: Record<string, unknown> = {};
  try {
    existing = JSON.parse(readFileSync(SOAK_RESULTS_FILE, "utf8")) as Record<string, unknown>;
  } catch {
    // first run: no file yet
  }
  mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
  writeFileSync(SOAK_RESULTS_FILE, JSON.stringify({ ...existing, ...sections }, null, 2) + "\n");
}

const COLUMNS = ["reorgs", "kills", "faultedCalls", "requests", "fulfilled", "wrongResult", "resultUnreadable", "falseFailures", "duplicates", "lost", "stuckSeconds", "verdict"] as const;

/** One row per soak, the columns of SoakCounts plus the disturbance counts. */
export function printSoakTable(rows: Record<string, Record<string, unknown>>): void {
  const table = Object.fromEntries(Object.entries(rows).map(([name, row]) => [name, Object.fromEntries(COLUMNS.filter((c) => c in row).map((c) => [c, row[c]]))]));
  console.table(table);
}

/** The examples without the daemon's log lines (those stay in the JSON), for the console. */
export function withoutLogs(examples: unknown): unknown {
  return Object.fromEntries(Object.entries((examples ?? {}) as Record<string, Record<string, unknown>>).map(([k, v]) => [k, typeof v === "object" && v !== null ? Object.fromEntries(Object.entries(v).filter(([key]) => key !== "daemonLog")) : v]));
}
