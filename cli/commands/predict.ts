import { readFile } from "node:fs/promises";

import type { Command } from "commander";
import { getBytes } from "ethers";

import type { Prediction, Reading as FeatureReading } from "../../fhe/index.js";
import { getPredictionResult } from "../../sdk/actions/getPredictionResult.js";
import { readRecord } from "../../sdk/actions/readRecord.js";
import { readSharedResult } from "../../sdk/actions/readSharedResult.js";
import { requestPrediction } from "../../sdk/actions/requestPrediction.js";
import { shareResult } from "../../sdk/actions/shareResult.js";
import { waitForPrediction } from "../../sdk/actions/waitForPrediction.js";
import type { MedCipherClient } from "../../sdk/client.js";
import { InvalidInputError } from "../../sdk/errors.js";
import { resolveRegisteredModel } from "../../sdk/predictions.js";
import { modelInputsFromReadings } from "../../sdk/readings/modelInputs.js";
import { parsePurpose } from "../../protocol/codes.js";
import { globalOptions, makeClient, output, parseAddress, password, readRecordIndex } from "../context.js";
import { currentKeysHash, fheForKeySet, requestKeysHash } from "../heKeys.js";

/**
 * `--model`: an on-chain id (1, 2, …) or an artifact name from models/ (`maternal-risk-v1`,
 * optionally `name@version`), looked up in the registry by name and version.
 */
async function resolveModelId(client: MedCipherClient, model: string): Promise<number> {
  if (/^\d+$/.test(model)) {
    const modelId = Number(model);
    if (!Number.isSafeInteger(modelId) || modelId < 1) throw new InvalidInputError("--model must be a model name (e.g. maternal-risk-v1) or an on-chain model id (1, 2, …).", { model });
    return modelId;
  }
  // split always gives at least one part: the name.
  const [name = model, pinnedVersion] = model.split("@");
  let version = pinnedVersion;
  if (!version) {
    const { loadModel } = await import("../../fhe/index.js");
    try {
      version = loadModel(name).version;
    } catch {
      throw new InvalidInputError(`No model artifact ${name} in models/: give a model name from there (e.g. maternal-risk-v1), name@version, or an on-chain model id.`, { model });
    }
  }
  const modelId = Number(await client.contracts.models.modelIdOf(name, version));
  if (modelId === 0) throw new InvalidInputError(`Model ${name} ${version} is not registered on this chain (governance: medcipher admin register-model ${name}).`, { model, name, version });
  return modelId;
}

function predictionLines(predictions: readonly Prediction[]): string {
  return predictions.map((p, i) => `#${i + 1}  ${p.label}  probabilities ${p.probabilities.join(" / ")}`).join("\n");
}

async function waitAndDecrypt(command: Command, requestId: string, timeoutSeconds: number) {
  const global = globalOptions(command);
  const out = output(command);
  const { client, identity } = await makeClient(global);
  out.info(`waiting for the oracle to fulfil ${requestId} …`);
  const fulfilled = await waitForPrediction(client, { requestId, timeoutMs: timeoutSeconds * 1000 });
  // The key set the request was made under: after a rotation, the old one still decrypts it.
  const keysHash = (await requestKeysHash(client, requestId)) ?? (await currentKeysHash(client));
  const fhe = await fheForKeySet(identity, password(global), keysHash);
  try {
    const result = await getPredictionResult(client, { requestId, fhe, keysHash });
    out.result({ ...result, resultUri: fulfilled.resultUri }, () => `result ${result.resultHash} (verified against the chain, decrypted locally)\n${predictionLines(result.predictions)}`);
  } finally {
    fhe.dispose();
  }
}

export function registerPredictCommands(program: Command): void {
  program
    .command("predict")
    .description("Encrypt the model's input features under the patient's CKKS key, store them on the gateway and request an encrypted prediction on-chain")
    .requiredOption("--model <name|id>", "the model: an artifact name from models/ (maternal-risk-v1, heart-disease-lr-v1; or name@version) or its on-chain id")
    .option("--input <features.json>", "the model's input features in the model's units: one JSON object (feature name → number) or an array of them; e.g. docs/examples/features.json (maternal-risk-v1: bloodGlucose in mmol/L, bodyTemp in °F)")
    .option("--from-records", "take the inputs devices measure from the patient's own records (latest reading of each, decrypted locally, converted to the model's units)", false)
    .option("--known <list>", "with --from-records: inputs no device measures, as name=value,name=value (e.g. age=29)", "")
    .option("--wait", "wait for the fulfilment, then fetch, verify and decrypt the result", false)
    .option("--timeout <seconds>", "how long --wait waits", "120")
    .action(async (options: { model: string; input?: string; fromRecords: boolean; known: string; wait: boolean; timeout: string }, command: Command) => {
      const global = globalOptions(command);
      const out = output(command);
      if (!options.input === !options.fromRecords) throw new InvalidInputError("Give exactly one of --input <features.json> and --from-records.");
      const { client, identity } = await makeClient(global);
      const modelId = await resolveModelId(client, options.model);
      let readings: FeatureReading | FeatureReading[];
      if (options.input) {
        try {
          readings = JSON.parse(await readFile(options.input, "utf8")) as FeatureReading | FeatureReading[];
        } catch (error) {
          throw new InvalidInputError(`Cannot read features from ${options.input}.`, { cause: String(error) });
        }
      } else {
        const known: FeatureReading = {};
        for (const pair of options.known.split(",").filter(Boolean)) {
          const [name, value] = pair.split("=");
          if (!name || value === undefined || !Number.isFinite(Number(value))) throw new InvalidInputError(`--known expects name=value pairs, got "${pair}".`);
          known[name.trim()] = Number(value);
        }
        const records = await readRecordIndex(global, client.address);
        const deviceReadings = [];
        for (const [index, record] of records.entries()) {
          deviceReadings.push(...(await readRecord(client, { record })).readings);
          out.progress("decrypt", index + 1, records.length);
        }
        const { artifact } = await resolveRegisteredModel(client, modelId);
        readings = modelInputsFromReadings({ model: artifact, readings: deviceReadings, known });
      }
      const fhe = await fheForKeySet(identity, password(global), await currentKeysHash(client));
      let requestId: string;
      try {
        out.info("encrypting and requesting …");
        const request = await requestPrediction(client, { modelId, fhe, readings });
        requestId = request.requestId;
        if (!options.wait) {
          out.result(request, () => `requested prediction ${request.requestId} (input ${request.inputHash})\nfetch it with: medcipher result ${request.requestId}`);
          return;
        }
      } finally {
        fhe.dispose();
      }
      await waitAndDecrypt(command, requestId, Number(options.timeout));
    });

  program
    .command("result <request>")
    .description("Wait for a prediction request's fulfilment, fetch the encrypted result, verify its hash against the chain, decrypt and apply the model's output function")
    .option("--timeout <seconds>", "how long to wait for the fulfilment", "120")
    .action(async (request: string, options: { timeout: string }, command: Command) => {
      await waitAndDecrypt(command, request, Number(options.timeout));
    });

  program
    .command("share-result <request>")
    .description("Share a fulfilled prediction with a grantee: decrypted here, each score flooded with noise at the model's precision and rounded (docs/fhe.md, decryption hygiene), sealed to the grantee; prints the share id")
    .requiredOption("--grantee <address>", "who may read it (they still need live consent for PREDICTION to fetch it)", parseAddress("--grantee"))
    .option("--grantee-key <hex>", "the grantee's X25519 public key (default: the key registered for that address)")
    .action(async (request: string, options: { grantee: string; granteeKey?: string }, command: Command) => {
      const global = globalOptions(command);
      const { client, identity } = await makeClient(global);
      const keysHash = (await requestKeysHash(client, request)) ?? (await currentKeysHash(client));
      const fhe = await fheForKeySet(identity, password(global), keysHash);
      try {
        const { shareId, shared } = await shareResult(client, {
          requestId: request, fhe, keysHash, grantee: options.grantee, granteeEncryptionKey: options.granteeKey ? getBytes(options.granteeKey) : undefined,
        });
        output(command).result({ shareId, ...shared }, () => `share id ${shareId} (scores flooded with N(0, ${shared.release.floodSigma}²), rounded to ${shared.release.scoreDecimals} decimals)\n${predictionLines(shared.predictions)}`);
      } finally {
        fhe.dispose();
      }
    });

  program
    .command("read-result <share>")
    .description("As a grantee, read a prediction a patient shared with you (consent for PREDICTION is checked by the gateway)")
    .option("--purpose <purpose>", "purpose of use stated to the gateway: TREAT | ETREAT | HRESCH | TREATDS | PATRQT", "TREATDS")
    .action(async (share: string, options: { purpose: string }, command: Command) => {
      const global = globalOptions(command);
      const purpose = parsePurpose(options.purpose);
      if (purpose === undefined) throw new InvalidInputError(`Unknown purpose ${options.purpose} (TREAT, ETREAT, HRESCH, TREATDS, PATRQT).`, { purpose: options.purpose });
      const { client } = await makeClient(global);
      const shared = await readSharedResult(client, { shareId: share, purpose });
      output(command).result(shared, () => `prediction shared by the patient for request ${shared.requestId} (model ${shared.modelId}; scores flooded and rounded to ${shared.release.scoreDecimals} decimals)\n${predictionLines(shared.predictions)}`);
    });
}
