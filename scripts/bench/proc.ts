import { readFileSync } from "node:fs";

/** CPU seconds (user + system) a process has used so far, from Linux /proc; undefined elsewhere or once it exited. */
export function cpuSecondsOf(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** Peak resident set size of a process in MiB (VmHWM), from Linux /proc; NaN elsewhere. */
export function peakRssMiB(pid: number): number {
  try {
    const kib = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN);
    return Math.round((kib / 1024) * 10) / 10;
  } catch {
    return NaN;
  }
}
