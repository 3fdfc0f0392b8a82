/**
 * Cross-origin access for dapps served from another origin than the gateway's (CORS, Fetch
 * standard §3.2). Off unless the operator names origins: the default sends no CORS header at all,
 * so a browser page elsewhere cannot read a single response.
 *
 * The allow-list is exact origins (`https://app.example`, `http://127.0.0.1:5173`), no wildcard:
 * every request is signed anyway, but a wildcard would let any page drive a user's session key
 * against this gateway and read the answers.
 */
import type { IncomingHttpHeaders } from "node:http";

import {
  HEADER_ANONYMOUS,
  HEADER_AUTH,
  HEADER_GATEWAY,
  HEADER_RESPONSE_KEY,
  HEADER_RESPONSE_SIGNATURE,
  HEADER_RESPONSE_TIMESTAMP,
  HEADER_SESSION,
} from "../protocol/gateway.js";
import { HEADER_PRIVATE_CONSENT } from "../protocol/privateConsent.js";
import { HEADER_GROUP_ACCESS } from "../protocol/zk/access.js";
import { GatewayError } from "./errors.js";

/** Methods a page may use cross-origin: reads, uploads (`PUT /v1/blobs/:id`) and the firewall (`POST /v1/firewall/he-input/:rawId`). */
export const CORS_ALLOWED_METHODS = ["GET", "PUT", "POST"] as const;
/** Request headers the SDK sends beyond the CORS-safelisted ones. */
export const CORS_ALLOWED_HEADERS = [HEADER_AUTH, HEADER_SESSION, HEADER_ANONYMOUS, HEADER_PRIVATE_CONSENT, HEADER_GROUP_ACCESS, "content-type"] as const;
/**
 * Response headers the SDK reads (sdk/gateway/client.ts): without them exposed, fetch() in a page
 * sees null and the client refuses the response as unsigned.
 */
export const CORS_EXPOSED_HEADERS = [HEADER_RESPONSE_SIGNATURE, HEADER_RESPONSE_TIMESTAMP, HEADER_RESPONSE_KEY, HEADER_GATEWAY, "retry-after"] as const;
/** Browsers cache a preflight this long (Chromium caps it at 7200 s). */
export const CORS_MAX_AGE_SECONDS = 600;

/** A preflight from an origin not on the allow-list (or with CORS off). Sent without CORS headers. */
export class CorsOriginRefusedError extends GatewayError {
  override name = "CorsOriginRefusedError";
  readonly httpStatus = 403;
  constructor(details: { origin: string | null; allowedOrigins: readonly string[] }) {
    const why = details.allowedOrigins.length === 0
      ? "this gateway allows no cross-origin access (set GATEWAY_CORS_ORIGINS to the dapp's origin)"
      : "it is not in this gateway's GATEWAY_CORS_ORIGINS";
    super(`Cross-origin requests from ${details.origin ?? "(no origin)"} are refused: ${why}.`, { code: "GATEWAY_CORS_ORIGIN_REFUSED", details });
  }
}

export type CorsPolicy = {
  readonly allowedOrigins: readonly string[];
  /** The 204 preflight answer's headers, or throws CorsOriginRefusedError. */
  preflight(headers: IncomingHttpHeaders): Record<string, string>;
  /** Headers for an actual response: the CORS ones when the origin is allowed, otherwise none (but Vary when CORS is on). */
  responseHeaders(headers: IncomingHttpHeaders): Record<string, string>;
};

export function createCorsPolicy(origins: readonly string[] = []): CorsPolicy {
  const allowed = new Set(origins);
  const originOf = (headers: IncomingHttpHeaders) => (typeof headers.origin === "string" ? headers.origin : null);
  const allowOrigin = (origin: string) => ({
    "access-control-allow-origin": origin,
    // Answers differ by Origin: a shared cache must not hand one origin's answer to another.
    vary: "Origin",
  });
  return {
    allowedOrigins: [...allowed],
    preflight(headers) {
      const origin = originOf(headers);
      if (origin === null || !allowed.has(origin)) throw new CorsOriginRefusedError({ origin, allowedOrigins: [...allowed] });
      return {
        ...allowOrigin(origin),
        "access-control-allow-methods": CORS_ALLOWED_METHODS.join(", "),
        "access-control-allow-headers": CORS_ALLOWED_HEADERS.join(", "),
        "access-control-max-age": String(CORS_MAX_AGE_SECONDS),
      };
    },
    responseHeaders(headers): Record<string, string> {
      if (allowed.size === 0) return {};
      const origin = originOf(headers);
      if (origin === null || !allowed.has(origin)) return { vary: "Origin" };
      return { ...allowOrigin(origin), "access-control-expose-headers": CORS_EXPOSED_HEADERS.join(", ") };
    },
  };
}

/**
 * Parses the setting: a comma list of exact origins. Returns the origins, or the problems found
 * (an entry that is not `scheme://host[:port]` with nothing after it).
 */
export function parseCorsOrigins(value: string): { origins: string[]; problems: string[] } {
  const origins: string[] = [];
  const problems: string[] = [];
  for (const entry of value.split(",").map((part) => part.trim()).filter((part) => part !== "")) {
    let origin: string | undefined;
    try {
      origin = new URL(entry).origin;
    } catch {
      origin = undefined;
    }
    if (origin === undefined || origin === "null" || origin !== entry) {
      problems.push(`"${entry}" is not an origin (scheme://host[:port], no path or trailing slash${origin && origin !== "null" ? `; did you mean ${origin}?` : ""})`);
    } else {
      origins.push(origin);
    }
  }
  return { origins, problems };
}
