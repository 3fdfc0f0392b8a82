import { getAddress, type Signer } from "ethers";

import { chainNow, SIGNATURE_LIFETIME_SECONDS } from "../chain/time.js";
import { connectContracts } from "../../protocol/contracts.js";
import { revertName, SIGNED_CONSENT_ATTEMPTS } from "../chain/resign.js";
import { sendTransaction } from "../chain/send.js";
import { REVOKE_CONSENT_TYPES } from "../../protocol/typedData.js";
import type { MedCipherClient } from "../client.js";
import { consentDomain } from "./grantConsent.js";

export type RevokeConsentParameters = { grantee: string; purpose: number; relayer?: Signer };
export type RevokeConsentReturnType = { transactionHash: string };

/** Defined in chain/typedData.ts with the other contract messages; still exported here for callers of this file. */
export { REVOKE_CONSENT_TYPES };

/**
 * Reverts of a signed revocation that a fresh signature cures: the nonce signed is ahead of the
 * chain (a reorg dropped, or a lagging replica had not yet seen, the change that moved it), or
 * the relayer sat on it past its deadline. A revocation never loses its nonce to another
 * signature (the contract accepts it whatever landed first), so nothing else is retried; in
 * particular `RevocationSuperseded` (the patient granted anew after signing) is final.
 */
const RESIGN_REVOCATION_ON = new Set(["InvalidAccountNonce", "SignatureExpired"]);

/**
 * Revokes the client's (patient's) grant to `grantee` for `purpose`. The gateway refuses the
 * grantee's reads from the block that includes the revocation. With a relayer, the patient signs
 * `RevokeConsent` at `nonces(patient)`; it lands even when the grantee submits a grant it held
 * back for that nonce first, and it is re-signed and re-sent (up to SIGNED_CONSENT_ATTEMPTS) when
 * its nonce or deadline went stale before inclusion.
 *
 * @example
 * await revokeConsent(patientClient, { grantee: clinician, purpose: Purpose.TREAT });
 */
export async function revokeConsent(client: MedCipherClient, parameters: RevokeConsentParameters): Promise<RevokeConsentReturnType> {
  const grantee = getAddress(parameters.grantee);
  const { purpose, relayer } = parameters;
  if (!relayer) {
    const receipt = await sendTransaction("revokeConsent", () => client.contracts.consent.revokeConsent(grantee, purpose));
    return { transactionHash: receipt.hash };
  }
  const relayed = connectContracts(client.addresses, relayer).consent;
  for (let attempt = 1; ; attempt++) {
    const nonce = await client.contracts.consent.nonces(client.address);
    const deadline = (await chainNow(client.provider)) + SIGNATURE_LIFETIME_SECONDS;
    const signature = await client.account.signTypedData(consentDomain(client), REVOKE_CONSENT_TYPES, {
      patient: client.address, grantee, purpose, nonce, deadline,
    });
    try {
      const receipt = await sendTransaction("revokeConsentBySig", () =>
        relayed.revokeConsentBySig(client.address, grantee, purpose, nonce, deadline, signature));
      return { transactionHash: receipt.hash };
    } catch (error) {
      const reason = revertName(error);
      if (attempt >= SIGNED_CONSENT_ATTEMPTS || reason === undefined || !RESIGN_REVOCATION_ON.has(reason)) throw error;
    }
  }
}
