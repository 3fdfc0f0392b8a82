import { getAddress, type Signer } from "ethers";

import { chainNow, SIGNATURE_LIFETIME_SECONDS } from "../chain/time.js";
import { connectContracts } from "../chain/contracts.js";
import { sendTransaction } from "../chain/send.js";
import { REVOKE_CONSENT_TYPES } from "../chain/typedData.js";
import type { MedCipherClient } from "../client.js";
import { consentDomain } from "./grantConsent.js";

export type RevokeConsentParameters = { grantee: string; purpose: number; relayer?: Signer };
export type RevokeConsentReturnType = { transactionHash: string };

/** Defined in chain/typedData.ts with the other contract messages; still exported here for callers of this file. */
export { REVOKE_CONSENT_TYPES };

/**
 * Revokes the client's (patient's) grant to `grantee` for `purpose`. The gateway refuses the
 * grantee's reads from the block that includes the revocation.
 *
 * @example
 * await revokeConsent(patientClient, { grantee: clinician, purpose: Purpose.TREAT });
 */
export async function revokeConsent(client: MedCipherClient, parameters: RevokeConsentParameters): Promise<RevokeConsentReturnType> {
  const grantee = getAddress(parameters.grantee);
  if (!parameters.relayer) {
    const receipt = await sendTransaction("revokeConsent", () => client.contracts.consent.revokeConsent!(grantee, parameters.purpose));
    return { transactionHash: receipt.hash };
  }
  const nonce = (await client.contracts.consent.nonces!(client.address)) as bigint;
  const deadline = (await chainNow(client.provider)) + SIGNATURE_LIFETIME_SECONDS;
  const signature = await client.account.signTypedData(consentDomain(client), REVOKE_CONSENT_TYPES, {
    patient: client.address, grantee, purpose: parameters.purpose, nonce, deadline,
  });
  const relayed = connectContracts(client.addresses, parameters.relayer).consent;
  const receipt = await sendTransaction("revokeConsentBySig", () =>
    relayed.revokeConsentBySig!(client.address, grantee, parameters.purpose, deadline, signature));
  return { transactionHash: receipt.hash };
}
