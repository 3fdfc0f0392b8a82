import { encodeBytes32String } from "ethers";

import type { ModelArtifact } from "../fhe/model.js";
import { OutputKind, type ModelRegistration } from "./local.js";

/**
 * The on-chain registration (`IModelRegistry.ModelSpec`) of a trained model artifact: the same
 * weights and encoding-spec hashes the oracle and the SDK recompute from the artifact, so a model
 * file that drifted from its registration is caught.
 */
export function modelRegistration(artifact: ModelArtifact, weightsUri = `models/${artifact.id}.json`): ModelRegistration {
  return {
    name: artifact.id,
    version: artifact.version,
    weightsHash: artifact.weightsHash,
    weightsUri,
    paramSetId: encodeBytes32String(artifact.paramSetId),
    encodingSpecHash: artifact.encodingSpecHash,
    outputKind: artifact.output.kind === "softmax" ? OutputKind.Softmax : OutputKind.Sigmoid,
    isPrivate: artifact.isPrivate,
  };
}
