/**
 * The Semaphore v4 circuit files every prover uses, pinned by SHA-256 (circuits/semaphore,
 * SHA256SUMS). @semaphore-protocol/proof downloads them from a CDN unless it is handed them; a
 * swapped proving key would make proofs that verify nowhere, and a swapped witness generator
 * runs code with the identity's secret, so both are checked before use, in Node and in browsers.
 *
 * Browser-safe: the loader takes a `read` function. Browsers fetch (`fetchSemaphoreArtifacts`);
 * Node reads the repository's copies (sdk/node/semaphoreArtifacts.ts).
 */
import { sha256Hex, type Sha256Hex } from "../../core/hash.js";
import { ZkArtifactError } from "./errors.js";

/** The one tree depth proofs are made at: groups of up to 2^20 members (the verifier accepts 1–32). */
export const SEMAPHORE_DEPTH = 20;

export type SemaphoreArtifactKind = "wasm" | "zkey";

/** File names inside circuits/semaphore (and under the URL a dapp serves them from). */
export const SEMAPHORE_ARTIFACT_FILES: Readonly<Record<SemaphoreArtifactKind | "verificationKey", string>> = {
  wasm: "semaphore-20.wasm",
  zkey: "semaphore-20.zkey",
  verificationKey: "semaphore-20.json",
};

/** circuits/semaphore/SHA256SUMS (test/protocol/zk.test.ts checks these against the file). */
export const SEMAPHORE_ARTIFACT_SHA256: Readonly<Record<SemaphoreArtifactKind | "verificationKey", Sha256Hex>> = {
  wasm: "0x6f71e55586929e520e76027ebe067daac8b41e2f4b8057313a5fd0304e1e44ee",
  zkey: "0x33f9a067a80c7daf90e085449073613a9559a1904dd40aeb6d603afb7988c2cc",
  verificationKey: "0x6fda771369c19517c8f7575cb9f1d18a8846e46baa1dc0c032bac9492c29559e",
};

/** The checked bytes snarkjs proves with (it accepts bytes wherever it accepts a path or URL). */
export type SemaphoreArtifacts = { readonly wasm: Uint8Array; readonly zkey: Uint8Array };

/** Throws ZK_ARTIFACT_DIGEST unless `bytes` hash to the pinned digest of `kind`. */
export function checkSemaphoreArtifact(kind: SemaphoreArtifactKind, bytes: Uint8Array, source?: string): void {
  const actual = sha256Hex(bytes);
  const expected = SEMAPHORE_ARTIFACT_SHA256[kind];
  if (actual !== expected) {
    throw new ZkArtifactError("ZK_ARTIFACT_DIGEST", `The Semaphore ${kind} file does not match its pinned SHA-256; refusing to prove with it.`, {
      kind, file: SEMAPHORE_ARTIFACT_FILES[kind], source, expected, actual, bytes: bytes.length,
    });
  }
}

/** Reads both files with `read` and checks them; a read that fails becomes ZK_ARTIFACT_UNAVAILABLE. */
export async function loadSemaphoreArtifacts(read: (kind: SemaphoreArtifactKind, file: string) => Promise<Uint8Array>, source?: string): Promise<SemaphoreArtifacts> {
  const one = async (kind: SemaphoreArtifactKind) => {
    const file = SEMAPHORE_ARTIFACT_FILES[kind];
    let bytes: Uint8Array;
    try {
      bytes = await read(kind, file);
    } catch (error) {
      throw new ZkArtifactError("ZK_ARTIFACT_UNAVAILABLE", `The Semaphore ${kind} file could not be read.`, { kind, file, source }, error);
    }
    checkSemaphoreArtifact(kind, bytes, source);
    return bytes;
  };
  const [wasm, zkey] = await Promise.all([one("wasm"), one("zkey")]);
  return { wasm, zkey };
}

export type FetchSemaphoreArtifactsParameters = {
  /** Folder URL the files are served under (e.g. "/circuits/semaphore/"); names are SEMAPHORE_ARTIFACT_FILES. */
  baseUrl?: string;
  /** Or each file's own URL (a bundler's hashed asset names). */
  wasmUrl?: string;
  zkeyUrl?: string;
  fetch?: typeof globalThis.fetch;
};

/**
 * Fetches both files (never from a CDN the app did not choose) and checks their digests.
 *
 * @example
 * const artifacts = await fetchSemaphoreArtifacts({ baseUrl: new URL("/circuits/semaphore/", location.href).href });
 */
export function fetchSemaphoreArtifacts(parameters: FetchSemaphoreArtifactsParameters): Promise<SemaphoreArtifacts> {
  const doFetch = parameters.fetch ?? globalThis.fetch.bind(globalThis);
  const urlOf = (kind: SemaphoreArtifactKind, file: string): string => {
    const explicit = kind === "wasm" ? parameters.wasmUrl : parameters.zkeyUrl;
    if (explicit) return explicit;
    if (!parameters.baseUrl) throw new TypeError(`fetchSemaphoreArtifacts needs baseUrl or ${kind}Url.`);
    return new URL(file, parameters.baseUrl.endsWith("/") ? parameters.baseUrl : `${parameters.baseUrl}/`).href;
  };
  return loadSemaphoreArtifacts(async (kind, file) => {
    const url = urlOf(kind, file);
    const response = await doFetch(url);
    if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }, parameters.baseUrl ?? parameters.wasmUrl);
}
