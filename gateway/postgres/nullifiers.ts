import type { NullifierStore } from "../store/nullifiers.js";
import type { GatewayDatabase } from "./database.js";

const NULLIFIER = /^0x[0-9a-f]{64}$/;

/**
 * Used Semaphore nullifiers in the Postgres replicas share: a group-access proof accepted by one
 * replica is refused as a replay by every other. One INSERT … ON CONFLICT DO NOTHING: exactly one
 * of concurrent claims inserts the row, committed before the access is served.
 */
export function createPostgresNullifierStore(db: GatewayDatabase): NullifierStore {
  return {
    async claim(nullifier, record) {
      if (!NULLIFIER.test(nullifier)) throw new TypeError(`not a nullifier word: ${nullifier}`);
      const result = await db.query(
        "INSERT INTO gateway_nullifiers (nullifier, group_id, proof_timestamp) VALUES ($1, $2, $3) ON CONFLICT (nullifier) DO NOTHING",
        [nullifier, record.groupId, record.timestamp],
      );
      return result.rowCount === 1;
    },
  };
}
