/**
 * One AbortController for the whole daemon plus callbacks registered by each component, run in
 * reverse order of registration (as Ponder's shutdown does). SIGINT/SIGTERM trigger it.
 */
export type Shutdown = {
  readonly signal: AbortSignal;
  readonly isKilled: () => boolean;
  /** Registers a callback run on shutdown; later registrations run first. */
  add: (callback: () => unknown) => void;
  /** Aborts the signal, then awaits every callback; safe to call more than once. */
  kill: (reason?: string) => Promise<void>;
};

export function createShutdown(): Shutdown {
  const controller = new AbortController();
  const callbacks: (() => unknown)[] = [];
  let killing: Promise<void> | undefined;
  return {
    signal: controller.signal,
    isKilled: () => controller.signal.aborted,
    add: (callback) => {
      callbacks.push(callback);
    },
    kill: (reason = "shutdown") => {
      killing ??= (async () => {
        controller.abort(new Error(reason));
        for (const callback of [...callbacks].reverse()) {
          try {
            await callback();
          } catch {
            // A failing callback must not keep the others from running.
          }
        }
      })();
      return killing;
    },
  };
}

/** Calls `handler` once on the first SIGINT or SIGTERM; returns a function that removes it. */
export function onTerminationSignals(handler: (signal: NodeJS.Signals) => void): () => void {
  let fired = false;
  const listener = (signal: NodeJS.Signals) => {
    if (fired) return;
    fired = true;
    handler(signal);
  };
  process.on("SIGINT", listener);
  process.on("SIGTERM", listener);
  return () => {
    process.off("SIGINT", listener);
    process.off("SIGTERM", listener);
  };
}
