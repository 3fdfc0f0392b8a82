/**
 * The patients who gave this clinician consent (from the chain's ConsentGranted events, each
 * grant's state read now) and the shares they sent (links opened in this browser).
 */
import { useEffect, useState } from "react";

import { Card } from "../components/Card.js";
import { shortHex } from "../lib/chain.js";
import { grantsToClient, type PatientGrant } from "../lib/chainReads.js";
import { readIndex } from "../lib/localIndex.js";
import { useSignedIn } from "../lib/session.js";
import { categoryWords, purposeWords } from "../lib/words.js";

export function usePatientGrants(): PatientGrant[] {
  const { client, version } = useSignedIn();
  const [grants, setGrants] = useState<PatientGrant[]>([]);
  useEffect(() => {
    let live = true;
    grantsToClient(client).then((list) => { if (live) setGrants(list); }, () => undefined);
    return () => { live = false; };
  }, [client, version]);
  return grants;
}

export function PatientsPanel({ onOpenShare }: { onOpenShare: (shareId: string) => void }) {
  const { client, identity } = useSignedIn();
  const grants = usePatientGrants();
  const received = readIndex(client.chainId, identity.address, "received");
  return (
    <Card title="Your patients" testId="patients-panel">
      {grants.length === 0 ? <p className="muted">No patient has given you consent yet.</p> : (
        <table className="table" data-testid="patient-list">
          <thead><tr><th>Patient</th><th>For</th><th>Data</th><th>Until</th><th>State</th></tr></thead>
          <tbody>
            {grants.map((g) => (
              <tr key={`${g.patient}:${g.purpose}`} data-testid="patient-row" data-patient={g.patient} data-active={g.active}>
                <td><code>{shortHex(g.patient)}</code></td>
                <td>{purposeWords(g.purpose)}</td>
                <td>{g.categories.map(categoryWords).join(", ") || "—"}</td>
                <td>{g.validUntil ? new Date(g.validUntil * 1000).toLocaleDateString() : "—"}</td>
                <td>{g.active ? "active" : "ended (revoked or expired)"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {received.length > 0 ? (
        <>
          <h3>Records shared with you</h3>
          <ul data-testid="received-shares">
            {received.map((r) => (
              <li key={r.shareId}>
                <code>{shortHex(r.shareId)}</code>{r.patient ? <> from <code>{shortHex(r.patient)}</code></> : null}{" "}
                <button type="button" onClick={() => onOpenShare(r.shareId)}>Open</button>
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </Card>
  );
}
