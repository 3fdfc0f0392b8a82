/**
 * Gasless consent: the patient signs the EIP-712 grant or revocation in the page
 * (`signConsentGrant` / `signConsentRevocation`: signed, not sent; no ETH needed) and the stack's
 * relay (config.relayUrl, a funded account) submits grantConsentBySig / revokeConsentBySig.
 * The page then watches the transaction itself.
 */
import type { SignedConsentGrant, SignedConsentRevocation } from "medcipher";

import type { AppConfig } from "../config.js";
import { AppError } from "./errors.js";

type ErrorBody = { error?: { code?: string; message?: string; details?: Record<string, unknown> } };

/** Hands a signed consent to the relay; resolves to the hash of the transaction it sent. */
export async function relayConsent(config: AppConfig, signed: SignedConsentGrant | SignedConsentRevocation): Promise<string> {
  let response: Response;
  try {
    response = await fetch(config.relayUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(signed) });
  } catch (error) {
    throw new AppError("APP_RELAY_FAILED", `the relay is unreachable (${String(error)})`);
  }
  const body = (await response.json().catch(() => ({}))) as { transactionHash?: string } & ErrorBody;
  if (response.ok && body.transactionHash) return body.transactionHash;
  // A revert the relay decoded carries the contract's error name: worded like an SDK ChainError.
  const reason = body.error?.details?.reason;
  if (typeof reason === "string") throw new AppError("SDK_CHAIN_REVERT", body.error?.message ?? reason, { reason });
  throw new AppError("APP_RELAY_FAILED", body.error?.message ?? `HTTP ${response.status}`);
}
