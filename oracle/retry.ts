import { isRetryable } from "./errors.js";

/** First retry waits this long; each further retry doubles it. */
export const RETRY_BASE_DELAY_MS = 200;
/** No single wait exceeds this, however many attempts have failed. */
export const RETRY_MAX_DELAY_MS = 15_000;
/** Share of each delay that is randomised, so many jobs do not retry in lockstep. */
export const RETRY_JITTER_RATIO = 0.2;
/** In-process attempts before `withRetry` gives up and lets the caller park the work. */
export const RETRY_MAX_ATTEMPTS = 6;

/** Exponential backoff with jitter; attempt 1 is the first retry. */
export function backoffDelayMs(attempt: number, random: () => number = Math.random): number {
  const exponential = Math.min(RETRY_MAX_DELAY_MS, RETRY_BASE_DELAY_MS * 2 ** Math.max(0, attempt - 1));
  const jitter = exponential * RETRY_JITTER_RATIO * (random() * 2 - 1);
  return Math.max(0, Math.round(exponential + jitter));
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export type WithRetryOptions = {
  signal?: AbortSignal;
  maxAttempts?: number;
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
};

/** Runs `fn`, retrying retryable failures with backoff; non-retryable ones are thrown at once. */
export async function withRetry<T>(fn: () => Promise<T>, options: WithRetryOptions = {}): Promise<T> {
  const maxAttempts = options.maxAttempts ?? RETRY_MAX_ATTEMPTS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (!isRetryable(error) || attempt >= maxAttempts || options.signal?.aborted) throw error;
      const delayMs = backoffDelayMs(attempt);
      options.onRetry?.(error, attempt, delayMs);
      await sleep(delayMs, options.signal);
    }
  }
}
