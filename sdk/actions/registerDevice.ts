import { getAddress, ZeroHash } from "ethers";

import { sendTransaction } from "../chain/send.js";
import type { MedCipherClient } from "../client.js";

export type RegisterDeviceParameters = { device: string; modelHash?: string };
export type RegisterDeviceReturnType = { transactionHash: string };

/**
 * Registers a device's address (sent by a DEVICE_VENDOR_ROLE holder), so a patient can bind it.
 *
 * @example
 * await registerDevice(vendorClient, { device: deviceWallet.address });
 */
export async function registerDevice(client: MedCipherClient, parameters: RegisterDeviceParameters): Promise<RegisterDeviceReturnType> {
  const receipt = await sendTransaction("registerDevice", () =>
    client.contracts.identity.registerDevice(getAddress(parameters.device), parameters.modelHash ?? ZeroHash));
  return { transactionHash: receipt.hash };
}
