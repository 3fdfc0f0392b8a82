/**
 * The stack's side of GET /config.json: it builds the `AppConfig` the reference dapp reads.
 * The type is the app's own (app/src/config.ts, the consumer), imported type-only so the two
 * cannot drift.
 */
import type { ModelArtifact } from "../../fhe/index.js";
import type { AppModel } from "../../app/src/config.js";

export type { AppConfig, AppModel, AppModelFeature, DemoIdentity } from "../../app/src/config.js";

/** A model artifact as config.json lists it. */
export function appModelOf(artifact: ModelArtifact, modelId: number): AppModel {
  return {
    modelId,
    name: artifact.id,
    version: artifact.version,
    description: artifact.description,
    features: artifact.encodingSpec.inputs.map(({ name, description, unit, min, max, kind, categories }) => ({
      name, description, unit, min, max, kind, ...(categories ? { categories } : {}),
    })),
    labels: artifact.output.labels,
    paramSetId: artifact.paramSetId,
  };
}
