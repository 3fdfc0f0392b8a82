/**
 * A job's life. Every request moves forward through these states, one step at a time, each step
 * committed to the job store before the next begins, so a restart resumes where it stopped:
 *
 *   seen → confirmed → fetched → verified → evaluated → stored → submitted → fulfilled
 *                                                                         ↘ failed
 *                                                                         ↘ voted
 *   (any state before `submitted`) → refused
 *
 * `failed`: a failure reason was reported on-chain (bad input, consent revoked …).
 * `voted`: behind an OracleQuorum (k > 1), our vote is mined but did not finalise the request
 * (the others' votes do, or it expires), or it arrived late, or the quorum already had our vote.
 * Our part is done: the job is never sent again. The request's fate is the quorum's, on-chain.
 * A request found already closed on-chain before anything was sent takes the chain's verdict:
 * `fulfilled` or `failed` as the router says, `refused` when it was cancelled or expired. A job
 * whose input turned out bad jumps straight to the submit step carrying its reason code.
 */
export const JOB_STATES = [
  "seen", "confirmed", "fetched", "verified", "evaluated", "stored", "submitted", "fulfilled", "failed", "refused", "voted",
] as const;
export type JobState = (typeof JOB_STATES)[number];

export const TERMINAL_STATES: readonly JobState[] = ["fulfilled", "failed", "refused", "voted"];
/** States the pipeline advances on its own (seen waits for confirmations, submitted for a receipt). */
export const WORK_STATES: readonly JobState[] = ["confirmed", "fetched", "verified", "evaluated", "stored"];

export function isTerminal(state: JobState): boolean {
  return TERMINAL_STATES.includes(state);
}
