import { getAddress } from "ethers";

import { GRANT_CONSENT_TYPES, medCipherDomain } from "../../protocol/typedData.js";
import { scopeOf } from "../../protocol/codes.js";
import { chainNow, SIGNATURE_LIFETIME_SECONDS } from "../chain/time.js";
import type { MedCipherClient } from "../client.js";
import { InvalidInputError } from "../errors.js";

export type SignConsentGrantParameters = {
  grantee: string;
  /** Purpose-of-use code (Purpose.TREAT …). */
  purpose: number;
  /** Category codes the grant covers (Category.VITAL_SIGNS …). */
  categories: readonly number[];
  /** Unix seconds; default the chain's now. */
  validFrom?: number;
  /** Unix seconds (exclusive). */
  validUntil: number;
  /** The signature is refused on-chain after this (unix seconds); default one hour of chain time. */
  deadline?: number;
};

/**
 * A patient's EIP-712 `GrantConsent`, signed and not sent: everything a relayer needs to call
 * `ConsentManager.grantConsentBySig`, as plain JSON (POST it to a relay). `nonce` is the one it
 * was signed at (`nonces(patient)`): another consent change landing first invalidates it.
 */
export type SignedConsentGrant = {
  kind: "grant";
  chainId: number;
  consentManager: string;
  patient: string;
  grantee: string;
  purpose: number;
  /** The category bit mask (scopeOf(categories)). */
  categories: number;
  validFrom: number;
  validUntil: number;
  /** Decimal string (uint256). */
  nonce: string;
  deadline: number;
  signature: string;
};

export type SignConsentGrantReturnType = SignedConsentGrant;

/**
 * Signs a consent grant for `grantee` without sending anything: for gasless grants relayed by
 * someone else (a clinic's relay, `npm run app`'s POST /relay/consent). The patient's wallet
 * signs; its account needs no ETH.
 *
 * @example
 * const signed = await signConsentGrant(patient, { grantee: clinician, purpose: Purpose.TREAT, categories: [Category.VITAL_SIGNS], validUntil: now + 30 * 86400 });
 * await fetch(config.relayUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(signed) });
 */
export async function signConsentGrant(client: MedCipherClient, parameters: SignConsentGrantParameters): Promise<SignConsentGrantReturnType> {
  const grantee = getAddress(parameters.grantee);
  const categories = scopeOf(parameters.categories);
  if (categories === 0) throw new InvalidInputError("A consent must cover at least one category.");
  const now = await chainNow(client.provider);
  const validFrom = parameters.validFrom ?? now;
  if (parameters.validUntil <= validFrom) throw new InvalidInputError("validUntil must be after validFrom.", { validFrom, validUntil: parameters.validUntil });
  const deadline = parameters.deadline ?? now + SIGNATURE_LIFETIME_SECONDS;
  const nonce = await client.contracts.consent.nonces(client.address);
  const message = { patient: client.address, grantee, purpose: parameters.purpose, categories, validFrom, validUntil: parameters.validUntil, nonce, deadline };
  const domain = medCipherDomain("ConsentManager", client.chainId, client.addresses.ConsentManager);
  const signature = await client.account.signTypedData(domain, GRANT_CONSENT_TYPES, message);
  return {
    kind: "grant", chainId: client.chainId, consentManager: getAddress(client.addresses.ConsentManager),
    ...message, nonce: nonce.toString(), signature,
  };
}
