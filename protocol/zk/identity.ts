/**
 * Semaphore identities. A patient's is derived from the patient's own signing key, so it is never
 * one more secret to back up: a patient who restores the keystore on a new device gets the same
 * commitment back, and with it the nullifiers of the epochs already spent (a fresh random identity
 * would also need `replacePatientCommitment`, and would reset nothing: the rate limit is per
 * identity, and the patients' group holds one commitment per patient).
 *
 * The derivation is per deployment (chain id and PrivacyGroups address) and per generation:
 * a rotated identity (`replacePatientCommitment`) is generation + 1.
 *
 * Researchers (members of consent groups) get fresh random identities: the group admin adds the
 * commitment they hand over, and nothing ties it to their address.
 */
import { Identity } from "@semaphore-protocol/identity";
import { AbiCoder, getAddress } from "ethers";

import { deriveSecret } from "../../core/crypto/derive.js";
import { hexToBytes } from "../../core/hex.js";

export { Identity };

export const PATIENT_IDENTITY_LABEL = "medcipher.semaphore-identity.v1";

export type PatientIdentityContext = {
  chainId: bigint | number;
  /** The PrivacyGroups contract whose patients' group the identity joins. */
  privacyGroups: string;
  /** 0 for the first identity, +1 for each replacement. */
  generation?: number;
};

/**
 * The patient's Semaphore identity from `rootSecret`: a 32-byte secret the patient's keystore holds
 * for good — the signing key when the keystore holds it, else (a browser wallet, whose key the app
 * never sees) the keystore's X25519 encryption private key. Deterministic: same secret and
 * context, same identity. Use the same root for deriveRevocationSecret (protocol/privateConsent.ts).
 *
 * @example
 * const identity = derivePatientIdentity(getBytes(wallet.privateKey), { chainId, privacyGroups });
 * await privacyGroups.joinPatientGroup(identity.commitment);
 */
export function derivePatientIdentity(rootSecret: Uint8Array, context: PatientIdentityContext): Identity {
  const generation = context.generation ?? 0;
  if (!Number.isInteger(generation) || generation < 0 || generation > 0xffffffff) throw new RangeError(`generation must be a uint32, not ${generation}.`);
  const info = AbiCoder.defaultAbiCoder().encode(["uint256", "address", "uint32"], [context.chainId, getAddress(context.privacyGroups), generation]);
  // Identity hashes its private key (EdDSA-Poseidon: BLAKE-512, then clamped) into the secret scalar.
  return new Identity(deriveSecret(rootSecret, PATIENT_IDENTITY_LABEL, hexToBytes(info)));
}

/** A fresh random identity (researchers). Keep `identity.export()` (base64) and restore with `Identity.import`. */
export function randomIdentity(): Identity {
  return new Identity();
}

