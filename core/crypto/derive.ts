/**
 * Secrets derived from a secret the client already holds (the patient's signing key), so that
 * what hangs off them — a Semaphore identity, a consent's revocation secret — can always be made
 * again from the keystore alone, on any device, instead of being one more file to lose.
 *
 * HKDF-SHA256 (RFC 5869) from @noble/hashes: synchronous and the same bytes in browsers and Node.
 * The label names the use and its version, so no two uses can ever derive the same bytes.
 */
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";

import { utf8ToBytes } from "../bytes.js";

/** Shortest root secret accepted: 128 bits, the strength of the keys these derive. */
export const MIN_ROOT_SECRET_BYTES = 16;

/**
 * 32 bytes for `label` (e.g. "medcipher.semaphore-identity.v1") and `context` (what the secret is
 * for: a deployment, a consent's salt). Throws a RangeError on a root secret under 16 bytes or an
 * empty label: either would make the output guessable or shared between uses.
 */
export function deriveSecret(rootSecret: Uint8Array, label: string, context: Uint8Array = new Uint8Array(0)): Uint8Array<ArrayBuffer> {
  if (rootSecret.length < MIN_ROOT_SECRET_BYTES) throw new RangeError(`A root secret is at least ${MIN_ROOT_SECRET_BYTES} bytes, not ${rootSecret.length}.`);
  if (label.length === 0) throw new RangeError("A derivation needs a label.");
  return hkdf(sha256, rootSecret, utf8ToBytes(label), context, 32) as Uint8Array<ArrayBuffer>;
}
