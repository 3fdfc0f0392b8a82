import { getBytes, isHexString, recoverAddress } from "ethers";
import type { KeyObject } from "node:crypto";

import {
  decodeAuthHeader,
  decodeJsonHeader,
  isWriteMethod,
  MAX_SESSION_SECONDS,
  requestDigest,
  sessionDigest,
  type SessionHeader,
  type AuthHeader,
  type GatewayMethod,
  type GatewayRequestFields,
} from "../../protocol/gateway.js";
import { AuthenticationError, ExpiredRequestError, ReplayedRequestError, WrongDomainError } from "../errors.js";
import { checksumAddress as getAddress } from "../address.js";
import { ed25519PublicKey, ed25519Verify } from "./ed25519.js";
import type { NonceCache } from "./nonceCache.js";

export type AuthenticatedRequest = {
  /** The recovered signer (checksummed). */
  signer: string;
  fields: GatewayRequestFields;
  /** The EIP-712 digest the response signature refers to. */
  digest: string;
  /** "direct": the request is signed by the Ethereum key; "session": by an Ed25519 key it authorised. */
  mode: "direct" | "session";
  /**
   * True when this exact signed request (same digest, same nonce) was accepted before: a write
   * re-sent after a dropped connection. Only writes may be retried (their answer is the
   * original one, and storing the same bytes twice changes nothing); a re-sent read or audit
   * request is a replay, refused, so a captured request never yields data a second time.
   */
  retry: boolean;
};

export type RequestVerifier = {
  /**
   * `claimed` receives the request's EIP-712 digest as soon as the header parses and names this
   * chain and gateway, so a refusal (expired, replayed, bad signature) can still be signed for
   * the exact request it answers and the client can read the reason.
   */
  verify(headerValue: string | undefined, method: GatewayMethod, blobId: string, sessionValue?: string, claimed?: { digest?: string }): Promise<AuthenticatedRequest>;
};

type VerifiedSession = { signer: string; key: KeyObject; notAfter: number };

/**
 * Checks, in order (cheapest first, so junk costs little): header shape, chain id and gateway
 * address, timestamp window, signature (EIP-712, recovered signer must equal the claimed one), then
 * the nonce — last, so an invalid signature cannot burn someone else's nonce. A write whose nonce
 * was already used by the same request is let through as a retry (`retry: true`).
 */
export function createRequestVerifier(options: {
  chainId: number;
  gatewayAddress: string;
  windowSeconds: number;
  nonces: NonceCache;
  now?: () => number;
}): RequestVerifier {
  const gateway = getAddress(options.gatewayAddress);
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  // Verified session authorisations, by their header: one secp256k1 recovery per session.
  const sessions = new Map<string, VerifiedSession>();

  function verifySession(value: string, current: number): VerifiedSession {
    const cacheKey = value;
    const cached = sessions.get(cacheKey);
    if (cached) {
      if (cached.notAfter < current) throw new AuthenticationError("Session expired: sign a new one.", { notAfter: cached.notAfter });
      return cached;
    }
    let raw: Partial<Record<keyof SessionHeader, unknown>>;
    try {
      raw = decodeJsonHeader(value) as typeof raw;
    } catch {
      throw new AuthenticationError("x-medcipher-session is not base64url JSON.");
    }
    if (
      typeof raw.signer !== "string" || !isHexString(raw.signer, 20) || typeof raw.gateway !== "string" || !isHexString(raw.gateway, 20) ||
      typeof raw.sessionKey !== "string" || !isHexString(raw.sessionKey, 32) || typeof raw.notAfter !== "number" || !Number.isSafeInteger(raw.notAfter) ||
      typeof raw.signature !== "string" || !isHexString(raw.signature, 65)
    ) throw new AuthenticationError("x-medcipher-session is missing fields or has malformed ones.");
    const session = raw as SessionHeader;
    if (getAddress(session.gateway) !== gateway) throw new WrongDomainError({ expectedChainId: options.chainId, chainId: options.chainId, expectedGateway: gateway, gateway: session.gateway });
    if (session.notAfter < current) throw new AuthenticationError("Session expired: sign a new one.", { notAfter: session.notAfter });
    if (session.notAfter > current + MAX_SESSION_SECONDS + options.windowSeconds) throw new AuthenticationError(`Sessions last at most ${MAX_SESSION_SECONDS} s.`);
    let recovered: string;
    try {
      recovered = recoverAddress(sessionDigest(options.chainId, { signer: session.signer, sessionKey: session.sessionKey, notAfter: session.notAfter, gateway }), session.signature);
    } catch (error) {
      throw new AuthenticationError("Malformed session signature.", { cause: String(error) });
    }
    if (recovered !== getAddress(session.signer)) throw new AuthenticationError("Session signature does not match the claimed signer (or was made for another chain).");
    const verified = { signer: recovered, key: ed25519PublicKey(getBytes(session.sessionKey)), notAfter: session.notAfter };
    if (sessions.size >= 100_000) {
      for (const [key, s] of sessions) if (s.notAfter < current || sessions.size >= 100_000) sessions.delete(key);
    }
    sessions.set(cacheKey, verified);
    return verified;
  }

  return {
    async verify(headerValue, method, blobId, sessionValue, claimed) {
      if (!headerValue) throw new AuthenticationError("Missing x-medcipher-auth header: every request must be signed.");
      const auth = parseAuth(headerValue);
      if (auth.chainId !== options.chainId || auth.gateway.toLowerCase() !== gateway.toLowerCase()) {
        throw new WrongDomainError({ expectedChainId: options.chainId, chainId: auth.chainId, expectedGateway: gateway, gateway: auth.gateway });
      }
      const current = now();
      const fields: GatewayRequestFields = {
        method,
        blobId,
        purpose: auth.purpose,
        owner: auth.owner,
        kind: auth.kind,
        category: auth.category,
        // Case does not change the signed bytes32; lower case keeps comparisons and metadata exact.
        ref: auth.ref.toLowerCase(),
        timestamp: auth.timestamp,
        nonce: auth.nonce,
        gateway,
      };
      const digest = requestDigest(options.chainId, fields);
      if (claimed) claimed.digest = digest;
      if (Math.abs(current - auth.timestamp) > options.windowSeconds) {
        throw new ExpiredRequestError({ timestamp: auth.timestamp, now: current, windowSeconds: options.windowSeconds });
      }
      let recovered: string;
      if (sessionValue) {
        const session = verifySession(sessionValue, current);
        if (session.signer !== getAddress(auth.signer)) throw new AuthenticationError("The session belongs to another signer.", { signer: auth.signer });
        if (!ed25519Verify(session.key, getBytes(digest), getBytes(auth.signature))) {
          throw new AuthenticationError("Request signature does not match the session key.", { signer: auth.signer });
        }
        recovered = session.signer;
      } else {
        try {
          recovered = recoverAddress(digest, auth.signature);
        } catch (error) {
          throw new AuthenticationError("Malformed request signature.", { cause: String(error) });
        }
        if (recovered !== getAddress(auth.signer)) {
          throw new AuthenticationError("Request signature does not match the claimed signer.", { signer: auth.signer });
        }
      }
      const nonceState = await options.nonces.use(recovered, auth.nonce, digest, auth.timestamp, current);
      if (nonceState === "replay" || (nonceState === "retry" && !isWriteMethod(method))) throw new ReplayedRequestError({ signer: recovered, nonce: auth.nonce });
      if (nonceState === "full") throw new AuthenticationError("Gateway nonce cache is full; retry shortly.");
      return { signer: recovered, fields, digest, mode: sessionValue ? "session" : "direct", retry: nonceState === "retry" };
    },
  };
}

function parseAuth(value: string): AuthHeader {
  let raw: unknown;
  try {
    raw = decodeAuthHeader(value);
  } catch {
    throw new AuthenticationError("x-medcipher-auth is not base64url JSON.");
  }
  const a = raw as Partial<Record<keyof AuthHeader, unknown>>;
  const isUint = (v: unknown, max: number): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max;
  const isAddress = (v: unknown): v is string => typeof v === "string" && isHexString(v, 20);
  if (
    typeof raw !== "object" || raw === null ||
    !isAddress(a.signer) || !isAddress(a.gateway) || !isAddress(a.owner) ||
    !isUint(a.chainId, Number.MAX_SAFE_INTEGER) || !isUint(a.timestamp, Number.MAX_SAFE_INTEGER) ||
    !isUint(a.purpose, 255) || !isUint(a.category, 255) ||
    typeof a.kind !== "string" || a.kind.length > 32 ||
    typeof a.nonce !== "string" || !isHexString(a.nonce, 32) ||
    typeof a.ref !== "string" || !isHexString(a.ref, 32) ||
    typeof a.signature !== "string" || !(isHexString(a.signature, 65) || isHexString(a.signature, 64))
  ) {
    throw new AuthenticationError("x-medcipher-auth is missing fields or has malformed ones.");
  }
  return a as AuthHeader;
}
