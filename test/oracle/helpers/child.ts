import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

import type { Settings } from "../../../oracle/config/settings.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** The daemon as its own process (`node --import tsx oracle/main.ts start`), configured through ORACLE_* variables. */
export type OracleChild = {
  process: ChildProcess;
  output: string[];
  /** Resolves with the exit code (null when killed by a signal) and the signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  text(): string;
};

/** `settings` may be partial: the daemon fills the rest from its defaults (benchmarks set only what they change). */
export function spawnOracle(settings: Partial<Settings>, extraEnv: Record<string, string> = {}): OracleChild {
  const env: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...extraEnv };
  for (const [name, value] of Object.entries(settings)) env[`ORACLE_${name}`] = String(value);
  const child = spawn(process.execPath, ["--import", "tsx", "oracle/main.ts", "start"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  const output: string[] = [];
  // A pipe delivers arbitrary chunks: a log line can arrive in two pieces. Keep the unfinished
  // tail of each stream until its newline, or a search for a line ("oracle started") can miss it.
  const collect = (stream: NodeJS.ReadableStream) => {
    let tail = "";
    stream.on("data", (chunk: Buffer) => {
      const lines = (tail + chunk.toString("utf8")).split("\n");
      tail = lines.pop() ?? "";
      output.push(...lines.filter(Boolean));
    });
    stream.on("end", () => {
      if (tail !== "") output.push(tail);
    });
  };
  collect(child.stdout!);
  collect(child.stderr!);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return { process: child, output, exited, text: () => output.join("\n") };
}
