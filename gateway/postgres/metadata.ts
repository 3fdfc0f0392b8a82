import type { Sha256Hex } from "../../core/hash.js";
import type { BlobMeta, MetadataStore } from "../store/metadata.js";
import type { GatewayDatabase } from "./database.js";

const ZERO_REF = `0x${"0".repeat(64)}`;

/**
 * Blob metadata in the Postgres replicas share, so a blob acknowledged by one replica is known to
 * every other. `create` is one INSERT … ON CONFLICT DO NOTHING: of two concurrent uploads of the
 * same bytes (on any replicas) exactly one row is inserted and both read the winner. The
 * (owner, ref) index is a column index of the same row, so it is written with the metadata or
 * not at all (the directory store needs a repair path for that; this one does not).
 */
export function createPostgresMetadataStore(db: GatewayDatabase): MetadataStore {
  const parse = (text: string) => JSON.parse(text) as BlobMeta;
  const refKey = (ref: string) => ref.toLowerCase();
  const ownerKey = (owner: string) => owner.toLowerCase();

  return {
    async get(blobId) {
      const { rows } = await db.query<{ meta: string }>("SELECT meta FROM gateway_blob_meta WHERE blob_id = $1", [blobId]);
      return rows[0] ? parse(rows[0].meta) : undefined;
    },
    async create(meta) {
      const inserted = await db.query(
        "INSERT INTO gateway_blob_meta (blob_id, owner_key, ref_key, meta) VALUES ($1, $2, $3, $4) ON CONFLICT (blob_id) DO NOTHING",
        [meta.blobId, ownerKey(meta.owner), refKey(meta.ref), JSON.stringify(meta)],
      );
      if (inserted.rowCount === 1) return { meta, created: true };
      const existing = await this.get(meta.blobId);
      if (!existing) throw new Error(`metadata of ${meta.blobId} vanished while being created`);
      return { meta: existing, created: false };
    },
    async put(meta) {
      await db.query(
        `INSERT INTO gateway_blob_meta (blob_id, owner_key, ref_key, meta) VALUES ($1, $2, $3, $4)
         ON CONFLICT (blob_id) DO UPDATE SET owner_key = EXCLUDED.owner_key, ref_key = EXCLUDED.ref_key, meta = EXCLUDED.meta`,
        [meta.blobId, ownerKey(meta.owner), refKey(meta.ref), JSON.stringify(meta)],
      );
    },
    async listByRef(owner, ref) {
      if (refKey(ref) === ZERO_REF) return [];
      const { rows } = await db.query<{ blob_id: Sha256Hex }>(
        "SELECT blob_id FROM gateway_blob_meta WHERE owner_key = $1 AND ref_key = $2 ORDER BY blob_id",
        [ownerKey(owner), refKey(ref)],
      );
      return rows.map((row) => row.blob_id);
    },
  };
}
