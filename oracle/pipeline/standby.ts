import { getAddress } from "ethers";

import { quorumInterface } from "../chain/abi.js";
import type { RpcClient } from "../chain/rpc.js";

/**
 * The quorum's evaluation schedule: which operators of an OracleQuorum evaluate a request at
 * once, and when the others step in.
 *
 * A request needs k agreeing votes, not n. Each request names its own k primaries, the operators
 * at positions `requestId mod n`, … , `requestId mod n + k − 1` (wrapping) of the quorum's
 * authorised-sender list, which every operator reads from the same chain, so they agree on the
 * assignment without talking to each other and the load rotates across the set. The other n − k
 * are standbys, ranked after the primaries: standby r waits `standbyMs × (r + 1)` from when it saw
 * the request, then re-reads the request and evaluates only if it is still pending (a primary
 * crashed, missed, or disagreed: a Byzantine primary's vote leaves the honest one short of k, and
 * the first standby's completes it). In the common case the request is final before any standby
 * looks, so it costs k evaluations and k votes instead of n, and no late votes.
 *
 * `standbyMs` must exceed the primaries' latency at peak load: a standby that looks too early
 * evaluates a request that needed no help (a late vote: wasted work, never a wrong result).
 * 0 turns the schedule off (every operator evaluates at once, as with no schedule).
 *
 * The schedule only ever delays work: every error reading the set answers "evaluate now".
 */
export type QuorumSchedule = {
  /** When this operator should start on a request it saw at `seenAt` (ms): `seenAt` for a primary. */
  startAt(requestId: string, seenAt: number): Promise<{ at: number; standbyRank?: number }>;
};

export type QuorumScheduleOptions = {
  rpc: RpcClient;
  /** The OracleQuorum. */
  quorum: string;
  /** This operator's account. */
  self: string;
  standbyMs: number;
  /** How long a read of the operator set and threshold is reused (default 5 s). */
  cacheMs?: number;
};

/** The set and threshold as the chain has them, read together. */
type QuorumSet = { senders: string[]; threshold: number; at: number };

export function createQuorumSchedule({ rpc, quorum, self, standbyMs, cacheMs = 5_000 }: QuorumScheduleOptions): QuorumSchedule {
  const me = getAddress(self);
  let cached: QuorumSet | undefined;
  let reading: Promise<QuorumSet> | undefined;

  async function readSet(): Promise<QuorumSet> {
    const call = (fn: "getAuthorizedSenders" | "quorum") => ({ method: "eth_call", params: [{ to: quorum, data: quorumInterface.encodeFunctionData(fn) }, "latest"] });
    const [senders, threshold] = await rpc.batch([call("getAuthorizedSenders"), call("quorum")]);
    if (senders?.status !== "fulfilled" || threshold?.status !== "fulfilled") throw new Error("the quorum's operator set could not be read");
    const list = (quorumInterface.decodeFunctionResult("getAuthorizedSenders", senders.value as string)[0] as string[]).map((a) => getAddress(a));
    const [k, n] = quorumInterface.decodeFunctionResult("quorum", threshold.value as string) as unknown as [bigint, bigint];
    return { senders: list, threshold: Math.min(Number(k), Number(n)), at: Date.now() };
  }

  /** The set, re-read once `cacheMs` old; concurrent callers share one read. */
  async function set(): Promise<QuorumSet> {
    if (cached && Date.now() - cached.at < cacheMs) return cached;
    reading ??= readSet().then((s) => (cached = s)).finally(() => (reading = undefined));
    return reading;
  }

  return {
    async startAt(requestId, seenAt) {
      if (standbyMs <= 0) return { at: seenAt };
      let s: QuorumSet;
      try {
        s = await set();
      } catch {
        return { at: seenAt };
      }
      const n = s.senders.length;
      const index = s.senders.indexOf(me);
      if (index < 0 || n === 0 || s.threshold >= n) return { at: seenAt };
      const first = Number(BigInt(requestId) % BigInt(n));
      const rank = (index - first + n) % n;
      if (rank < s.threshold) return { at: seenAt };
      const standbyRank = rank - s.threshold;
      return { at: seenAt + standbyMs * (standbyRank + 1), standbyRank };
    },
  };
}
