/**
 * The reference circuit the benchmark compares the tiled design with: a 13-feature logistic
 * regression evaluated entirely on the server at N=8192 ([50,40,40,40,48], scale 2^40):
 * ciphertext × weights, rescale, rotate-and-sum (steps 1, 2, 4, 8), bias, and the cubic sigmoid
 * approximation 0.5 + 0.197·x − 0.004·x³ (three rescales in all). Not used by the shipped models.
 */
import type { Ciphertext, GaloisKeys, Plaintext, RelinKeys } from "node-seal";

import { MissingEvaluationKeysError } from "./errors.js";
import { FheClient } from "./client.js";
import { openSecretKey, readEvaluationKeysBlob } from "./keys.js";
import { parameterContext, sealCall, type ParameterContext } from "./seal.js";

export const REFERENCE_PARAM_SET_ID = "ckks-8192-v1";
export const REFERENCE_GALOIS_STEPS = [1, 2, 4, 8];
export const REFERENCE_SIGMOID = { c0: 0.5, c1: 0.197, c3: -0.004 } as const;

/** Plaintext value of the reference circuit: the cubic sigmoid of w·x + b. */
export function referencePlain(weights: readonly number[], bias: number, x: readonly number[]): number {
  const s = weights.reduce((acc, w, i) => acc + w * (x[i] as number), bias);
  return REFERENCE_SIGMOID.c0 + REFERENCE_SIGMOID.c1 * s + REFERENCE_SIGMOID.c3 * s ** 3;
}

export type ReferenceCircuit = {
  /** Evaluates on a loaded ciphertext; the caller deletes the returned ciphertext. */
  evaluate(input: Ciphertext): Ciphertext;
  /** Loads SEAL ciphertext bytes (as produced by `encryptReference`). */
  load(bytes: Uint8Array): Ciphertext;
  dispose(): void;
};

/** Builds the server side from the patient's evaluation-key blob (relinearisation + Galois keys). */
export async function createReferenceCircuit(weights: readonly number[], bias: number, evaluationKeys: Uint8Array): Promise<ReferenceCircuit> {
  if (weights.length > 16) throw new RangeError("the reference circuit sums 16 slots");
  const ctx = await parameterContext(REFERENCE_PARAM_SET_ID);
  const sections = readEvaluationKeysBlob(evaluationKeys, REFERENCE_PARAM_SET_ID);
  const steps = sections.galoisKeys?.steps ?? [];
  if (sections.relinKeys === undefined || !REFERENCE_GALOIS_STEPS.every((s) => steps.includes(s))) {
    throw new MissingEvaluationKeysError("relinearisation keys and Galois steps 1, 2, 4, 8");
  }
  const { seal, context, encoder, evaluator } = ctx;
  const relin: RelinKeys = new seal.RelinKeys();
  const galois: GaloisKeys = new seal.GaloisKeys();
  sealCall("key load", () => {
    relin.loadFromArray(context, sections.relinKeys);
    galois.loadFromArray(context, sections.galoisKeys?.bytes);
  });
  const scale = 2 ** ctx.set.inputScaleLog2;
  const plaintexts: Plaintext[] = [];
  const constant = (values: number[] | number, chainIndex: number, at = scale) => {
    const pt = new seal.Plaintext();
    const slots = new Float64Array(ctx.set.polyModulusDegree / 2);
    if (typeof values === "number") slots.fill(values);
    else slots.set(values);
    encoder.encode(slots, at, pt);
    const parms = parmsIdAt(ctx, chainIndex);
    evaluator.plainModSwitchToInplace(pt, parms);
    parms.delete();
    plaintexts.push(pt);
    return pt;
  };
  const top = ctx.firstChainIndex;
  const weightsPt = constant([...weights], top);
  const biasPt = constant(bias, top - 1);
  const c1Pt = constant(REFERENCE_SIGMOID.c1, top - 1);
  const c3Pt = constant(REFERENCE_SIGMOID.c3, top - 1);
  const c0Pt = constant(REFERENCE_SIGMOID.c0, top - 3);

  return {
    load(bytes) {
      const ct = new seal.Ciphertext();
      sealCall("reference load", () => ct.loadFromArray(context, bytes));
      return ct;
    },
    evaluate(input) {
      const x = new seal.Ciphertext();
      const rotated = new seal.Ciphertext();
      const x2 = new seal.Ciphertext();
      const c3x = new seal.Ciphertext();
      const c1x = new seal.Ciphertext();
      const out = new seal.Ciphertext();
      try {
        return sealCall("reference evaluation", () => {
          evaluator.multiplyPlain(input, weightsPt, x);
          evaluator.rescaleToNextInplace(x);
          for (const step of REFERENCE_GALOIS_STEPS) {
            evaluator.rotateVector(x, step, galois, rotated);
            evaluator.addInplace(x, rotated);
          }
          x.setScale(scale);
          evaluator.addPlainInplace(x, biasPt);
          evaluator.square(x, x2);
          evaluator.relinearizeInplace(x2, relin);
          evaluator.rescaleToNextInplace(x2);
          evaluator.multiplyPlain(x, c3Pt, c3x);
          evaluator.rescaleToNextInplace(c3x);
          x2.setScale(scale);
          c3x.setScale(scale);
          evaluator.multiply(x2, c3x, out);
          evaluator.relinearizeInplace(out, relin);
          evaluator.rescaleToNextInplace(out);
          evaluator.multiplyPlain(x, c1Pt, c1x);
          evaluator.rescaleToNextInplace(c1x);
          const bottom = out.parmsId();
          evaluator.cipherModSwitchToInplace(c1x, bottom);
          bottom.delete();
          out.setScale(scale);
          c1x.setScale(scale);
          evaluator.addInplace(out, c1x);
          evaluator.addPlainInplace(out, c0Pt);
          return out;
        });
      } catch (error) {
        out.delete();
        throw error;
      } finally {
        for (const ct of [x, rotated, x2, c3x, c1x]) ct.delete();
      }
    },
    dispose() {
      for (const pt of plaintexts) pt.delete();
      relin.delete();
      galois.delete();
    },
  };
}

function parmsIdAt(ctx: ParameterContext, chainIndex: number) {
  let data = ctx.context.firstContextData();
  while (data.chainIndex() > chainIndex) {
    const next = data.nextContextData();
    data.delete();
    data = next;
  }
  const id = data.parmsId();
  data.delete();
  return id;
}

/** Client side of the reference: a key set, seeded encryption of a tuple, decryption of slot 0. */
export async function createReferenceClient(): Promise<{
  client: FheClient;
  evaluationKeys: Uint8Array;
  encrypt(x: readonly number[]): Uint8Array;
  decrypt(ct: Ciphertext): number;
  dispose(): void;
}> {
  const ctx = await parameterContext(REFERENCE_PARAM_SET_ID);
  const client = await FheClient.generate(REFERENCE_PARAM_SET_ID);
  const { secretKeyBytes } = await openSecretKey(await client.exportSecretKey("reference"), "reference");
  const { seal, context, encoder } = ctx;
  const secretKey = new seal.SecretKey();
  secretKey.loadFromArray(context, secretKeyBytes);
  secretKeyBytes.fill(0);
  const keygen = new seal.KeyGenerator(context, secretKey);
  const publicKey = keygen.createPublicKey();
  const encryptor = new seal.Encryptor(context, publicKey, secretKey);
  const decryptor = new seal.Decryptor(context, secretKey);
  publicKey.delete();
  const pt = new seal.Plaintext();
  return {
    client,
    evaluationKeys: client.evaluationKeys({ relinKeys: true, galoisSteps: REFERENCE_GALOIS_STEPS }),
    encrypt(x) {
      const slots = new Float64Array(ctx.set.polyModulusDegree / 2);
      slots.set(x);
      encoder.encode(slots, 2 ** ctx.set.inputScaleLog2, pt);
      const serializable = encryptor.encryptSymmetricSerializable(pt);
      try {
        return Uint8Array.from(serializable.saveToArray(seal.ComprModeType.zstd) as Uint8Array);
      } finally {
        serializable.delete();
      }
    },
    decrypt(ct) {
      decryptor.decrypt(ct, pt);
      return (encoder.decodeFloat64(pt) as Float64Array)[0] as number;
    },
    dispose() {
      pt.delete();
      encryptor.delete();
      decryptor.delete();
      keygen.delete();
      secretKey.delete();
      client.dispose();
    },
  };
}
