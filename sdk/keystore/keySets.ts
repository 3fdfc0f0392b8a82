/** Building a keystore entry for a CKKS key set (kept apart from format.ts, which needs no hashing). */
import { encodeBase64 } from "ethers";

import { sha256Hex } from "../../core/hash.js";
import type { HeKeySet } from "./format.js";

/**
 * The keystore entry for a freshly generated key set: the secret key exported under the keystore
 * password, with the exact evaluation-keys blob that will be published.
 */
export async function heKeySetEntry(fhe: { readonly paramSetId: string; exportSecretKey(passphrase: string): Promise<Uint8Array> }, evaluationKeys: Uint8Array, password: string): Promise<HeKeySet> {
  return {
    keysHash: sha256Hex(evaluationKeys),
    paramSet: fhe.paramSetId,
    secretKey: encodeBase64(await fhe.exportSecretKey(password)),
    evaluationKeys: encodeBase64(evaluationKeys),
    createdAt: new Date().toISOString(),
  };
}
