/**
 * Device-side signing of readings: the wearable signs each reading (EIP-712) with its own key, the
 * one bound to the patient on-chain, so a reading can be traced to the device that produced it.
 */
import { verifyTypedData, type Signer } from "ethers";

import type { Reading } from "../fhir/observations.js";

export const READING_TYPES = {
  Reading: [
    { name: "patient", type: "address" },
    { name: "metric", type: "string" },
    { name: "value", type: "string" },
    { name: "time", type: "uint64" },
  ],
};

export function readingDomain(chainId: number | bigint) {
  return { name: "MedCipher Device", version: "1", chainId };
}

function message(reading: Reading, patient: string) {
  return { patient, metric: reading.metric, value: String(reading.value), time: Math.floor(Date.parse(reading.time) / 1000) };
}

/** Returns the readings with `deviceSignature` set. */
export async function signReadings(device: Pick<Signer, "signTypedData">, patient: string, chainId: number | bigint, readings: readonly Reading[]): Promise<Reading[]> {
  const domain = readingDomain(chainId);
  const signed: Reading[] = [];
  for (const reading of readings) {
    signed.push({ ...reading, deviceSignature: await device.signTypedData(domain, READING_TYPES, message(reading, patient)) });
  }
  return signed;
}

/** The device that signed `reading`, or undefined when it carries no valid signature. */
export function recoverReadingSigner(reading: Reading, patient: string, chainId: number | bigint): string | undefined {
  if (!reading.deviceSignature) return undefined;
  try {
    return verifyTypedData(readingDomain(chainId), READING_TYPES, message(reading, patient), reading.deviceSignature);
  } catch {
    return undefined;
  }
}
