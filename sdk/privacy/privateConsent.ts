/**
 * Private consent through a relayer: the patient signs the opening, hands the grant to the grantee
 * (or the group), and has the relayer publish the commitment; later, revokes with the secret it
 * derives again from its key and the consent's salt. SKELETON against IConsentManager.
 */
import type { TypedDataDomain } from "ethers";

import { deriveRevocationSecret, privateConsentHash, signPrivateConsent, type ParsedPrivateConsentGrant, type PrivateConsent, type PRIVATE_CONSENT_TYPES } from "../../protocol/privateConsent.js";
import { relay } from "./relayer.js";

export type GrantConsentPrivateParameters = {
  signer: { getAddress(): Promise<string>; signTypedData(domain: TypedDataDomain, types: typeof PRIVATE_CONSENT_TYPES, value: PrivateConsent): Promise<string> };
  patientSecret: Uint8Array;
  chainId: number;
  consentManager: string;
  /** The consent; `epoch` must be the patient's current `epochOf`. */
  consent: Omit<PrivateConsent, "salt" | "patient">;
  relayerUrl: string;
};

/** Returns the grant to hand over (serializePrivateConsentGrant) and the publishing transaction. */
export async function grantConsentPrivate(parameters: GrantConsentPrivateParameters): Promise<{ grant: ParsedPrivateConsentGrant; transactionHash: string }> {
  const { grant } = await signPrivateConsent(parameters);
  const { transactionHash } = await relay({ relayerUrl: parameters.relayerUrl, method: "grantConsentPrivate", args: [grant.commitment] });
  return { grant, transactionHash };
}

export type RevokeConsentPrivateParameters = { opening: PrivateConsent; patientSecret: Uint8Array; relayerUrl: string };

/** Revokes; reveals the consent hash and the secret, which name neither the patient nor the grantee. */
export async function revokeConsentPrivate(parameters: RevokeConsentPrivateParameters): Promise<{ transactionHash: string }> {
  const revocationSecret = deriveRevocationSecret(parameters.patientSecret, parameters.opening.salt);
  return relay({ relayerUrl: parameters.relayerUrl, method: "revokeConsentPrivate", args: [privateConsentHash(parameters.opening), revocationSecret] });
}
