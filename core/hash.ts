import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";

import { bytesToHexString } from "./bytes.js";

/**
 * Every stored object (ciphertext, evaluation keys, record, result) is named by the SHA-256 of
 * its bytes. SHA-256 costs ~1 ms per MiB natively; ethers' keccak256 costs ~68 ms, so keccak is
 * kept for small EVM-facing values only.
 *
 * Why not WebCrypto: `crypto.subtle.digest` is asynchronous only, and these functions are called
 * synchronously in ~50 places (blob ids, Merkle nodes, model hashes) on both sides. So the
 * browser gets @noble/hashes' audited SHA-256 (synchronous, pure JS). Pure JS costs 11–18 ms per
 * MiB against 0.8–1.7 ms for OpenSSL (measured here, Node 24): the oracle checks the hash of
 * every ciphertext and key set it downloads, so under Node the same function runs on node:crypto,
 * reached through `process.getBuiltinModule` — a runtime lookup, not an import, so bundles and
 * browsers never see a Node built-in. Both give the same bytes (test/protocol/vectors.test.ts
 * checks each against the recorded vectors).
 */
export type Sha256Hex = `0x${string}`;

type NativeSha256 = { createHash(algorithm: "sha256"): { update(bytes: Uint8Array): { digest(): Uint8Array } } };
type NodeProcess = { getBuiltinModule?: (id: string) => unknown };

const native = (globalThis as { process?: NodeProcess }).process?.getBuiltinModule?.("node:crypto") as NativeSha256 | undefined;

/** Pure-JS SHA-256 (what browsers run); exported so tests can hold it against the native one. */
export function sha256Portable(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return nobleSha256(bytes) as Uint8Array<ArrayBuffer>;
}

/** The raw 32-byte SHA-256 of `bytes`. */
export const sha256: (bytes: Uint8Array) => Uint8Array<ArrayBuffer> = native
  ? (bytes) => new Uint8Array(native.createHash("sha256").update(bytes).digest())
  : sha256Portable;

export function sha256Hex(bytes: Uint8Array): Sha256Hex {
  return `0x${bytesToHexString(sha256(bytes))}`;
}

export function isSha256Hex(value: string): value is Sha256Hex {
  return /^0x[0-9a-f]{64}$/.test(value);
}
