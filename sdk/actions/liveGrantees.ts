import { getAddress } from "ethers";

import type { MedCipherClient } from "../client.js";
import { categoryBit } from "../../protocol/codes.js";
import { listConsents } from "./listConsents.js";

export type LiveGranteesParameters = {
  patient: string;
  /** The category of the records about to be shared (Category.VITAL_SIGNS …). */
  category: number;
  /** First block searched for `ConsentGranted` (the ConsentManager's deployment block); default 0. */
  fromBlock?: number;
};

/** A grantee holding at least one live public consent for the category, and under which purposes. */
export type LiveGrantee = { grantee: string; purposes: number[] };

export type LiveGranteesReturnType = LiveGrantee[];

/**
 * The accounts that may read the patient's records of `category` right now under a public
 * consent, read from the chain: every `ConsentGranted` of the patient with its current state
 * (`listConsents`: categories bit set, epoch current, validFrom ≤ chain now < validUntil). One
 * entry per grantee, whatever the number of purposes. What a device wraps each new record's key to
 * (delegated sharing). Private consents (`grantConsentPrivate`) are commitments the chain cannot
 * show, and group consents name no member: neither appears here.
 *
 * @example
 * const grantees = await liveGrantees(deviceClient, { patient, category: Category.VITAL_SIGNS });
 */
export async function liveGrantees(client: MedCipherClient, parameters: LiveGranteesParameters): Promise<LiveGranteesReturnType> {
  const patient = getAddress(parameters.patient);
  const bit = categoryBit(parameters.category);
  const byGrantee = new Map<string, LiveGrantee>();
  for (const grant of await listConsents(client, { patient, fromBlock: parameters.fromBlock })) {
    if (!grant.active || (grant.categories & bit) === 0 || grant.grantee === patient) continue;
    const entry = byGrantee.get(grant.grantee) ?? { grantee: grant.grantee, purposes: [] };
    entry.purposes.push(grant.purpose);
    byGrantee.set(grant.grantee, entry);
  }
  return [...byGrantee.values()];
}
