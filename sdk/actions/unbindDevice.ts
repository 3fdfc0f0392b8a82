import { getAddress } from "ethers";

import { sendTransaction } from "../chain/send.js";
import type { MedCipherClient } from "../client.js";

export type UnbindDeviceParameters = { device: string };
export type UnbindDeviceReturnType = { transactionHash: string };

/**
 * Ends a device binding (sent by the patient or by the device itself). The gateway refuses the
 * device's writes from the next block on.
 *
 * @example
 * await unbindDevice(patientClient, { device: "0x…" });
 */
export async function unbindDevice(client: MedCipherClient, parameters: UnbindDeviceParameters): Promise<UnbindDeviceReturnType> {
  const receipt = await sendTransaction("unbindDevice", () => client.contracts.identity.unbindDevice(getAddress(parameters.device)));
  return { transactionHash: receipt.hash };
}
