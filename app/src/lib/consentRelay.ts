/**
 * Gasless consent: the patient signs the EIP-712 grant or revocation in the page (no gas, no
 * ETH needed) and the stack's relay (config.relayUrl, a funded account) submits
 * grantConsentBySig / revokeConsentBySig. The page then watches the transaction itself.
 */
import { getAddress } from "ethers";
import { GRANT_CONSENT_TYPES, medCipherDomain, REVOKE_CONSENT_TYPES, scopeOf, type MedCipherClient } from "medcipher";

import type { AppConfig } from "../config.js";
import { chainNow } from "./chain.js";
import { AppError } from "./errors.js";

/** How long a signed consent stays valid for the relay to submit (chain time). */
const SIGNATURE_LIFETIME_SECONDS = 3_600;

export type SignedConsentGrant = {
  kind: "grant";
  patient: string; grantee: string; purpose: number; categories: number;
  validFrom: number; validUntil: number; nonce: string; deadline: number; signature: string;
};

export type SignedConsentRevocation = {
  kind: "revoke";
  patient: string; grantee: string; purpose: number; nonce: string; deadline: number; signature: string;
};

export type ConsentRelayRequest = SignedConsentGrant | SignedConsentRevocation;

function consentDomain(client: MedCipherClient) {
  return medCipherDomain("ConsentManager", client.chainId, client.addresses.ConsentManager);
}

export async function signConsentGrant(client: MedCipherClient, grant: { grantee: string; purpose: number; categories: readonly number[]; validFrom?: number; validUntil: number }): Promise<SignedConsentGrant> {
  const grantee = getAddress(grant.grantee);
  const categories = scopeOf(grant.categories);
  const now = await chainNow(client.provider);
  const nonce = (await client.contracts.consent.nonces!(client.address)) as bigint;
  const deadline = now + SIGNATURE_LIFETIME_SECONDS;
  const validFrom = grant.validFrom ?? now;
  const signature = await client.account.signTypedData(consentDomain(client), GRANT_CONSENT_TYPES, {
    patient: client.address, grantee, purpose: grant.purpose, categories, validFrom, validUntil: grant.validUntil, nonce, deadline,
  });
  return { kind: "grant", patient: client.address, grantee, purpose: grant.purpose, categories, validFrom, validUntil: grant.validUntil, nonce: nonce.toString(), deadline, signature };
}

export async function signConsentRevocation(client: MedCipherClient, revocation: { grantee: string; purpose: number }): Promise<SignedConsentRevocation> {
  const grantee = getAddress(revocation.grantee);
  const nonce = (await client.contracts.consent.nonces!(client.address)) as bigint;
  const deadline = (await chainNow(client.provider)) + SIGNATURE_LIFETIME_SECONDS;
  const signature = await client.account.signTypedData(consentDomain(client), REVOKE_CONSENT_TYPES, {
    patient: client.address, grantee, purpose: revocation.purpose, nonce, deadline,
  });
  return { kind: "revoke", patient: client.address, grantee, purpose: revocation.purpose, nonce: nonce.toString(), deadline, signature };
}

/** Hands a signed consent to the relay; resolves to the hash of the transaction it sent. */
export async function relayConsent(config: AppConfig, signed: ConsentRelayRequest): Promise<string> {
  let response: Response;
  try {
    response = await fetch(config.relayUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(signed) });
  } catch (error) {
    throw new AppError("APP_RELAY_FAILED", `the relay is unreachable (${String(error)})`);
  }
  const body = (await response.json().catch(() => ({}))) as { transactionHash?: string; error?: { code?: string; message?: string; details?: Record<string, unknown> } };
  if (!response.ok || !body.transactionHash) {
    // A revert the relay decoded carries the contract's error name: word it like an SDK ChainError.
    const reason = body.error?.details?.reason;
    if (typeof reason === "string") throw new AppError("SDK_CHAIN_REVERT", body.error?.message ?? reason, { reason });
    throw new AppError("APP_RELAY_FAILED", body.error?.message ?? `HTTP ${response.status}`);
  }
  return body.transactionHash;
}
