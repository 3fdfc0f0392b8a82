/**
 * The relayer's wire format, the one place both sides read (relayer/server.ts serves it,
 * sdk/privacy/relayer.ts speaks it). Browser-safe.
 *
 *   POST /v1/relay   {"to": "0x…", "data": "0x…", "wait": false}
 *     200 {"transactionHash": "0x…", "outcome": "sent" | "mined" | "already-published", "receipt"?: {…}}
 *     4xx/5xx {"error": {"code": "RELAYER_…", "message": "…", "details"?: {…}}}
 *   GET  /v1/relayer {"chainId", "address", "calls": [{"to", "method", "selector"}]}
 *
 * Why calldata and not {method, args} (zk's proposal): the client encodes with the contract's ABI
 * exactly what it proved and simulated, so no second JSON codec of tuples and bigints can drift;
 * the relayer decodes it once (to refuse malformed calls) and allow-lists (to, selector).
 *
 * `outcome` "already-published": a grantConsentPrivate whose commitment is already on-chain (a
 * front-runner or an earlier retry published the identical commitment: the patient's goal is met);
 * `transactionHash` is then the transaction that did publish it, when the relayer found it.
 */
import { Interface } from "ethers";

import { consentManagerAbi, predictionRouterAbi } from "./abi/generated.js";

export const RELAY_PATH = "/v1/relay";
export const RELAYER_INFO_PATH = "/v1/relayer";

/** The only calls a relayer sends, by contract. */
export const RELAYED_CALLS = {
  requestPredictionAnonymous: "PredictionRouter",
  grantConsentPrivate: "ConsentManager",
  revokeConsentPrivate: "ConsentManager",
} as const;

export type RelayedMethod = keyof typeof RELAYED_CALLS;
export type RelayedContract = (typeof RELAYED_CALLS)[RelayedMethod];

export const routerInterface = new Interface(predictionRouterAbi);
export const consentInterface = new Interface(consentManagerAbi);

export function interfaceOf(contract: RelayedContract): Interface {
  return contract === "PredictionRouter" ? routerInterface : consentInterface;
}

/** The 4-byte selector of a relayed method. */
export function relayedSelector(method: RelayedMethod): string {
  return interfaceOf(RELAYED_CALLS[method]).getFunction(method)!.selector;
}

export type RelayRequestBody = {
  to: string;
  data: string;
  /** Wait for the receipt before answering (bounded by the relayer's RECEIPT_TIMEOUT_MS). */
  wait?: boolean;
};

export type RelayReceipt = { blockNumber: number; status: number; gasUsed: string };

export type RelayOutcome = "sent" | "mined" | "already-published";

export type RelayResponseBody = {
  transactionHash: string | null;
  outcome: RelayOutcome;
  receipt?: RelayReceipt;
};

export type RelayerInfo = { chainId: number; address: string; calls: { to: string; method: RelayedMethod; selector: string }[] };

/** Error codes of the relayer's refusals (the HTTP status goes with each). */
export const RELAYER_ERROR_STATUS = {
  /** Not JSON, or not exactly {to, data, wait?}. */
  RELAYER_BAD_REQUEST: 400,
  /** `to` is not one of the contracts the relayer serves. */
  RELAYER_TARGET: 403,
  /** The selector is not allow-listed for `to`. */
  RELAYER_SELECTOR: 403,
  /** The calldata does not decode as the allow-listed function's arguments. */
  RELAYER_CALLDATA: 400,
  /** Simulation reverted; `details.revert` is protocol/revert.ts's DecodedRevert. Nothing was sent. */
  RELAYER_REVERT: 422,
  /** The call needs more gas than the relayer's cap. Nothing was sent. */
  RELAYER_GAS_CAP: 422,
  /** The sent transaction was mined and reverted (someone changed the state in between). */
  RELAYER_REVERTED: 409,
  /** This client's request budget is spent; `retry-after` says when. */
  RELAYER_RATE_LIMITED: 429,
  RELAYER_BODY_TOO_LARGE: 413,
  RELAYER_NOT_FOUND: 404,
  /** A browser preflight from an origin the relayer does not list (RELAYER_CORS_ORIGINS). */
  RELAYER_CORS: 403,
  /** The relayer's own wallet cannot pay gas. */
  RELAYER_UNFUNDED: 503,
  /** The node did not take the transaction, or the receipt did not come in time. */
  RELAYER_SEND_FAILED: 502,
  RELAYER_TIMEOUT: 504,
  RELAYER_INTERNAL: 500,
} as const;

export type RelayerErrorCode = keyof typeof RELAYER_ERROR_STATUS;
