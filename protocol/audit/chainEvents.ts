/**
 * What MedCipher's AuditEvents share: the purpose of use as one CodeableConcept (a defining
 * coding and, for TREATDS, its nearest HL7 code as a translation), and on-chain events as
 * AuditEvents typed by fhir/CodeSystem-chain-event.json. Gateway accesses are built in
 * ./fhir.ts.
 */
import type { AuditEvent, CodeableConcept } from "@medplum/fhirtypes";

import { purposeCodings } from "../codes.js";

/** fhir/CodeSystem-chain-event.json: the contract events an audit trail reports. */
export const CHAIN_EVENT_SYSTEM = "https://medcipher.dev/fhir/CodeSystem/chain-event";
/** Identifiers are `urn:ethereum:<address>` URIs. */
export const ETHEREUM_ADDRESS_SYSTEM = "urn:ietf:rfc:3986";

/**
 * `AuditEvent.purposeOfEvent` for an on-chain purpose code: undefined for 0 (none given), the
 * number as text for a code the contracts do not define (no code system has it).
 */
export function purposeOfEvent(purpose: number): CodeableConcept[] | undefined {
  if (purpose <= 0) return undefined;
  const coding = purposeCodings(purpose);
  return [coding.length > 0 ? { coding } : { text: `purpose ${purpose}` }];
}

export type ChainEventFhirParameters = {
  event: string;
  action: AuditEvent["action"];
  transactionHash: string;
  time: string;
  actor: string;
  patient: string;
  chainId: number | bigint;
  /** The event's arguments by name, as strings. */
  detail: Record<string, string>;
};

/** One contract event about a patient as a FHIR R4 AuditEvent (`getAuditTrail`). */
export function chainEventToFhir(item: ChainEventFhirParameters): AuditEvent {
  const ethereum = (address: string) => ({ identifier: { system: ETHEREUM_ADDRESS_SYSTEM, value: `urn:ethereum:${address}` } });
  return {
    resourceType: "AuditEvent",
    id: `chain-${item.transactionHash.slice(2, 18)}-${item.event}`,
    type: { system: CHAIN_EVENT_SYSTEM, code: item.event },
    action: item.action,
    recorded: item.time,
    outcome: item.event === "PredictionFailed" || item.event === "PredictionRefused" ? "4" : "0",
    purposeOfEvent: item.detail.purpose ? purposeOfEvent(Number(item.detail.purpose)) : undefined,
    agent: [{ who: ethereum(item.actor), requestor: true }],
    source: { observer: { display: `chain ${item.chainId}` } },
    entity: [
      { what: ethereum(item.patient) },
      { what: { identifier: { value: item.transactionHash } }, detail: Object.entries(item.detail).map(([type, valueString]) => ({ type, valueString })) },
    ],
  };
}
