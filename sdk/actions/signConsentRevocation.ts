import { getAddress } from "ethers";

import { medCipherDomain, REVOKE_CONSENT_TYPES } from "../../protocol/typedData.js";
import { chainNow, SIGNATURE_LIFETIME_SECONDS } from "../chain/time.js";
import type { MedCipherClient } from "../client.js";

export type SignConsentRevocationParameters = {
  grantee: string;
  purpose: number;
  /** The signature is refused on-chain after this (unix seconds); default one hour of chain time. */
  deadline?: number;
};

/**
 * A patient's EIP-712 `RevokeConsent`, signed and not sent: the arguments of
 * `ConsentManager.revokeConsentBySig`, as plain JSON. It lands whatever other signature of the
 * patient lands first (the contract accepts any nonce up to the current one), unless the patient
 * granted anew after signing (`RevocationSuperseded`).
 */
export type SignedConsentRevocation = {
  kind: "revoke";
  chainId: number;
  consentManager: string;
  patient: string;
  grantee: string;
  purpose: number;
  /** Decimal string (uint256). */
  nonce: string;
  deadline: number;
  signature: string;
};

export type SignConsentRevocationReturnType = SignedConsentRevocation;

/**
 * Signs the revocation of the patient's grant to `grantee` for `purpose` without sending it.
 *
 * @example
 * const signed = await signConsentRevocation(patient, { grantee: clinician, purpose: Purpose.TREAT });
 * await fetch(config.relayUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(signed) });
 */
export async function signConsentRevocation(client: MedCipherClient, parameters: SignConsentRevocationParameters): Promise<SignConsentRevocationReturnType> {
  const grantee = getAddress(parameters.grantee);
  const deadline = parameters.deadline ?? (await chainNow(client.provider)) + SIGNATURE_LIFETIME_SECONDS;
  const nonce = await client.contracts.consent.nonces(client.address);
  const message = { patient: client.address, grantee, purpose: parameters.purpose, nonce, deadline };
  const domain = medCipherDomain("ConsentManager", client.chainId, client.addresses.ConsentManager);
  const signature = await client.account.signTypedData(domain, REVOKE_CONSENT_TYPES, message);
  return {
    kind: "revoke", chainId: client.chainId, consentManager: getAddress(client.addresses.ConsentManager),
    ...message, nonce: nonce.toString(), signature,
  };
}
