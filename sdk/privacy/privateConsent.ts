/**
 * Private consent through a relayer: the patient signs the opening, hands the grant to the grantee
 * (or the group), and has the relayer publish the commitment; later, revokes with the secret it
 * derives again from its key and the consent's salt. The chain sees the relayer send a 32-byte
 * commitment; nothing names the patient or the grantee.
 */
import type { TypedDataDomain } from "ethers";

import type { RelayOutcome } from "../../protocol/relayer.js";
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
  /** Wait until mined (default true: a grant handed out before its commitment is on-chain opens nothing). */
  wait?: boolean;
};

/**
 * Returns the grant to hand over (serializePrivateConsentGrant) and the publishing transaction.
 * `outcome` "already-published": the identical commitment was on-chain already (a retry, or a
 * front-runner who copied it from the mempool); the consent is in force either way.
 */
export async function grantConsentPrivate(parameters: GrantConsentPrivateParameters): Promise<{ grant: ParsedPrivateConsentGrant; transactionHash: string | null; outcome: RelayOutcome }> {
  const { grant } = await signPrivateConsent(parameters);
  const { transactionHash, outcome } = await relay({ relayerUrl: parameters.relayerUrl, to: parameters.consentManager, method: "grantConsentPrivate", args: [grant.commitment], wait: parameters.wait ?? true });
  return { grant, transactionHash, outcome };
}

export type RevokeConsentPrivateParameters = { opening: PrivateConsent; patientSecret: Uint8Array; consentManager: string; relayerUrl: string; wait?: boolean };

/** Revokes; reveals the consent hash and the secret, which name neither the patient nor the grantee. */
export async function revokeConsentPrivate(parameters: RevokeConsentPrivateParameters): Promise<{ transactionHash: string | null; outcome: RelayOutcome }> {
  const revocationSecret = deriveRevocationSecret(parameters.patientSecret, parameters.opening.salt);
  const { transactionHash, outcome } = await relay({
    relayerUrl: parameters.relayerUrl, to: parameters.consentManager, method: "revokeConsentPrivate",
    args: [privateConsentHash(parameters.opening), revocationSecret], wait: parameters.wait ?? true,
  });
  return { transactionHash, outcome };
}
