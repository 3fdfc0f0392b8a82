import { getAddress } from "ethers";

import { chainNow, SIGNATURE_LIFETIME_SECONDS } from "../chain/time.js";
import { sendTransaction } from "../chain/send.js";
import { mlDsaPublicKeyHash } from "../../core/crypto/mldsa.js";
import { BIND_DEVICE_PQ_TYPES, medCipherDomain } from "../../protocol/typedData.js";
import type { MedCipherClient } from "../client.js";
import type { BindDeviceParameters } from "./bindDevice.js";

export type BindDevicePqParameters = BindDeviceParameters & {
  /** The device's raw ML-DSA-65 public key (1952 bytes); the binding commits to its keccak256. */
  pqPublicKey: Uint8Array;
};

export type BindDevicePqReturnType = { device: string; pqKeyHash: string; transactionHash: string };

export { BIND_DEVICE_PQ_TYPES };

/**
 * `bindDevice` for a post-quantum device: the device ECDSA-signs EIP-712 `BindDevicePq`, which
 * names keccak256 of its ML-DSA-65 public key, and the patient sends it. From then on the gateway
 * refuses a record from this device unless it carries an ML-DSA signature by that key
 * (protocol/signedRecord.ts), and readers check each record's key against
 * `pqKeyBoundSince(device, patient, pqKeyHash)`.
 *
 * @example
 * const pq = await generateMlDsaKeyPair(); // keep pq.seed in the device's keystore
 * await bindDevicePq(patientClient, { device: deviceWallet, expiresAt: now + 365 * 86400, pqPublicKey: pq.publicKey });
 */
export async function bindDevicePq(client: MedCipherClient, parameters: BindDevicePqParameters): Promise<BindDevicePqReturnType> {
  const device = getAddress(await parameters.device.getAddress());
  const pqKeyHash = mlDsaPublicKeyHash(parameters.pqPublicKey);
  const deadline = parameters.deadline ?? (await chainNow(client.provider)) + SIGNATURE_LIFETIME_SECONDS;
  const info = await client.contracts.identity.deviceOf(device);
  const signature = await parameters.device.signTypedData(
    medCipherDomain("IdentityRegistry", client.chainId, client.addresses.IdentityRegistry),
    BIND_DEVICE_PQ_TYPES,
    { device, patient: client.address, expiresAt: parameters.expiresAt, pqKeyHash, nonce: info.bindNonce, deadline },
  );
  const receipt = await sendTransaction("bindDevicePq", () =>
    client.contracts.identity.bindDevicePq(device, parameters.expiresAt, pqKeyHash, deadline, signature));
  return { device, pqKeyHash, transactionHash: receipt.hash };
}
