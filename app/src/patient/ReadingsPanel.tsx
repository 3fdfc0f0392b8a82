/**
 * Devices and readings: readings come in from a wearable's CSV export (or a sample day), are
 * sealed to the patient's key as FHIR bundles, committed in one Merkle batch on-chain, and
 * plotted after decryption in this page.
 */
import { useEffect, useState } from "react";
import { ingestReadings, parseReadingsCsv, type RecordRef } from "medcipher";

import { Card } from "../components/Card.js";
import { ErrorNotice } from "../components/ErrorNotice.js";
import { Progress } from "../components/Progress.js";
import { ReadingsCharts } from "../components/ReadingsChart.js";
import { chainNow, shortHex } from "../lib/chain.js";
import { boundDevices, type BoundDevice } from "../lib/chainReads.js";
import { appendIndex } from "../lib/localIndex.js";
import { useAction } from "../lib/progress.js";
import { sampleDayCsv } from "../lib/readings.js";
import { useSignedIn } from "../lib/session.js";
import type { DecryptedRecord } from "./useRecords.js";

const INGEST_STEP_WORDS: Record<string, string> = {
  encrypt: "Encrypting the readings as FHIR bundles, each under a fresh key wrapped to yours",
  upload: "Uploading the encrypted records to the storage gateway",
  delegate: "Wrapping each record's key to the grantees you consented to",
  anchor: "Anchoring their Merkle root on-chain (one transaction)",
};

function useDevices(): BoundDevice[] {
  const { client, version } = useSignedIn();
  const [devices, setDevices] = useState<BoundDevice[]>([]);
  useEffect(() => {
    let live = true;
    boundDevices(client).then((list) => { if (live) setDevices(list); }, () => undefined);
    return () => { live = false; };
  }, [client, version]);
  return devices;
}

export function ReadingsPanel({ records, loading, registered }: { records: DecryptedRecord[]; loading: boolean; registered: boolean }) {
  const session = useSignedIn();
  const { client, identity } = session;
  const devices = useDevices();
  const [file, setFile] = useState<File>();
  const action = useAction();

  const ingest = (csv: string, source: string) => void action.run(async (track) => {
    track.step(`Checking the readings (${source})`);
    const { readings } = parseReadingsCsv(csv);
    track.note(`${readings.length} readings`);
    let phase = "";
    const result = await ingestReadings(client, {
      patient: identity.address, readings, readingsPerRecord: 24, signAsDevice: false,
      onProgress: (step, done, total) => {
        // One line per phase; the count moves in its note.
        if (step !== phase) track.step(INGEST_STEP_WORDS[step] ?? step);
        phase = step;
        track.note(`${done} of ${total}`);
      },
    });
    track.step(`Anchored ${result.records.length} encrypted record(s) under Merkle root ${shortHex(result.root)}`);
    track.note(`transaction ${shortHex(result.transactionHash)}`);
    appendIndex(client.chainId, identity.address, "records", result.records, (a: RecordRef, b: RecordRef) => a.blobId === b.blobId);
    session.changed();
  });
  const sample = () => void chainNow(client.provider).then((now) => ingest(sampleDayCsv(now), "a sample day from a simulated home device"));
  const readings = records.flatMap((r) => r.readings);

  return (
    <Card title="Devices and readings" testId="readings-panel">
      <h3>Bound devices</h3>
      {devices.length === 0 ? <p className="muted">No device bound. Readings you import are anchored by you.</p> : (
        <ul data-testid="devices">
          {devices.map((d) => <li key={d.device}><code>{shortHex(d.device)}</code> until {new Date(d.expiresAt * 1000).toLocaleDateString()}</li>)}
        </ul>
      )}
      {registered ? (
        <div className="row">
          <label className="field">
            Import readings (CSV: time,metric,value,unit)
            <input type="file" accept=".csv,text/csv" data-testid="readings-file" onChange={(e) => setFile(e.target.files?.[0])} />
          </label>
          <button type="button" data-testid="import-readings" disabled={action.busy || !file} onClick={() => file && void file.text().then((csv) => ingest(csv, file.name))}>Import</button>
          <button type="button" data-testid="sample-readings" disabled={action.busy} onClick={sample}>Add a sample day</button>
        </div>
      ) : <p className="muted">Register first to add readings.</p>}
      <Progress steps={action.steps} testId="ingest-progress" />
      <ErrorNotice error={action.error} testId="ingest-error" />
      {loading ? <p className="muted">Decrypting your records…</p> : null}
      <p data-testid="record-count">{records.length} record(s), {readings.length} reading(s), decrypted in this page.</p>
      {readings.length > 0 ? <ReadingsCharts readings={readings} testId="readings-charts" /> : null}
    </Card>
  );
}
