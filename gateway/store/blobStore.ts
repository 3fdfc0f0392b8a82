import type { Sha256Hex } from "../../core/hash.js";

/**
 * Content-addressed byte storage. A blob's id is the SHA-256 of its bytes (0x-hex).
 *
 * Implementations must guarantee two things, so the gateway never has to trust the medium:
 * - `put` makes a blob visible all at once or not at all (no partial blob after a crash);
 * - `get` never returns bytes whose SHA-256 differs from `id` (it throws BlobIntegrityError).
 * An S3-compatible or IPFS backend implements the same methods.
 */
export interface BlobStore {
  /** Stores `bytes` under `id`; throws BlobIntegrityError if they do not hash to `id`. Idempotent. */
  put(id: Sha256Hex, bytes: Uint8Array): Promise<void>;
  /**
   * Stores the bytes `chunks` yields under `id`, hashing them as they arrive (never holding the
   * whole blob in memory); throws BlobTooLargeError past `maxBytes` and BlobIntegrityError if they
   * do not hash to `id`, storing nothing in either case. Idempotent. Resolves to the byte count.
   */
  putStream(id: Sha256Hex, chunks: AsyncIterable<Uint8Array>, limit: { maxBytes: number; kind: string }): Promise<number>;
  /** The verified bytes, or undefined when there is no such blob. */
  get(id: Sha256Hex): Promise<Uint8Array | undefined>;
  has(id: Sha256Hex): Promise<boolean>;
  /** Removes a blob (operator use only: the HTTP API never deletes). */
  delete(id: Sha256Hex): Promise<void>;
}
