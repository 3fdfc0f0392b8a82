/**
 * A grantee reads a patient's blob under a private consent: the usual signed GET (the grantee's
 * own key) with the patient's grant beside it. The gateway checks the grant names the signer and
 * the blob's owner, and asks ConsentManager.privateConsentAllows for the blob's category.
 */
import type { GatewayClient } from "../../protocol/gatewayClient.js";
import type { PrivateConsentGrant } from "../../protocol/privateConsent.js";

export type ReadBlobWithPrivateConsentParameters = {
  /** A gateway client signing as the grantee. */
  gateway: GatewayClient;
  blobId: string;
  grant: PrivateConsentGrant;
  /** Defaults to the consent's own purpose. */
  purpose?: number;
};

/**
 * @example
 * const grant = parsePrivateConsentGrant(textFromThePatient);
 * const bytes = await readBlobWithPrivateConsent({ gateway: createGatewayClient({ url, signer: clinician, chainId, gatewayAddress }), blobId, grant });
 */
export function readBlobWithPrivateConsent(parameters: ReadBlobWithPrivateConsentParameters): Promise<Uint8Array> {
  return parameters.gateway.get(parameters.blobId, { purpose: parameters.purpose ?? parameters.grant.opening.purpose, privateConsent: parameters.grant });
}
