/**
 * Model artifacts from disk (models/<id>.json): Node only. Browsers get an artifact as JSON (by
 * its on-chain URI, or from the caller) and check it with `parseModel` (fhe/model.ts).
 */
import { readFileSync } from "node:fs";

import { parseModel, UnknownModelError, type ModelArtifact } from "./model.js";

/**
 * Reads models/<id>.json and checks it: both hashes recomputed, weight rows shaped to the slot
 * layout. Throws `UnknownModelError` or `ModelIntegrityError`.
 */
export function loadModel(modelId: string, directory: URL = new URL("../models/", import.meta.url)): ModelArtifact {
  if (!/^[a-z0-9][a-z0-9.-]{0,63}$/.test(modelId)) throw new UnknownModelError(modelId);
  let text: string;
  try {
    text = readFileSync(new URL(`${modelId}.json`, directory), "utf8");
  } catch {
    throw new UnknownModelError(modelId);
  }
  return parseModel(text);
}
