/**
 * Remembers (signer, nonce) pairs for as long as their request could still be accepted.
 *
 * A request is only accepted when its timestamp is within `windowSeconds` of the gateway's clock,
 * so a nonce needs remembering only until `timestamp + windowSeconds`: after that the timestamp
 * check refuses the replay on its own. Memory is therefore bounded by the request rate times the
 * window (at most `maxEntries`; beyond that new requests are refused rather than forgetting nonces).
 */
export type NonceCache = {
  /** Records the nonce; false if it was already seen (a replay) or the cache is full. */
  use(signer: string, nonce: string, timestamp: number, nowSeconds: number): "fresh" | "replay" | "full";
  size(): number;
};

export function createNonceCache(options: { windowSeconds: number; maxEntries?: number }): NonceCache {
  const maxEntries = options.maxEntries ?? 1_000_000;
  // Insertion order is close to expiry order; a sweep stops at the first live entry.
  const expiries = new Map<string, number>();
  let lastSweep = 0;

  const sweep = (now: number) => {
    if (now === lastSweep) return;
    lastSweep = now;
    for (const [key, expiry] of expiries) {
      if (expiry >= now) break;
      expiries.delete(key);
    }
  };

  return {
    use(signer, nonce, timestamp, now) {
      sweep(now);
      const key = `${signer.toLowerCase()}:${nonce.toLowerCase()}`;
      if (expiries.has(key)) return "replay";
      if (expiries.size >= maxEntries) return "full";
      expiries.set(key, timestamp + options.windowSeconds);
      return "fresh";
    },
    size: () => expiries.size,
  };
}
