/**
 * The pinned Semaphore circuit files from disk (Node): circuits/semaphore in the repository, or a
 * folder the caller names. Checked against the same digests browsers check (protocol/zk/artifacts.ts).
 */
import { readFile } from "node:fs/promises";

import { loadSemaphoreArtifacts, type SemaphoreArtifacts } from "../../protocol/zk/artifacts.js";

/** The repository's circuits/semaphore/ folder. */
export const DEFAULT_SEMAPHORE_ARTIFACT_DIRECTORY = new URL("../../circuits/semaphore/", import.meta.url);

/** Reads and checks semaphore-20.wasm and semaphore-20.zkey (ZK_ARTIFACT_DIGEST on a mismatch). */
export function readSemaphoreArtifacts(directory: URL = DEFAULT_SEMAPHORE_ARTIFACT_DIRECTORY): Promise<SemaphoreArtifacts> {
  return loadSemaphoreArtifacts((_kind, file) => readFile(new URL(file, directory)).then((bytes) => new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)), directory.pathname);
}
