/**
 * Gateway audit entries as FHIR R4 AuditEvents (on-chain events: ./chainEvents.ts); the SDK's
 * audit trail (sdk/actions/getAuditTrail.ts) merges both.
 */
import type { AuditEvent } from "@medplum/fhirtypes";

import { ETHEREUM_ADDRESS_SYSTEM, purposeOfEvent } from "./chainEvents.js";
import type { AuditEntry } from "./entries.js";

/** fhir/StructureDefinition-audit-chain.json: an entry's place in the gateway's hash-chained log. */
export const AUDIT_CHAIN_EXTENSION = "https://medcipher.dev/fhir/StructureDefinition/audit-chain";

/**
 * How an anonymous accessor is named (AuditEntry.actorKind "nullifier"): a URI of the Semaphore
 * nullifier, which identifies this one access and no member of the group.
 */
export const NULLIFIER_URN_PREFIX = "urn:medcipher:semaphore-nullifier:";

/** The requesting agent: an Ethereum address, or the nullifier of an anonymous group member. */
function agentOf(entry: AuditEntry): NonNullable<AuditEvent["agent"]>[number] {
  if (entry.actorKind === "nullifier") {
    return {
      who: { identifier: { system: ETHEREUM_ADDRESS_SYSTEM, value: `${NULLIFIER_URN_PREFIX}${entry.actor}` }, display: `anonymous member of consent group ${entry.group ?? "?"}` },
      requestor: true,
    };
  }
  return { who: { identifier: { system: ETHEREUM_ADDRESS_SYSTEM, value: `urn:ethereum:${entry.actor}` } }, requestor: true };
}

/** One gateway audit entry as a FHIR R4 AuditEvent (REST access, read = R, write = C). */
export function auditEntryToFhir(entry: AuditEntry, gatewayAddress: string): AuditEvent {
  const action = entry.action === "write" ? "C" : "R";
  return {
    resourceType: "AuditEvent",
    id: `gateway-${entry.seq}`,
    type: { system: "http://terminology.hl7.org/CodeSystem/audit-event-type", code: "rest", display: "RESTful Operation" },
    subtype: [{
      system: "http://hl7.org/fhir/restful-interaction",
      code: entry.action === "write" ? "create" : entry.action === "read" ? "read" : "search-type",
    }],
    action,
    recorded: entry.time,
    outcome: entry.outcome === "granted" ? "0" : "4",
    outcomeDesc: entry.reason,
    purposeOfEvent: purposeOfEvent(entry.purpose),
    agent: [agentOf(entry)],
    source: { observer: { identifier: { system: ETHEREUM_ADDRESS_SYSTEM, value: `urn:ethereum:${gatewayAddress}` }, display: "MedCipher gateway" } },
    entity: [
      { what: { identifier: { system: "urn:ietf:rfc:3986", value: `urn:sha256:${entry.blobId.slice(2)}` } }, type: { code: "2", display: "System Object", system: "http://terminology.hl7.org/CodeSystem/audit-entity-type" } },
      ...(entry.owner ? [{ what: { identifier: { system: ETHEREUM_ADDRESS_SYSTEM, value: `urn:ethereum:${entry.owner}` } }, type: { code: "1", display: "Person", system: "http://terminology.hl7.org/CodeSystem/audit-entity-type" } }] : []),
    ],
    extension: [
      { url: AUDIT_CHAIN_EXTENSION, extension: [
        { url: "seq", valueInteger: entry.seq },
        { url: "prev", valueString: entry.prev },
        { url: "hash", valueString: entry.hash },
      ] },
    ],
  };
}
