/**
 * The soaks' knobs, all from the environment (docs/soaks.md lists them). The defaults finish in
 * a few minutes per soak on a 2-core machine.
 */
export type SoakKnobs = {
  seed: number;
  requests: number;
  patients: number;
  /** Pause between two requests of the stream. */
  requestIntervalMs: number;
  blockSeconds: number;
  settleSeconds: number;
  stuckLimitSeconds: number;
  tolerance: number;
};

export function numberFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a non-negative number, got "${raw}"`);
  return value;
}

export function knobsFromEnv(defaults: { requests: number; requestIntervalMs: number }): SoakKnobs {
  return {
    seed: numberFromEnv("SOAK_SEED", 9),
    requests: numberFromEnv("SOAK_REQUESTS", defaults.requests),
    patients: Math.max(1, numberFromEnv("SOAK_PATIENTS", 4)),
    requestIntervalMs: numberFromEnv("SOAK_REQUEST_INTERVAL_MS", defaults.requestIntervalMs),
    blockSeconds: Math.max(1, numberFromEnv("SOAK_BLOCK_SECONDS", 1)),
    settleSeconds: numberFromEnv("SOAK_SETTLE_SECONDS", 60),
    stuckLimitSeconds: numberFromEnv("SOAK_STUCK_LIMIT_SECONDS", 30),
    tolerance: numberFromEnv("SOAK_TOLERANCE", 0.01),
  };
}
