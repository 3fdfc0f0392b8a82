/**
 * The SDK's Node entry: everything in the browser-safe entry (./index.ts) plus what only Node
 * can do (files, node:http). package.json `exports` sends Node here and browsers to ./index.ts.
 */
import { createMedCipherClient as createBrowserSafeClient, type CreateMedCipherClientParameters, type MedCipherClient } from "./client.js";
import { modelFiles } from "./node/models.js";

export * from "./index.js";
export { loadDeployment } from "./node/deployment.js";
export { modelFiles, DEFAULT_MODEL_DIRECTORY } from "./node/models.js";
export { writeKeystore, readKeystore, keystoreAddress, saveHeKeySet, deleteHeKeySet, saveAnonymousRequest, savePqSigningKey, saveHybridEncryptionKey } from "./keystore/file.js";
export { createNodeHttpTransport } from "./node/transport.js";
export { readSemaphoreArtifacts, DEFAULT_SEMAPHORE_ARTIFACT_DIRECTORY } from "./node/semaphoreArtifacts.js";

/**
 * `createMedCipherClient` of the browser entry, with the repository's models/ folder as the
 * model source when the caller names none (Node tools register `models/<id>.json`).
 */
export async function createMedCipherClient(parameters: CreateMedCipherClientParameters): Promise<MedCipherClient> {
  const models = parameters.models ?? {};
  const named = models.fetchModel !== undefined || models.modelBaseUrl !== undefined;
  return createBrowserSafeClient({ ...parameters, models: named ? models : { ...models, fetchModel: modelFiles() } });
}
