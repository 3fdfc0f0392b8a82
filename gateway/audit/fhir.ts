import type { AuditEvent } from "@medplum/fhirtypes";

import { PURPOSE_OF_USE_SYSTEM, purposeDisplayName, purposeName } from "../../sdk/codes.js";
import type { AuditEntry } from "./auditLog.js";

export const ETHEREUM_ADDRESS_SYSTEM = "urn:ietf:rfc:3986"; // identifiers are `urn:ethereum:<address>` URIs

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
    purposeOfEvent: entry.purpose > 0
      ? [{ coding: [{ system: PURPOSE_OF_USE_SYSTEM, code: purposeName(entry.purpose), display: purposeDisplayName(entry.purpose) }] }]
      : undefined,
    agent: [{ who: { identifier: { system: ETHEREUM_ADDRESS_SYSTEM, value: `urn:ethereum:${entry.actor}` } }, requestor: true }],
    source: { observer: { identifier: { system: ETHEREUM_ADDRESS_SYSTEM, value: `urn:ethereum:${gatewayAddress}` }, display: "MedCipher gateway" } },
    entity: [
      { what: { identifier: { system: "urn:ietf:rfc:3986", value: `urn:sha256:${entry.blobId.slice(2)}` } }, type: { code: "2", display: "System Object", system: "http://terminology.hl7.org/CodeSystem/audit-entity-type" } },
      ...(entry.owner ? [{ what: { identifier: { system: ETHEREUM_ADDRESS_SYSTEM, value: `urn:ethereum:${entry.owner}` } }, type: { code: "1", display: "Person", system: "http://terminology.hl7.org/CodeSystem/audit-entity-type" } }] : []),
    ],
    extension: [
      { url: "https://medcipher.dev/fhir/StructureDefinition/audit-chain", extension: [
        { url: "seq", valueInteger: entry.seq },
        { url: "prev", valueString: entry.prev },
        { url: "hash", valueString: entry.hash },
      ] },
    ],
  };
}
