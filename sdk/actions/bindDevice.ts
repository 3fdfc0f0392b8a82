import { getAddress, type Signer } from "ethers";

import { chainNow, SIGNATURE_LIFETIME_SECONDS } from "../chain/time.js";
import { sendTransaction } from "../chain/send.js";
import { BIND_DEVICE_TYPES, medCipherDomain } from "../../protocol/typedData.js";
import type { MedCipherClient } from "../client.js";

export type BindDeviceParameters = {
  /** The device's own key: it signs the binding (proof of possession). */
  device: Pick<Signer, "getAddress" | "signTypedData">;
  /** Unix seconds after which the binding lapses. */
  expiresAt: number;
  /** Unix seconds after which the device's signature is void (default: 1 hour from now). */
  deadline?: number;
};

export type BindDeviceReturnType = { device: string; transactionHash: string };

/** Defined in chain/typedData.ts with the other contract messages; still exported here for callers of this file. */
export { BIND_DEVICE_TYPES };

/**
 * Binds a registered device to the client's patient account: the device signs EIP-712
 * `BindDevice`, the patient sends it.
 *
 * @example
 * await bindDevice(patientClient, { device: deviceWallet, expiresAt: now + 365 * 86400 });
 */
export async function bindDevice(client: MedCipherClient, parameters: BindDeviceParameters): Promise<BindDeviceReturnType> {
  const device = getAddress(await parameters.device.getAddress());
  const deadline = parameters.deadline ?? (await chainNow(client.provider)) + SIGNATURE_LIFETIME_SECONDS;
  const info = await client.contracts.identity.deviceOf(device);
  const signature = await parameters.device.signTypedData(
    medCipherDomain("IdentityRegistry", client.chainId, client.addresses.IdentityRegistry),
    BIND_DEVICE_TYPES,
    { device, patient: client.address, expiresAt: parameters.expiresAt, nonce: info.bindNonce, deadline },
  );
  const receipt = await sendTransaction("bindDevice", () => client.contracts.identity.bindDevice(device, parameters.expiresAt, deadline, signature));
  return { device, transactionHash: receipt.hash };
}
