import type { BlobKind } from "../protocol/gateway.js";

export type GatewayLimits = {
  /** Largest accepted upload per blob kind, in bytes. */
  maxBytes: Record<BlobKind, number>;
  /** Sustained requests per second per signer (token bucket refill rate). */
  ratePerSecond: number;
  /** Requests a signer may make at once before the rate applies (bucket size). */
  burst: number;
  /** A request (body upload, chain checks, response) must finish within this, or it is answered 503. */
  requestTimeoutMs: number;
  /** Accepted clock difference between a request's timestamp and the gateway, either way. */
  timestampWindowSeconds: number;
  /**
   * Upload bytes in progress at once, across all connections (each upload reserves its
   * `content-length`, or its kind's limit when it sends none); beyond it an upload is answered
   * 503 GATEWAY_BUSY. Uploads stream to disk, so this bounds temporary disk use and concurrent
   * work, not memory. Keep it at least the largest `maxBytes`, or that kind can never be stored.
   */
  maxInFlightUploadBytes: number;
  /**
   * How old a record's ML-DSA signature (`signedAt`) may be when it is uploaded
   * (gateway/recordSignatures.ts); signatures from the future are allowed `timestampWindowSeconds`.
   */
  recordSignatureMaxAgeSeconds: number;
};

const MiB = 1024 * 1024;

/** Sizes follow the fhe/ engine's measured artefacts with headroom (TOOLCHAIN.md). */
export const DEFAULT_LIMITS: GatewayLimits = {
  maxBytes: {
    // An 8 MiB size bucket (core/padding.ts) plus the sealed record's header and tag, and the
    // device's ML-DSA-65 signature wrapper around it (≤ 7413 B, protocol/signedRecord.ts).
    record: 8 * MiB + 12 * 1024,
    // A record share: a 4 KiB size bucket sealed to the grantee (sdk/crypto/sealedBox.ts). A hybrid
    // box (X25519 + ML-KEM-768) adds 1152 B (ephemeral key, 1088 B ML-KEM ciphertext, IV, tag), a
    // classic one 64 B; a hybrid share's JSON (≈ 2.2 KB + 69 B per Merkle proof level: up to 27
    // levels) still fits the 4 KiB bucket: measured 5,248 B for a hybrid share, 4,160 B classic.
    "wrapped-key": 4 * 1024 + 1152,
    "he-input": 16 * MiB,
    "he-keys": 128 * MiB,
    "he-result": 16 * MiB,
    other: 1 * MiB,
  },
  ratePerSecond: 100,
  burst: 200,
  requestTimeoutMs: 30_000,
  timestampWindowSeconds: 120,
  maxInFlightUploadBytes: 1024 * MiB,
  recordSignatureMaxAgeSeconds: 3600,
};

export type RateLimiter = {
  /** 0 if the request may proceed, otherwise milliseconds until it could. */
  take(signer: string): number;
};

/** A token bucket per signer. Idle buckets are dropped once full again, so memory follows activity. */
export function createRateLimiter(options: { ratePerSecond: number; burst: number; now?: () => number }): RateLimiter {
  const now = options.now ?? (() => performance.now());
  const buckets = new Map<string, { tokens: number; at: number }>();
  let lastPrune = now();
  return {
    take(signer) {
      const t = now();
      if (t - lastPrune > 60_000) {
        for (const [key, bucket] of buckets) {
          if (bucket.tokens + ((t - bucket.at) / 1000) * options.ratePerSecond >= options.burst) buckets.delete(key);
        }
        lastPrune = t;
      }
      const bucket = buckets.get(signer) ?? { tokens: options.burst, at: t };
      bucket.tokens = Math.min(options.burst, bucket.tokens + ((t - bucket.at) / 1000) * options.ratePerSecond);
      bucket.at = t;
      buckets.set(signer, bucket);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      return Math.ceil(((1 - bucket.tokens) / options.ratePerSecond) * 1000);
    },
  };
}
