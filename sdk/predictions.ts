/**
 * Glue between the chain's model registry and the fhe/ engine's model artifacts: the artifact of
 * a registered model comes from the caller (`artifacts`, `fetchModel`) or from its on-chain
 * `weightsUri` over HTTP(S) (relative URIs, as the deploy script registers them —
 * `models/<id>.json` — resolve against `modelBaseUrl`), and is checked against the registry's
 * hashes before anything is encrypted or decrypted with it. Nothing here reads a disk: in Node,
 * sdk/node.ts adds the models/ folder as a source.
 */
import { decodeBytes32String, encodeBytes32String } from "ethers";

import { verifyModel, type ModelArtifact } from "../fhe/model.js";
import type { MedCipherContracts } from "../protocol/contracts.js";
import { IntegrityError, InvalidInputError } from "./errors.js";

/** fhe/ parameter-set ids are ASCII (≤ 32 bytes); on-chain they are that string as a bytes32. */
export function paramSetIdToBytes32(paramSetId: string): string {
  return encodeBytes32String(paramSetId);
}

export function paramSetIdFromBytes32(value: string): string {
  return decodeBytes32String(value);
}

/** A model as the registry holds it (no artifact yet). */
export type RegisteredModelSpec = {
  modelId: number;
  name: string;
  version: string;
  weightsHash: string;
  weightsUri: string;
  encodingSpecHash: string;
  paramSetId: string;
  active: boolean;
};

export type RegisteredModel = RegisteredModelSpec & { artifact: ModelArtifact };

/** Finds a registered model's artifact (parsed JSON or an artifact object); the SDK checks what it returns. */
export type FetchModel = (model: RegisteredModelSpec) => Promise<unknown>;

/** Where the SDK gets model artifacts; tried in this order. */
export type ModelSources = {
  /** Artifacts the caller holds (e.g. bundled with the app), matched to the registry by weightsHash. */
  artifacts?: readonly ModelArtifact[];
  /** The caller's own lookup (a CDN, IPFS gateway, the Node entry's models/ folder …). */
  fetchModel?: FetchModel;
  /** Base URL that relative `weightsUri`s (e.g. `models/maternal-risk-v1.json`) resolve against. */
  modelBaseUrl?: string;
  /** The fetch used for `weightsUri` (default: globalThis.fetch). */
  fetch?: typeof fetch;
};

/** The registry's record of a model. `InvalidInputError` when there is none. */
export async function readRegisteredModel(client: { contracts: Pick<MedCipherContracts, "models"> }, modelId: number): Promise<RegisteredModelSpec> {
  const model = await client.contracts.models.modelOf(modelId).catch((error: unknown) => {
    throw new InvalidInputError(`No model ${modelId} in the registry.`, { modelId, cause: String(error) });
  });
  const { name, version, weightsHash, weightsUri, paramSetId, encodingSpecHash } = model.spec;
  return { modelId, name, version, weightsHash, weightsUri, encodingSpecHash, paramSetId: paramSetIdFromBytes32(paramSetId), active: model.retiredAt === 0n };
}

/**
 * The artifact of a registered model, checked: its own hashes recomputed (fhe `verifyModel`),
 * then its weightsHash, encodingSpecHash and parameter set compared with the registry's
 * (`IntegrityError` on any difference). `sources` (default: the client's `models`) say where to look.
 */
export async function resolveRegisteredModel(client: { contracts: Pick<MedCipherContracts, "models">; models?: ModelSources }, modelId: number, sources: ModelSources | undefined = client.models): Promise<RegisteredModel> {
  const spec = await readRegisteredModel(client, modelId);
  const artifact = checkArtifact(spec, await findArtifact(spec, sources ?? {}));
  return { ...spec, artifact };
}

async function findArtifact(spec: RegisteredModelSpec, sources: ModelSources): Promise<unknown> {
  const held = sources.artifacts?.find((a) => a.weightsHash.toLowerCase() === spec.weightsHash.toLowerCase());
  if (held) return held;
  if (sources.fetchModel) return sources.fetchModel(spec);
  const url = modelUrl(spec, sources.modelBaseUrl);
  const fetchImpl = sources.fetch ?? globalThis.fetch;
  let response: Response;
  try {
    response = await fetchImpl(url);
  } catch (error) {
    throw new InvalidInputError(`Could not fetch model ${spec.name} ${spec.version} from ${url}.`, { modelId: spec.modelId, url, cause: String(error) });
  }
  if (!response.ok) throw new InvalidInputError(`Model ${spec.name} ${spec.version}: ${url} answered HTTP ${response.status}.`, { modelId: spec.modelId, url, status: response.status });
  try {
    return await response.json();
  } catch (error) {
    throw new IntegrityError(`Model artifact at ${url}`, { modelId: spec.modelId, url, reason: "not JSON", cause: String(error) });
  }
}

/** The HTTP(S) URL of a model's `weightsUri`; other schemes need `artifacts` or `fetchModel`. */
export function modelUrl(spec: Pick<RegisteredModelSpec, "modelId" | "name" | "version" | "weightsUri">, modelBaseUrl?: string): string {
  let url: URL | undefined;
  try {
    url = new URL(spec.weightsUri, modelBaseUrl);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) {
    const hint = modelBaseUrl === undefined && !/^[a-z][a-z0-9+.-]*:/i.test(spec.weightsUri) ? " Pass `modelBaseUrl` to resolve this relative URI," : "";
    throw new InvalidInputError(
      `Model ${spec.name} ${spec.version} is registered with weightsUri "${spec.weightsUri}", which is not an HTTP(S) URL.${hint} pass the artifact (\`artifacts\`) or a \`fetchModel\` function.`,
      { modelId: spec.modelId, weightsUri: spec.weightsUri },
    );
  }
  return url.href;
}

function checkArtifact(spec: RegisteredModelSpec, candidate: unknown): ModelArtifact {
  let artifact: ModelArtifact;
  try {
    artifact = verifyModel(candidate as ModelArtifact);
  } catch (error) {
    throw new IntegrityError(`Model artifact for ${spec.name} ${spec.version}`, { modelId: spec.modelId, reason: (error as Error).message });
  }
  const differences: Record<string, { registered: string; artifact: string }> = {};
  const compare = (field: string, registered: string, actual: string) => {
    if (registered.toLowerCase() !== actual.toLowerCase()) differences[field] = { registered, artifact: actual };
  };
  compare("weightsHash", spec.weightsHash, artifact.weightsHash);
  compare("encodingSpecHash", spec.encodingSpecHash, artifact.encodingSpecHash);
  compare("paramSetId", spec.paramSetId, artifact.paramSetId);
  if (Object.keys(differences).length > 0) throw new IntegrityError(`Model artifact for ${spec.name} ${spec.version}`, { modelId: spec.modelId, ...differences });
  return artifact;
}
