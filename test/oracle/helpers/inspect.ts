import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";

/** Reads the daemon's job store from outside (read-only), as an operator would with sqlite3. */
export function readJobs(dataDir: string): { requestId: string; state: string; reasonCode: number | null }[] {
  const db = new DatabaseSync(join(dataDir, "oracle.db"), { readOnly: true });
  try {
    return db.prepare("SELECT request_id, state, reason_code FROM jobs").all().map((r) => ({
      requestId: r.request_id as string, state: r.state as string, reasonCode: r.reason_code === null ? null : Number(r.reason_code),
    }));
  } finally {
    db.close();
  }
}

export function jobState(dataDir: string, requestId: string): string | undefined {
  return readJobs(dataDir).find((j) => j.requestId === requestId)?.state;
}

export function cursorOf(dataDir: string): number | undefined {
  const db = new DatabaseSync(join(dataDir, "oracle.db"), { readOnly: true });
  try {
    const row = db.prepare("SELECT block_number FROM cursor WHERE id = 1").get();
    return row === undefined ? undefined : Number(row.block_number);
  } finally {
    db.close();
  }
}

/** Rewinds the persisted cursor, so a restarted daemon is delivered old logs again (a replay). */
export function rewindCursor(dataDir: string, blockNumber: number): void {
  const db = new DatabaseSync(join(dataDir, "oracle.db"));
  try {
    db.prepare("UPDATE cursor SET block_number = ?, block_hash = ''").run(blockNumber);
  } finally {
    db.close();
  }
}
