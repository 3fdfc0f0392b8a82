/**
 * Sharing a record: its data key is wrapped for the grantee's X25519 key (the record itself is
 * not re-encrypted) and the share stored on the gateway. The grantee still needs live consent
 * to fetch it. The patient passes the share on as a link.
 */
import { useState, type FormEvent } from "react";
import { getBytes, isAddress, isHexString } from "ethers";
import { shareRecord } from "medcipher";

import { Card } from "../components/Card.js";
import { ErrorNotice } from "../components/ErrorNotice.js";
import { Progress } from "../components/Progress.js";
import { shortHex } from "../lib/chain.js";
import { AppError } from "../lib/errors.js";
import { appendIndex, readIndex, type ShareEntry } from "../lib/localIndex.js";
import { useAction } from "../lib/progress.js";
import { useSignedIn } from "../lib/session.js";
import { categoryWords } from "../lib/words.js";
import type { DecryptedRecord } from "./useRecords.js";

export function shareLink(shareId: string, patient: string): string {
  const base = `${location.origin}${location.pathname}`;
  return `${base}#/clinician?share=${shareId}&patient=${patient}`;
}

export function SharePanel({ records }: { records: DecryptedRecord[] }) {
  const session = useSignedIn();
  const { client, identity, config } = session;
  const demoClinician = config.demo?.clinician;
  const [blobId, setBlobId] = useState("");
  const [grantee, setGrantee] = useState(demoClinician?.address ?? "");
  const [granteeKey, setGranteeKey] = useState(demoClinician?.encryptionPublicKey ?? "");
  const action = useAction<ShareEntry>();
  const shares = readIndex(client.chainId, identity.address, "shares");
  const chosen = records.find((r) => r.record.blobId === blobId) ?? records[0];

  const share = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async (track) => {
      if (!chosen) throw new AppError("APP_NO_RECORD", "There is no record to share yet: add readings first.");
      if (!isAddress(grantee)) throw new AppError("APP_BAD_ADDRESS", "The grantee is not an Ethereum address.");
      if (granteeKey && !(isHexString(granteeKey, 32))) throw new AppError("APP_BAD_KEY", "The grantee's encryption key must be 32 bytes of hex (0x…).");
      track.step("Wrapping the record's key for the grantee and storing the share on the gateway");
      const { shareId } = await shareRecord(client, { record: chosen.record, grantee, ...(granteeKey ? { granteeEncryptionKey: getBytes(granteeKey) } : {}) });
      const entry: ShareEntry = { shareId, grantee, blobId: chosen.record.blobId, createdAt: new Date().toISOString() };
      appendIndex(client.chainId, identity.address, "shares", [entry], (a: ShareEntry, b: ShareEntry) => a.shareId === b.shareId);
      track.step(`Shared: give ${shortHex(grantee)} the link below`);
      session.changed();
      return entry;
    });
  };

  return (
    <Card title="Share a record" testId="share-panel">
      <form className="grid-form" onSubmit={share}>
        <label className="field">
          Record
          <select data-testid="share-record" value={chosen?.record.blobId ?? ""} onChange={(e) => setBlobId(e.target.value)}>
            {records.map(({ record, readings }) => (
              <option key={record.blobId} value={record.blobId}>
                {categoryWords(record.category)}: {readings.length} readings{readings[0] ? ` from ${new Date(readings[0].time).toLocaleString()}` : ""}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          With (account address)
          <input data-testid="share-grantee" value={grantee} onChange={(e) => setGrantee(e.target.value.trim())} placeholder="0x…" />
        </label>
        <label className="field">
          Their encryption key (leave empty to look it up on-chain)
          <input data-testid="share-grantee-key" value={granteeKey} onChange={(e) => setGranteeKey(e.target.value.trim())} placeholder="0x… (32 bytes)" />
        </label>
        <button type="submit" data-testid="share-record-button" disabled={action.busy || records.length === 0}>Share</button>
      </form>
      <Progress steps={action.steps} testId="share-progress" />
      <ErrorNotice error={action.error} testId="share-error" />
      {action.result ? (
        <p className="share-result">
          Share id <code data-testid="share-id">{action.result.shareId}</code><br />
          Link: <a data-testid="share-link" href={shareLink(action.result.shareId, identity.address)}>{shareLink(action.result.shareId, identity.address)}</a>
        </p>
      ) : null}
      {shares.length > 0 ? (
        <>
          <h3>Shared so far</h3>
          <ul>{shares.map((s) => <li key={s.shareId}><code>{shortHex(s.shareId)}</code> with <code>{shortHex(s.grantee)}</code></li>)}</ul>
        </>
      ) : null}
    </Card>
  );
}
