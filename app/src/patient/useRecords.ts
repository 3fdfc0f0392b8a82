/**
 * The patient's records: the record index kept in this browser (plus one carried in the
 * keystore backup's `extra.records`, as the stack's demo patient has), each record fetched from
 * the gateway, checked against its on-chain commitment and decrypted here.
 */
import { useEffect, useState } from "react";
import { readRecord, type Reading, type RecordRef } from "medcipher";

import { explainError, type ExplainedError } from "../lib/errors.js";
import { recordIndexOf } from "../lib/localIndex.js";
import { useSignedIn } from "../lib/session.js";

export type DecryptedRecord = { record: RecordRef; readings: Reading[] };

/** Decrypted records of this page, by blob id: a record never changes once anchored. */
const decrypted = new Map<string, Reading[]>();

export function useRecords(): { records: DecryptedRecord[]; loading: boolean; error?: ExplainedError } {
  const { client, identity, version } = useSignedIn();
  const [records, setRecords] = useState<DecryptedRecord[]>([]);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<ExplainedError>();

  useEffect(() => {
    let live = true;
    const index = recordIndexOf(client.chainId, identity.address, identity.secrets.extra);
    setLoading(true);
    (async () => {
      const out: DecryptedRecord[] = [];
      for (const record of index) {
        let readings = decrypted.get(record.blobId);
        if (!readings) {
          readings = (await readRecord(client, { record })).readings;
          decrypted.set(record.blobId, readings);
        }
        out.push({ record, readings });
      }
      return out;
    })().then(
      (out) => { if (live) { setRecords(out); setError(undefined); setLoading(false); } },
      (failure: unknown) => { if (live) { setError(explainError(failure)); setLoading(false); } },
    );
    return () => { live = false; };
  }, [client, identity, version]);

  return { records, loading, error };
}
