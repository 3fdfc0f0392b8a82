/**
 * Reading a record a patient shared: the gateway checks live consent for the purpose, the record
 * is checked against its on-chain commitment and decrypted here with the clinician's key. After
 * a revocation the gateway refuses, and the refusal is shown in words.
 */
import { useEffect, useState, type FormEvent } from "react";
import { isHexString } from "ethers";
import { METRICS, Purpose, readSharedRecord, type ReadSharedRecordReturnType } from "medcipher";

import { Card } from "../components/Card.js";
import { ErrorNotice } from "../components/ErrorNotice.js";
import { Progress } from "../components/Progress.js";
import { ReadingsCharts } from "../components/ReadingsChart.js";
import { shortHex } from "../lib/chain.js";
import { AppError } from "../lib/errors.js";
import { appendIndex, type ReceivedShare } from "../lib/localIndex.js";
import { useAction } from "../lib/progress.js";
import { useSignedIn } from "../lib/session.js";
import { GRANTABLE_PURPOSES, purposeWords } from "../lib/words.js";

export function SharedRecordPanel({ initialShareId, patient, onRead }: { initialShareId?: string; patient?: string; onRead?: (shared: { patient: string; readings: ReadSharedRecordReturnType["readings"] }) => void }) {
  const session = useSignedIn();
  const { client, identity } = session;
  const [shareId, setShareId] = useState(initialShareId ?? "");
  const [purpose, setPurpose] = useState<number>(Purpose.TREAT);
  const action = useAction<ReadSharedRecordReturnType>();

  useEffect(() => {
    if (!initialShareId) return;
    setShareId(initialShareId);
    appendIndex(client.chainId, identity.address, "received", [{ shareId: initialShareId, patient, addedAt: new Date().toISOString() }], (a: ReceivedShare, b: ReceivedShare) => a.shareId === b.shareId);
  }, [initialShareId, patient, client.chainId, identity.address]);

  const read = (event: FormEvent) => {
    event.preventDefault();
    // Whatever the outcome, the consent list re-reads the chain: a refusal usually means it changed.
    void action.run(async (track) => {
      if (!isHexString(shareId, 32)) throw new AppError("APP_BAD_SHARE", "A share id is 0x followed by 64 hex digits.");
      track.step(`Fetching the share and the record (the gateway checks ${purposeWords(purpose).toLowerCase()} consent)`);
      const shared = await readSharedRecord(client, { shareId, purpose });
      track.step(`Verified against the chain and decrypted here: ${shared.readings.length} readings`);
      onRead?.({ patient: shared.record.patient, readings: shared.readings });
      return shared;
    }).finally(session.changed);
  };

  const result = action.result;
  return (
    <Card title="Read a shared record" testId="shared-record-panel">
      <form className="grid-form" onSubmit={read}>
        <label className="field">
          Share id
          <input data-testid="share-id-input" value={shareId} onChange={(e) => setShareId(e.target.value.trim())} placeholder="0x…" />
        </label>
        <label className="field">
          Purpose
          <select data-testid="read-purpose" value={purpose} onChange={(e) => setPurpose(Number(e.target.value))}>
            {GRANTABLE_PURPOSES.map((p) => <option key={p} value={p}>{purposeWords(p)}</option>)}
          </select>
        </label>
        <button type="submit" data-testid="read-shared" disabled={action.busy}>Read</button>
      </form>
      <Progress steps={action.steps} testId="read-progress" />
      <ErrorNotice error={action.error} testId="read-error" />
      {result && !action.error && !action.busy ? (
        <div data-testid="shared-record" data-readings={result.readings.length}>
          <p>Record of patient <code>{shortHex(result.record.patient)}</code>, {result.readings.length} readings, anchored under {result.record.root ? <code>{shortHex(result.record.root)}</code> : "its own id"}.</p>
          <ReadingsCharts readings={result.readings} testId="shared-charts" />
          <table className="table">
            <thead><tr><th>Time</th><th>Measure</th><th>Value</th></tr></thead>
            <tbody>
              {result.readings.slice(0, 20).map((r, i) => <tr key={i}><td>{new Date(r.time).toLocaleString()}</td><td>{METRICS[r.metric].display}</td><td>{r.value} {METRICS[r.metric].unit}</td></tr>)}
            </tbody>
          </table>
        </div>
      ) : null}
    </Card>
  );
}
