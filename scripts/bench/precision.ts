/**
 * `npx tsx scripts/bench/precision.ts [readings]` — measures the CKKS noise in decrypted scores
 * per model, path and encryption: max |decrypted score − plaintext score| before the client's
 * rounding, over random readings drawn from each input's allowed domain (seeded) plus every
 * held-out row. The stated bounds (`output.scoreNoise` in each artifact, set in models/train.ts)
 * come from this; test/fhe/precision.test.ts checks them on fresh random readings.
 *
 * Paths: `single` (one reading per request, replicated into every block and averaged),
 * `tiledBatch` (a full tiled ciphertext of readings), `columns` (column batch, 1,024 per group).
 * Encryption: `client` (secret key, seeded inputs), `device` (the patient's public key), and each
 * of them behind the ingestion firewall (`client+firewall`, `device+firewall`: fhe/firewall.ts adds
 * a fresh public-key encryption of zero, so one public-key encryption's noise more), which is what
 * the oracle evaluates when the gateway requires the firewall.
 */
import { pathToFileURL } from "node:url";

import { encodeReading, type EncodingSpec, type Reading } from "../../fhe/encoding.js";
import { firewallInput, loadFirewallKey, type FirewallKey } from "../../fhe/firewall.js";
import { createEvaluator, FheClient, FhePublicEncryptor, loadModel, MODEL_IDS, type FheEvaluator, type ModelArtifact } from "../../fhe/index.js";
import { PRECISION_PATHS, type PrecisionPath } from "../../fhe/model.js";
import { mulberry32, scores } from "../../models/logistic.js";

export type Encryption = "client" | "device" | "client+firewall" | "device+firewall";
export const ENCRYPTIONS: readonly Encryption[] = ["client", "device", "client+firewall", "device+firewall"];

/** One reading drawn uniformly from the spec's allowed domain (range, or the listed categories). */
export function randomReading(spec: EncodingSpec, random: () => number): Reading {
  const reading: Reading = {};
  for (const input of spec.inputs) {
    reading[input.name] = input.categories !== undefined
      ? input.categories[Math.floor(random() * input.categories.length)]!
      : input.min + random() * (input.max - input.min);
  }
  return reading;
}

export type PrecisionRig = { evaluator: FheEvaluator; client: FheClient; device: FhePublicEncryptor; firewall: FirewallKey; maskKey: Uint8Array };

export async function createPrecisionRig(paramSetId: string): Promise<PrecisionRig> {
  const client = await FheClient.generate(paramSetId);
  const keys = client.evaluationKeys();
  return {
    evaluator: await createEvaluator(), client, device: await FhePublicEncryptor.fromEvaluationKeys(keys, paramSetId),
    firewall: await loadFirewallKey(keys, paramSetId), maskKey: new Uint8Array(32).fill(0x42),
  };
}

export function disposePrecisionRig(rig: PrecisionRig): void {
  rig.firewall.dispose();
  rig.evaluator.dispose();
  rig.device.dispose();
  rig.client.dispose();
}

/**
 * Max |decrypted − plaintext| over `readings` on one path. With `raw`, the client keeps 15
 * decimals (the noise itself); otherwise the model's own `scoreDecimals` (what an application gets).
 */
export async function maxScoreError(rig: PrecisionRig, model: ModelArtifact, path: PrecisionPath, encryption: Encryption, readings: readonly Reading[], raw: boolean): Promise<number> {
  const decrypting = raw ? { ...model, output: { ...model.output, scoreDecimals: 15 } } : model;
  const plain = encryption.startsWith("client") ? rig.client : rig.device;
  const encryptor: Pick<FheClient, "encrypt"> = encryption.endsWith("+firewall")
    ? { encrypt: (...args: Parameters<FheClient["encrypt"]>) => firewallInput(rig.firewall, plain.encrypt(...args)).blob }
    : plain;
  const per = path === "single" ? 1 : path === "tiledBatch" ? model.encodingSpec.layout.readingsPerCiphertext : 1024;
  let max = 0;
  for (let start = 0; start < readings.length; start += per) {
    const chunk = readings.slice(start, start + per);
    const input = path === "single" ? encryptor.encrypt(model, chunk[0]!) : encryptor.encrypt(model, chunk, { layout: path === "columns" ? "columns" : "tiled" });
    const predictions = rig.client.decrypt(decrypting, await rig.evaluator.evaluate(model, input, { maskKey: rig.maskKey }));
    predictions.forEach((p, i) => {
      const plain = scores(model.weights, encodeReading(model.encodingSpec, chunk[i]!));
      plain.forEach((s, k) => (max = Math.max(max, Math.abs(s - p.scores[k]!))));
    });
  }
  return max;
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 4096);
  for (const id of MODEL_IDS) {
    const model = loadModel(id);
    const rig = await createPrecisionRig(model.paramSetId);
    const random = mulberry32(0x5eed);
    const readings = Array.from({ length: count }, () => randomReading(model.encodingSpec, random));
    try {
      for (const path of PRECISION_PATHS) {
        const cells: string[] = [];
        for (const encryption of ENCRYPTIONS) {
          const noise = await maxScoreError(rig, model, path, encryption, readings, true);
          const rounded = await maxScoreError(rig, model, path, encryption, readings, false);
          cells.push(`${encryption} noise ${noise.toExponential(2)} rounded ${rounded.toExponential(2)}`);
        }
        console.log(`${id.padEnd(20)} ${path.padEnd(10)} ${cells.join("   ")}   (stated noise bound ${model.output.scoreNoise[path]})`);
      }
    } finally {
      disposePrecisionRig(rig);
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
