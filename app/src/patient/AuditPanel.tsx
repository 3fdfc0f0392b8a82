/**
 * The audit trail: every on-chain event about the patient and every access to their data at the
 * gateway (granted or refused), the gateway's log checked against the head it anchored on-chain.
 */
import { useEffect, useState } from "react";
import { getAuditTrail, type GetAuditTrailReturnType } from "medcipher";

import { Card } from "../components/Card.js";
import { ErrorNotice } from "../components/ErrorNotice.js";
import { shortHex } from "../lib/chain.js";
import { useAction } from "../lib/progress.js";
import { useSignedIn } from "../lib/session.js";
import { purposeWords } from "../lib/words.js";

const EVENT_WORDS: Record<string, string> = {
  PatientRegistered: "registered as a patient",
  DeviceBound: "bound a device",
  DeviceUnbound: "unbound a device",
  BatchAnchored: "anchored a batch of records",
  RecordAnchored: "anchored a record",
  ConsentGranted: "granted consent",
  ConsentRevoked: "revoked consent",
  AllConsentsRevoked: "revoked all consents",
  BreakGlassAccessed: "used emergency access",
  PredictionRequested: "requested a prediction",
  PredictionFulfilled: "prediction fulfilled by the oracle",
  PredictionFailed: "prediction failed",
  PredictionRefused: "prediction result refused",
};

const ACTION_WORDS: Record<string, string> = { read: "read", write: "stored", "audit-read": "read the audit log of", list: "listed the shares of" };

export function AuditPanel() {
  const { client, identity, version } = useSignedIn();
  const action = useAction<GetAuditTrailReturnType>();
  const [trail, setTrail] = useState<GetAuditTrailReturnType>();
  const who = (address: string | null) => (!address ? "someone" : address.toLowerCase() === identity.address.toLowerCase() ? "you" : shortHex(address));

  const load = () => void action.run(async () => {
    const loaded = await getAuditTrail(client);
    setTrail(loaded);
    return loaded;
  });
  // Reloaded whenever something changed in the session (a consent, a read).
  useEffect(load, [client, version]);

  return (
    <Card title="Audit trail" testId="audit-panel" aside={<button type="button" data-testid="audit-reload" onClick={load} disabled={action.busy}>Reload</button>}>
      <ErrorNotice error={action.error} testId="audit-error" />
      {trail ? (
        <>
          <p data-testid="audit-head">
            {trail.anchoredHead ? `Gateway log checked against its head anchored on-chain (${trail.anchoredHead.seq} entries).` : "The gateway has not anchored its log yet; entries are checked by their hash chain."}
          </p>
          <h3>Who accessed your data</h3>
          <table className="table" data-testid="audit-gateway">
            <thead><tr><th>When</th><th>Who</th><th>Did</th><th>What</th><th>For</th><th>Outcome</th></tr></thead>
            <tbody>
              {[...trail.gateway].reverse().map((entry) => (
                <tr key={entry.seq} data-testid="audit-entry" data-outcome={entry.outcome} data-actor={entry.actor}>
                  <td>{new Date(entry.time).toLocaleString()}</td>
                  <td>{who(entry.actor)}</td>
                  <td>{ACTION_WORDS[entry.action] ?? entry.action}</td>
                  <td><code>{shortHex(entry.blobId)}</code></td>
                  <td>{purposeWords(entry.purpose)}</td>
                  <td className={entry.outcome === "refused" ? "refused" : "granted"}>{entry.outcome === "refused" ? `refused (${entry.reason})` : `granted (${entry.reason})`}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3>On-chain events</h3>
          <table className="table" data-testid="audit-chain">
            <thead><tr><th>When</th><th>Who</th><th>What</th><th>Block</th></tr></thead>
            <tbody>
              {[...trail.chain].reverse().map((item) => (
                <tr key={`${item.transactionHash}:${item.event}`}>
                  <td>{new Date(item.time).toLocaleString()}</td>
                  <td>{who(item.actor)}</td>
                  <td>{EVENT_WORDS[item.event] ?? item.event}</td>
                  <td>{item.blockNumber}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
    </Card>
  );
}
