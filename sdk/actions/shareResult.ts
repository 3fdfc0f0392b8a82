import { getAddress } from "ethers";

import type { Sha256Hex } from "../../core/hash.js";
import type { FheClient, Prediction } from "../../fhe/index.js";
import { requireEncryptionKey, requireGateway, type MedCipherClient } from "../client.js";
import { Category } from "../../protocol/codes.js";
import { sealBox } from "../crypto/sealedBox.js";
import { resolveEncryptionKey } from "./resolveEncryptionKey.js";
import { resolveRegisteredModel, type ModelSources } from "../predictions.js";
import { floodingKey, floodingNoise, floodingSigma } from "../results/release.js";
import { getPredictionResult } from "./getPredictionResult.js";

export type ShareResultParameters = {
  requestId: string;
  /** The patient's CKKS key set and its keysHash (as for getPredictionResult). */
  fhe: Pick<FheClient, "decrypt">;
  keysHash: string;
  grantee: string;
  /** The grantee's public key (32-byte X25519 or 1216-byte hybrid). Default `resolveEncryptionKey`: its published hybrid key, else its registered X25519 key. */
  granteeEncryptionKey?: Uint8Array;
  models?: ModelSources;
};

/** What the grantee receives: the released predictions and how they were released. */
export type SharedResult = {
  v: 1;
  kind: "prediction";
  grantee: string;
  requestId: string;
  modelId: number;
  resultHash: string;
  predictions: Prediction[];
  /** Scores flooded with N(0, floodSigma²) and rounded to scoreDecimals (sdk/results/release.ts). */
  release: { scheme: "gaussian-flooding-v1"; scoreDecimals: number; floodSigma: number };
};

export type ShareResultReturnType = { shareId: Sha256Hex; shared: SharedResult };

/**
 * The one way a decrypted prediction leaves the patient's client: decrypted here, each score
 * flooded with Gaussian noise of one unit of the model's stated precision and rounded to it
 * (IND-CPA-D hygiene, docs/fhe.md), sealed to the grantee's key (hybrid when it published one) (sdk/crypto/sealedBox.ts)
 * and stored on the gateway as the patient's PREDICTION blob. The grantee reads it with
 * readSharedResult under live consent for PREDICTION. Sharing the same result again releases the
 * same noisy values (the noise is derived from the patient's key and the result).
 *
 * @example
 * const { shareId } = await shareResult(patientClient, { requestId, fhe, keysHash, grantee: clinician });
 */
export async function shareResult(client: MedCipherClient, parameters: ShareResultParameters): Promise<ShareResultReturnType> {
  const gateway = requireGateway(client);
  const grantee = getAddress(parameters.grantee);
  const granteeKey = parameters.granteeEncryptionKey ?? (await resolveEncryptionKey(client, grantee));
  const request = await client.contracts.router.getRequest(parameters.requestId);
  const models = parameters.models ?? client.models;
  const { artifact } = await resolveRegisteredModel(client, Number(request.modelId), models);
  const floodSigma = floodingSigma(artifact.output);
  const key = floodingKey(requireEncryptionKey(client).privateKey);
  let result;
  try {
    result = await getPredictionResult(client, { ...parameters, models, noise: floodingNoise(key, request.resultHash, floodSigma) });
  } finally {
    key.fill(0);
  }
  const shared: SharedResult = {
    v: 1,
    kind: "prediction",
    grantee,
    requestId: result.requestId,
    modelId: result.modelId,
    resultHash: result.resultHash,
    predictions: result.predictions,
    release: { scheme: "gaussian-flooding-v1", scoreDecimals: artifact.output.scoreDecimals, floodSigma },
  };
  const shareId = await gateway.put(await sealBox(new TextEncoder().encode(JSON.stringify(shared)), granteeKey), {
    owner: client.address,
    kind: "other",
    category: Category.PREDICTION,
  });
  return { shareId, shared };
}
