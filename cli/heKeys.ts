/**
 * Which of an identity's CKKS key sets to use: the one the chain names (predict), or the one a
 * request was made under (result). Keystores written before `heKeySets` hold a lone heSecretKey.
 */
import { ZeroHash } from "ethers";

import type { FheClient } from "../fhe/index.js";
import type { MedCipherClient } from "../sdk/client.js";
import { KeystoreError } from "../sdk/errors.js";
import { heKeySetsOf } from "../sdk/keystore.js";
import type { Identity } from "./context.js";

/** The key set `keysHash` from the identity's keystore, loaded (dispose it after use). */
export async function fheForKeySet(identity: Identity, pass: string, keysHash: string): Promise<FheClient> {
  const keySets = heKeySetsOf(identity.secrets);
  const entry = keySets.find((k) => k.keysHash === keysHash.toLowerCase());
  let exported: string | undefined = entry?.secretKey;
  if (!exported && keySets.length === 0) exported = identity.secrets.heSecretKey;
  if (!exported) {
    throw new KeystoreError(keysHash === ZeroHash
      ? "This identity is not a registered patient: run `medcipher patient register` first."
      : `This keystore holds no secret key for the key set ${keysHash}: if the patient is registered with keys this keystore never saved, replace them with \`medcipher patient rotate-keys\`.`);
  }
  const { FheClient } = await import("../fhe/index.js");
  return FheClient.importSecretKey(new Uint8Array(Buffer.from(exported, "base64")), pass);
}

/** The key set the chain currently names for the client's account. */
export async function currentKeysHash(client: MedCipherClient): Promise<string> {
  const [keysHash] = await client.contracts.identity.keySetOf(client.address);
  return keysHash.toLowerCase();
}

/** The key set a prediction request was made under (its PredictionRequested event). */
export async function requestKeysHash(client: MedCipherClient, requestId: string): Promise<string | undefined> {
  const router = client.contracts.router;
  const [log] = await router.queryFilter(router.filters.PredictionRequested(requestId));
  return log?.args.keysHash.toLowerCase();
}
