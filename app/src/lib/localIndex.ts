/**
 * What the app remembers per account that is not secret: the patient's record index (what is
 * needed to find, verify and decrypt each record: blob id, salt, Merkle proof — none of it opens
 * a record without the keys), the shares made, the predictions requested. localStorage, keyed by
 * chain and account, so a second identity or a new deployment starts empty.
 */
import type { RecordRef } from "medcipher";

export type ShareEntry = { shareId: string; grantee: string; blobId: string; createdAt: string };
export type PredictionEntry = { requestId: string; modelId: number; modelName: string; keysHash?: string; requestedBy: string; createdAt: string };
export type ReceivedShare = { shareId: string; patient?: string; addedAt: string };

type Shape = { records: RecordRef[]; shares: ShareEntry[]; predictions: PredictionEntry[]; received: ReceivedShare[] };

function key(chainId: number, address: string, part: keyof Shape): string {
  return `medcipher:${chainId}:${address.toLowerCase()}:${part}`;
}

export function readIndex<K extends keyof Shape>(chainId: number, address: string, part: K): Shape[K] {
  try {
    const text = localStorage.getItem(key(chainId, address, part));
    return text ? (JSON.parse(text) as Shape[K]) : ([] as unknown as Shape[K]);
  } catch {
    return [] as unknown as Shape[K];
  }
}

/** Appends entries not already there (by `same`), returning the whole list. */
export function appendIndex<K extends keyof Shape>(chainId: number, address: string, part: K, entries: Shape[K], same: (a: Shape[K][number], b: Shape[K][number]) => boolean): Shape[K] {
  const current = readIndex(chainId, address, part) as Shape[K][number][];
  const added = (entries as Shape[K][number][]).filter((entry) => !current.some((existing) => same(existing, entry)));
  const next = [...current, ...added] as Shape[K];
  localStorage.setItem(key(chainId, address, part), JSON.stringify(next));
  return next;
}

/**
 * The patient's whole record index: the one a keystore backup carries (`extra.records`) and the
 * one this browser kept, without duplicates.
 */
export function recordIndexOf(chainId: number, address: string, extra: Record<string, unknown> | undefined): RecordRef[] {
  const carried = Array.isArray(extra?.records) ? (extra.records as RecordRef[]) : [];
  const local = readIndex(chainId, address, "records");
  const seen = new Set<string>();
  return [...carried, ...local].filter((r) => (seen.has(r.blobId) ? false : (seen.add(r.blobId), true)));
}
