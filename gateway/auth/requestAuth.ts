import { getAddress, isHexString, recoverAddress } from "ethers";

import {
  decodeAuthHeader,
  requestDigest,
  type AuthHeader,
  type GatewayMethod,
  type GatewayRequestFields,
} from "../protocol.js";
import { AuthenticationError, ExpiredRequestError, ReplayedRequestError, WrongDomainError } from "../errors.js";
import type { NonceCache } from "./nonceCache.js";

export type AuthenticatedRequest = {
  /** The recovered signer (checksummed). */
  signer: string;
  fields: GatewayRequestFields;
  /** The EIP-712 digest the response signature refers to. */
  digest: string;
};

export type RequestVerifier = {
  verify(headerValue: string | undefined, method: GatewayMethod, blobId: string): AuthenticatedRequest;
};

/**
 * Checks, in order (cheapest first, so junk costs little): header shape, chain id and gateway
 * address, timestamp window, signature (EIP-712, recovered signer must equal the claimed one), then
 * the nonce — last, so an invalid signature cannot burn someone else's nonce.
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

  return {
    verify(headerValue, method, blobId) {
      if (!headerValue) throw new AuthenticationError("Missing x-medcipher-auth header: every request must be signed.");
      const auth = parseAuth(headerValue);
      if (auth.chainId !== options.chainId || auth.gateway.toLowerCase() !== gateway.toLowerCase()) {
        throw new WrongDomainError({ expectedChainId: options.chainId, chainId: auth.chainId, expectedGateway: gateway, gateway: auth.gateway });
      }
      const current = now();
      if (Math.abs(current - auth.timestamp) > options.windowSeconds) {
        throw new ExpiredRequestError({ timestamp: auth.timestamp, now: current, windowSeconds: options.windowSeconds });
      }
      const fields: GatewayRequestFields = {
        method,
        blobId,
        purpose: auth.purpose,
        owner: auth.owner,
        kind: auth.kind,
        category: auth.category,
        ref: auth.ref,
        timestamp: auth.timestamp,
        nonce: auth.nonce,
        gateway,
      };
      const digest = requestDigest(options.chainId, fields);
      let recovered: string;
      try {
        recovered = recoverAddress(digest, auth.signature);
      } catch (error) {
        throw new AuthenticationError("Malformed request signature.", { cause: String(error) });
      }
      if (recovered !== getAddress(auth.signer)) {
        throw new AuthenticationError("Request signature does not match the claimed signer.", { signer: auth.signer });
      }
      const nonceState = options.nonces.use(recovered, auth.nonce, auth.timestamp, current);
      if (nonceState === "replay") throw new ReplayedRequestError({ signer: recovered, nonce: auth.nonce });
      if (nonceState === "full") throw new AuthenticationError("Gateway nonce cache is full; retry shortly.");
      return { signer: recovered, fields, digest };
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
    typeof a.signature !== "string" || !isHexString(a.signature, 65)
  ) {
    throw new AuthenticationError("x-medcipher-auth is missing fields or has malformed ones.");
  }
  return a as AuthHeader;
}
