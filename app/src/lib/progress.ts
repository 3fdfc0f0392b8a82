/**
 * Progress of one user action, step by step (pending transaction, confirmations, oracle
 * fulfilment…). An action reports with `track.step(label)` as each step starts and
 * `track.note(text)` for facts about the current one (a transaction hash); the UI draws them.
 */
import { useCallback, useRef, useState } from "react";

import { explainError, type ExplainedError } from "./errors.js";

export type StepState = "active" | "done" | "failed";
export type Step = { label: string; state: StepState; note?: string };

export type Tracker = {
  /** Starts a step (the previous one is done). */
  step(label: string): void;
  /** Attaches a fact to the current step, e.g. "sent 0xab…, waiting for 1 confirmation". */
  note(text: string): void;
};

export type ActionState<T> = {
  steps: Step[];
  busy: boolean;
  error?: ExplainedError;
  result?: T;
  /** Runs `action` unless one is running; resolves to its result, or undefined when it failed (the error is in `error`). */
  run(action: (track: Tracker) => Promise<T>): Promise<T | undefined>;
  reset(): void;
};

export function useAction<T = void>(): ActionState<T> {
  const [steps, setSteps] = useState<Step[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ExplainedError>();
  const [result, setResult] = useState<T>();
  const running = useRef(false);

  const run = useCallback(async (action: (track: Tracker) => Promise<T>) => {
    if (running.current) return undefined;
    running.current = true;
    setBusy(true);
    setError(undefined);
    setResult(undefined);
    setSteps([]);
    const track: Tracker = {
      step: (label) => setSteps((previous) => [...previous.map((s) => (s.state === "active" ? { ...s, state: "done" as const } : s)), { label, state: "active" }]),
      note: (text) => setSteps((previous) => previous.map((s, i) => (i === previous.length - 1 ? { ...s, note: text } : s))),
    };
    try {
      const value = await action(track);
      setSteps((previous) => previous.map((s) => (s.state === "active" ? { ...s, state: "done" } : s)));
      setResult(() => value);
      return value;
    } catch (failure) {
      console.warn("action failed:", failure);
      setSteps((previous) => previous.map((s) => (s.state === "active" ? { ...s, state: "failed" } : s)));
      setError(explainError(failure));
      return undefined;
    } finally {
      running.current = false;
      setBusy(false);
    }
  }, []);

  const reset = useCallback(() => {
    setSteps([]);
    setError(undefined);
    setResult(undefined);
  }, []);

  return { steps, busy, error, result, run, reset };
}
