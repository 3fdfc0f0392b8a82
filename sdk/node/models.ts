/**
 * Model artifacts from a folder on disk (Node): models/<name>.json or models/<name>-<version>.json,
 * as the training script writes them. What it returns is checked against the registry like any
 * other source (sdk/predictions.ts).
 */
import { readFile } from "node:fs/promises";

import type { FetchModel, RegisteredModelSpec } from "../predictions.js";
import { InvalidInputError } from "../errors.js";

/** The repository's models/ folder. */
export const DEFAULT_MODEL_DIRECTORY = new URL("../../models/", import.meta.url);

export function modelFiles(directory: URL = DEFAULT_MODEL_DIRECTORY): FetchModel {
  return async (model: RegisteredModelSpec) => {
    for (const name of [model.name, `${model.name}-${model.version}`]) {
      // Registry names are free text: only a plain file name is looked up.
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name)) continue;
      const text = await readFile(new URL(`${name}.json`, directory), "utf8").catch(() => undefined);
      if (text !== undefined) return JSON.parse(text) as unknown;
    }
    throw new InvalidInputError(`No local artifact for model ${model.name} ${model.version} in ${directory.pathname}.`, { modelId: model.modelId, name: model.name, version: model.version });
  };
}
