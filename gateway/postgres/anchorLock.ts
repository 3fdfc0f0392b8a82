import type { AnchorCoordinator } from "../audit/anchor.js";
import type { GatewayDatabase } from "./database.js";

/** Arbitrary, fixed: the advisory-lock key held by the replica that is anchoring. */
export const AUDIT_ANCHOR_LOCK = 0x6d656462;

/**
 * Replicas share one audit chain, so one anchor of its head is enough: whoever takes the
 * session advisory lock first anchors (pg_try_advisory_lock: the others skip this tick instead of
 * queueing up to send the same head), and the last anchored size is kept in the database, so a
 * replica does not anchor again a head another one already anchored.
 */
export function createPostgresAnchorCoordinator(db: GatewayDatabase): AnchorCoordinator {
  return {
    async exclusive(anchor) {
      const client = await db.connect();
      try {
        const { rows } = await client.query<{ got: boolean }>("SELECT pg_try_advisory_lock($1) AS got", [AUDIT_ANCHOR_LOCK]);
        if (!rows[0]?.got) return { ran: false };
        try {
          const anchored = await client.query<{ seq: string }>("SELECT seq FROM gateway_audit_anchor WHERE id = 1");
          const seq = await anchor(anchored.rows[0] ? Number(anchored.rows[0].seq) : 0);
          if (seq !== undefined) {
            await client.query("INSERT INTO gateway_audit_anchor (id, seq) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET seq = GREATEST(gateway_audit_anchor.seq, EXCLUDED.seq)", [seq]);
          }
          return { ran: true };
        } finally {
          await client.query("SELECT pg_advisory_unlock($1)", [AUDIT_ANCHOR_LOCK]).catch(() => undefined);
        }
      } finally {
        client.release();
      }
    },
  };
}
