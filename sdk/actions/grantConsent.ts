import { getAddress, type Signer } from "ethers";

import { chainNow, SIGNATURE_LIFETIME_SECONDS } from "../chain/time.js";
import { connectContracts } from "../../protocol/contracts.js";
import { revertName, SIGNED_CONSENT_ATTEMPTS } from "../chain/resign.js";
import { sendTransaction } from "../chain/send.js";
import { GRANT_CONSENT_TYPES, medCipherDomain } from "../../protocol/typedData.js";
import type { MedCipherClient } from "../client.js";
import { scopeOf } from "../../protocol/codes.js";
import { InvalidInputError } from "../errors.js";

export type GrantConsentParameters = {
  grantee: string;
  /** Purpose-of-use code (Purpose.TREAT …). */
  purpose: number;
  /** Category codes the grant covers (Category.VITAL_SIGNS …). */
  categories: readonly number[];
  /** Unix seconds; default now. */
  validFrom?: number;
  /** Unix seconds (exclusive). */
  validUntil: number;
  /**
   * Gasless: the patient signs EIP-712 `GrantConsent` and this account submits it
   * (`grantConsentBySig`). Without a relayer the patient sends `grantConsent` itself. A signed
   * grant whose nonce another change of the patient took first is re-signed and re-sent (up to
   * SIGNED_CONSENT_ATTEMPTS), unless that change touched this grantee and purpose.
   */
  relayer?: Signer;
};

export type GrantConsentReturnType = { transactionHash: string; categories: number };

/** Defined in chain/typedData.ts with the other contract messages; still exported here for callers of this file. */
export { GRANT_CONSENT_TYPES };

/** The ConsentManager's EIP-712 domain on the client's chain. */
export function consentDomain(client: Pick<MedCipherClient, "chainId" | "addresses">) {
  return medCipherDomain("ConsentManager", client.chainId, client.addresses.ConsentManager);
}

/**
 * Grants `grantee` access to the client's (patient's) records of `categories` for `purpose`
 * until `validUntil`. Replaces any earlier grant for the same grantee and purpose.
 *
 * @example
 * await grantConsent(patientClient, { grantee: clinician, purpose: Purpose.TREAT, categories: [Category.VITAL_SIGNS], validUntil: now + 30 * 86400, relayer });
 */
export async function grantConsent(client: MedCipherClient, parameters: GrantConsentParameters): Promise<GrantConsentReturnType> {
  const grantee = getAddress(parameters.grantee);
  const categories = scopeOf(parameters.categories);
  if (categories === 0) throw new InvalidInputError("A consent must cover at least one category.");
  const now = await chainNow(client.provider);
  const validFrom = parameters.validFrom ?? now;
  const { validUntil, purpose } = parameters;
  if (!parameters.relayer) {
    const receipt = await sendTransaction("grantConsent", () => client.contracts.consent.grantConsent(grantee, purpose, categories, validFrom, validUntil));
    return { transactionHash: receipt.hash, categories };
  }
  const consent = client.contracts.consent;
  const relayed = connectContracts(client.addresses, parameters.relayer).consent;
  const slot = async () => String(await consent.grantOf(client.address, grantee, purpose));
  for (let attempt = 1; ; attempt++) {
    const before = await slot();
    const nonce = await consent.nonces(client.address);
    const deadline = (await chainNow(client.provider)) + SIGNATURE_LIFETIME_SECONDS;
    const signature = await client.account.signTypedData(consentDomain(client), GRANT_CONSENT_TYPES, {
      patient: client.address, grantee, purpose, categories, validFrom, validUntil, nonce, deadline,
    });
    try {
      const receipt = await sendTransaction("grantConsentBySig", () =>
        relayed.grantConsentBySig(client.address, grantee, purpose, categories, validFrom, validUntil, deadline, signature));
      return { transactionHash: receipt.hash, categories };
    } catch (error) {
      if (attempt >= SIGNED_CONSENT_ATTEMPTS || !(await worthResigning(error, nonce, before))) throw error;
    }
  }

  /**
   * A grant's nonce is ordered: `InvalidSigner` with the nonce moved on means another consent
   * change of the patient landed first. Re-sign only when that change left this grant's slot
   * alone (a grant to someone else, say): if it touched this (grantee, purpose) — a revocation
   * above all — the patient's newer decision stands and the error is final.
   */
  async function worthResigning(error: unknown, signedNonce: bigint, slotBefore: string): Promise<boolean> {
    const reason = revertName(error);
    if (reason === "SignatureExpired") return true;
    if (reason !== "InvalidSigner") return false;
    const [nonceNow, slotNow] = await Promise.all([consent.nonces(client.address), slot()]);
    return nonceNow !== signedNonce && slotNow === slotBefore;
  }
}
