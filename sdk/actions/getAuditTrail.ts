import type { AuditEvent } from "@medplum/fhirtypes";
import { EventLog, getAddress, type BaseContract } from "ethers";

import { auditEntryToFhir } from "../../protocol/audit/fhir.js";
import { verifyAuditProof, type AuditEntry } from "../../protocol/audit/entries.js";
import { requireGateway, type MedCipherClient } from "../client.js";
import { chainEventToFhir } from "../../protocol/audit/chainEvents.js";
import type { RecordRef } from "./types.js";

/**
 * `record`: narrow the trail to one record — gateway accesses to its blob (and to `extraBlobIds`,
 * e.g. the shares made of it), its anchoring, and the consent events that governed its category.
 */
export type GetAuditTrailParameters = { patient?: string; fromBlock?: number; record?: RecordRef; extraBlobIds?: readonly string[] };

export type ChainAuditItem = { event: string; blockNumber: number; transactionHash: string; time: string; actor: string; detail: Record<string, string> };

export type GetAuditTrailReturnType = {
  /** Chain events and gateway accesses, oldest first, as FHIR AuditEvent resources. */
  events: AuditEvent[];
  chain: ChainAuditItem[];
  gateway: AuditEntry[];
  /** The gateway log proof (inclusion + consistency) checked against the tree head anchored on-chain. */
  anchoredHead: { seq: number; head: string; verified: boolean } | null;
};

export const CHAIN_EVENTS: { contract: "identity" | "consent" | "records" | "router"; event: string; patientArg: number; actorArg?: string; action: AuditEvent["action"] }[] = [
  { contract: "identity", event: "PatientRegistered", patientArg: 0, action: "C" },
  { contract: "identity", event: "DeviceBound", patientArg: 1, action: "C" },
  { contract: "identity", event: "DeviceUnbound", patientArg: 1, actorArg: "by", action: "D" },
  { contract: "records", event: "BatchAnchored", patientArg: 1, actorArg: "submitter", action: "C" },
  { contract: "records", event: "RecordAnchored", patientArg: 1, actorArg: "submitter", action: "C" },
  { contract: "consent", event: "ConsentGranted", patientArg: 0, actorArg: "submitter", action: "C" },
  { contract: "consent", event: "ConsentRevoked", patientArg: 0, actorArg: "submitter", action: "D" },
  { contract: "consent", event: "AllConsentsRevoked", patientArg: 0, action: "D" },
  { contract: "consent", event: "BreakGlassAccessed", patientArg: 0, actorArg: "provider", action: "E" },
  { contract: "router", event: "PredictionRequested", patientArg: 1, actorArg: "requester", action: "E" },
  { contract: "router", event: "PredictionFulfilled", patientArg: 1, action: "U" },
  { contract: "router", event: "PredictionFailed", patientArg: 1, action: "U" },
  { contract: "router", event: "PredictionRefused", patientArg: 1, action: "U" },
];

/**
 * The audit trail of a patient: every on-chain event about them (registration, devices, anchored
 * records, consents, predictions) and every gateway access to their blobs (granted or refused),
 * as FHIR AuditEvent resources. The gateway part is checked against the audit head the gateway
 * anchored on-chain. The client must be the patient (the gateway shows a trail only to its patient).
 *
 * @example
 * const { events, anchoredHead } = await getAuditTrail(patientClient);
 */
export async function getAuditTrail(client: MedCipherClient, parameters: GetAuditTrailParameters = {}): Promise<GetAuditTrailReturnType> {
  const patient = getAddress(parameters.patient ?? client.address);
  const gateway = requireGateway(client);
  const fromBlock = parameters.fromBlock ?? 0;
  const contracts: Record<string, BaseContract> = { identity: client.contracts.identity, consent: client.contracts.consent, records: client.contracts.records, router: client.contracts.router };

  const chain: ChainAuditItem[] = [];
  const blockTimes = new Map<number, string>();
  for (const spec of CHAIN_EVENTS) {
    const contract = contracts[spec.contract]!;
    const topics: (string | null)[] = [null, null, null];
    topics[spec.patientArg] = patient;
    const filter = contract.getEvent(spec.event)(...topics.slice(0, spec.patientArg + 1));
    // A log of the filter's own event always parses: every one is an EventLog.
    const logs = (await contract.queryFilter(filter, fromBlock)).filter((log) => log instanceof EventLog);
    for (const log of logs) {
      if (!blockTimes.has(log.blockNumber)) {
        const block = await client.provider.getBlock(log.blockNumber);
        blockTimes.set(log.blockNumber, new Date((block?.timestamp ?? 0) * 1000).toISOString());
      }
      const detail: Record<string, string> = {};
      log.fragment.inputs.forEach((input, i) => { detail[input.name] = String(log.args[i]); });
      const tx = spec.actorArg ? undefined : await log.getTransaction();
      chain.push({
        event: spec.event,
        blockNumber: log.blockNumber,
        transactionHash: log.transactionHash,
        time: blockTimes.get(log.blockNumber)!,
        actor: spec.actorArg ? getAddress(detail[spec.actorArg]!) : getAddress(tx!.from),
        detail,
      });
    }
  }
  chain.sort((a, b) => a.blockNumber - b.blockNumber);

  // The anchored tree head first, then the gateway's entries with inclusion proofs in its current
  // tree and the consistency proof from the anchored tree to it: O(log n) hashes per entry.
  const anchored = await client.contracts.auditAnchor.latestHead(gateway.gatewayAddress);
  let anchoredHead: GetAuditTrailReturnType["anchoredHead"] = null;
  const seq = Number(anchored.entryCount);
  const log = await gateway.audit(patient, seq > 0 ? { since: seq } : {});
  verifyAuditProof(log, seq > 0 ? { seq, head: anchored.headHash } : undefined);
  if (seq > 0) anchoredHead = { seq, head: anchored.headHash, verified: true };

  let gatewayEntries = log.entries;
  if (parameters.record) {
    const record = parameters.record;
    const blobs = new Set([record.blobId, ...(parameters.extraBlobIds ?? [])].map((b) => b.toLowerCase()));
    const anchorId = (record.root ?? record.readingId).toLowerCase();
    gatewayEntries = gatewayEntries.filter((e) => blobs.has(e.blobId.toLowerCase()));
    const keep = chain.filter((c) => {
      if (c.event === "BatchAnchored") return c.detail.root?.toLowerCase() === anchorId;
      if (c.event === "RecordAnchored") return c.detail.recordId?.toLowerCase() === anchorId;
      if (c.event === "ConsentGranted") return ((Number(c.detail.categories) >>> record.category) & 1) === 1;
      return c.event.startsWith("Consent") || c.event === "AllConsentsRevoked" || c.event === "BreakGlassAccessed";
    });
    chain.splice(0, chain.length, ...keep);
  }
  const chainEvents: AuditEvent[] = chain.map((item) =>
    chainEventToFhir({ ...item, action: CHAIN_EVENTS.find((s) => s.event === item.event)!.action, patient, chainId: client.chainId }));
  const gatewayEvents = gatewayEntries.map((entry) => auditEntryToFhir(entry, gateway.gatewayAddress));
  const events = [...chainEvents, ...gatewayEvents].sort((a, b) => a.recorded.localeCompare(b.recorded));
  return { events, chain, gateway: gatewayEntries, anchoredHead };
}
