/**
 * Glue between the chain's model registry and the fhe/ engine's model artifacts.
 */
import { decodeBytes32String, encodeBytes32String } from "ethers";

import { loadModel, type ModelArtifact } from "../fhe/index.js";
import type { MedCipherClient } from "./client.js";
import { IntegrityError, InvalidInputError } from "./errors.js";

/** fhe/ parameter-set ids are ASCII (≤ 32 bytes); on-chain they are that string as a bytes32. */
export function paramSetIdToBytes32(paramSetId: string): string {
  return encodeBytes32String(paramSetId);
}

export function paramSetIdFromBytes32(value: string): string {
  return decodeBytes32String(value);
}

export type RegisteredModel = { modelId: number; name: string; version: string; weightsHash: string; paramSetId: string; active: boolean; artifact: ModelArtifact };

/**
 * The artifact of a registered model, checked against the registry: found as models/<name>.json
 * or models/<name>-<version>.json, and its weights must hash to the registered weightsHash.
 */
export async function resolveRegisteredModel(client: Pick<MedCipherClient, "contracts">, modelId: number): Promise<RegisteredModel> {
  const model = (await client.contracts.models.modelOf(modelId).catch((error: unknown) => {
    throw new InvalidInputError(`No model ${modelId} in the registry.`, { modelId, cause: String(error) });
  }));
  const { name, version, weightsHash, paramSetId } = model.spec;
  let artifact: ModelArtifact | undefined;
  for (const id of [name, `${name}-${version}`]) {
    try {
      artifact = loadModel(id);
      break;
    } catch {
      // try the other naming
    }
  }
  if (!artifact) throw new InvalidInputError(`No local artifact for model ${name} ${version}.`, { modelId, name, version });
  if (artifact.weightsHash.toLowerCase() !== weightsHash.toLowerCase()) throw new IntegrityError("Local model artifact", { modelId, registered: weightsHash, local: artifact.weightsHash });
  return { modelId, name, version, weightsHash, paramSetId: paramSetIdFromBytes32(paramSetId), active: model.retiredAt === 0n, artifact };
}
