/**
 * Crash-test hooks, after the failpoints of FoundationDB and TiKV. Off unless the environment
 * variable ORACLE_FAILPOINT names one: `<point>` or `<point>=kill` kills the process with SIGKILL
 * the moment the point is reached (right after the step it names was committed); `<point>=pause:<ms>`
 * holds the step in hand that long (to deliver SIGTERM mid-job). Points: after:seen,
 * after:confirmed, after:fetched, after:verified, after:evaluated, after:stored, after:recorded
 * (signed transactions recorded, not yet broadcast), after:submitted (broadcast), after:fulfilled.
 * Tests use them to kill the daemon after each pipeline step; operators never set them.
 */
const spec = process.env.ORACLE_FAILPOINT ?? "";
const [armedPoint = "", action = "kill"] = spec.split("=");

/** Whether any failpoint is armed (lets hot paths skip the work of naming their point). */
export const failpointsArmed = armedPoint !== "";

export function failpoint(point: string): Promise<void> | void {
  if (armedPoint === "" || point !== armedPoint) return;
  if (action === "kill") {
    process.kill(process.pid, "SIGKILL");
    return new Promise(() => undefined);
  }
  const pause = /^pause:(\d+)$/.exec(action);
  if (pause) return new Promise((resolve) => setTimeout(resolve, Number(pause[1])));
}

/**
 * The quorum tests' Byzantine operator: with ORACLE_BYZANTINE=flip-result the daemon votes for a
 * result hash with every bit of its last byte flipped (a wrong answer the honest operators must
 * outvote). Off unless set; operators never set it. Read per call so a test process can arm it.
 */
export function byzantineResultHash(resultHash: string): string {
  if (process.env.ORACLE_BYZANTINE !== "flip-result") return resultHash;
  const last = Number.parseInt(resultHash.slice(-2), 16) ^ 0xff;
  return resultHash.slice(0, -2) + last.toString(16).padStart(2, "0");
}
