import type { Consent } from "@medplum/fhirtypes";
import { getAddress } from "ethers";

import type { MedCipherClient } from "../client.js";
import { categoryName } from "../../protocol/codes.js";
import { consentToFhir } from "../fhir/observations.js";

export type ListConsentsParameters = { patient?: string; fromBlock?: number };

export type ConsentGrant = {
  patient: string;
  grantee: string;
  purpose: number;
  /** Scope bitmask and the category codes it covers. */
  categories: number;
  categoryCodes: number[];
  validFrom: number;
  validUntil: number;
  /** Live now: inside its period and not ended by a revocation or revokeAllConsents. */
  active: boolean;
  fhir: Consent;
};

export type ListConsentsReturnType = ConsentGrant[];

/**
 * The patient's category grants, one per (grantee, purpose) ever granted, with their current
 * state read from the chain (a revoked grant shows as inactive with a zero period).
 *
 * @example
 * const grants = await listConsents(client, { patient });
 */
export async function listConsents(client: MedCipherClient, parameters: ListConsentsParameters = {}): Promise<ListConsentsReturnType> {
  const patient = getAddress(parameters.patient ?? client.address);
  const consent = client.contracts.consent;
  const logs = await consent.queryFilter(consent.filters.ConsentGranted(patient), parameters.fromBlock ?? 0);
  const pairs = new Map<string, { grantee: string; purpose: number }>();
  for (const log of logs) {
    const grantee = getAddress(log.args.grantee);
    const purpose = Number(log.args.purpose);
    pairs.set(`${grantee}:${purpose}`, { grantee, purpose });
  }
  const [epoch, block] = await Promise.all([consent.epochOf(patient), client.provider.getBlock("latest")]);
  const now = block?.timestamp ?? Math.floor(Date.now() / 1000);
  const grants: ConsentGrant[] = [];
  for (const { grantee, purpose } of pairs.values()) {
    const g = await consent.grantOf(patient, grantee, purpose);
    const categories = Number(g.categories);
    const validFrom = Number(g.validFrom);
    const validUntil = Number(g.validUntil);
    const active = categories !== 0 && g.epoch === epoch && validFrom <= now && now < validUntil;
    const categoryCodes = Array.from({ length: 32 }, (_, i) => i).filter((i) => (categories >>> i) & 1);
    grants.push({
      patient, grantee, purpose, categories, categoryCodes, validFrom, validUntil, active,
      fhir: consentToFhir({ patient, grantee, purpose, categories: categoryCodes.map(categoryName), validFrom, validUntil, active }),
    });
  }
  return grants;
}
