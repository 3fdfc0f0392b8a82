/**
 * The stack's two demo people, made the way the CLI makes them, so a visitor can import either
 * backup into the page and act at once:
 * - a clinician: wallet with ETH and PROVIDER_ROLE (granted at deployment), an X25519 key pair
 *   (patients share records to its public key, which config.json names);
 * - a patient: registered (CKKS key set generated here, evaluation keys on the gateway, hash
 *   on-chain), sponsored for predictions, one wearable bound, and a few days of its signed
 *   readings ingested as encrypted FHIR bundles.
 * Each gets an encrypted keystore backup in the CLI's format (sdk/keystore.ts), served by the
 * stack with its password in config.json: development accounts, never real ones.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";

import { hexlify, type Provider, type Wallet } from "ethers";

import { FheClient, type ModelArtifact } from "../../fhe/index.js";
import type { MedCipherAddresses } from "../../protocol/contracts.js";
import { bindDevice } from "../../sdk/actions/bindDevice.js";
import { ingestReadings } from "../../sdk/actions/ingestReadings.js";
import { registerDevice } from "../../sdk/actions/registerDevice.js";
import { registerPatient } from "../../sdk/actions/registerPatient.js";
import { createMedCipherClient } from "../../sdk/client.js";
import { generateEncryptionKeyPair } from "../../sdk/crypto/x25519.js";
import { heKeySetEntry, readKeystore, saveHeKeySet, writeKeystore, type KdfCost } from "../../sdk/keystore.js";
import { paramSetIdToBytes32 } from "../../sdk/predictions.js";
import { parseReadingsCsv } from "../../sdk/readings/csv.js";

/**
 * scrypt N = 2^15 (the CLI's default is 2^17): a page decrypts the backup with a pure-JS scrypt
 * in well under a second. The password is public in config.json anyway; the cost is in the file.
 */
export const DEMO_KDF: KdfCost = { N: 1 << 15, r: 8, p: 1 };
export const DEMO_PASSWORD = "medcipher-demo";
const HOUR_SECONDS = 3_600;

export type DemoAccount = {
  address: string;
  encryptionPublicKey: string;
  /** The keystore backup's bytes (JSON). */
  keystore: Uint8Array;
  password: string;
};

export type DemoPatient = DemoAccount & { device: string; readings: number; records: number; keysHash: string };

/** Writes the clinician's keystore (wallet key + X25519 pair); the wallet already holds ETH and PROVIDER_ROLE. */
export async function createDemoClinician(wallet: Wallet, dataDir: string): Promise<DemoAccount> {
  const encryptionKey = await generateEncryptionKeyPair();
  const file = join(dataDir, "clinician.keystore.json");
  await writeKeystore(file, wallet.address, {
    privateKey: wallet.privateKey,
    encryption: { publicKey: hexlify(encryptionKey.publicKey), privateKey: hexlify(encryptionKey.privateKey) },
  }, DEMO_PASSWORD, DEMO_KDF);
  return { address: wallet.address, encryptionPublicKey: hexlify(encryptionKey.publicKey), keystore: await readFile(file), password: DEMO_PASSWORD };
}

export type DemoPatientOptions = {
  /** A funded wallet on `provider`: becomes the patient. */
  wallet: Wallet;
  /** A funded wallet with DEVICE_VENDOR_ROLE; a funded `device` wallet is the wearable. */
  vendor: Wallet;
  device: Wallet;
  provider: Provider;
  addresses: MedCipherAddresses;
  gatewayUrl: string;
  /** The model whose parameter set the patient's key set is made for, and whose vitals the readings follow. */
  model: ModelArtifact;
  /** A row of the model's dataset: the vitals the readings drift towards. */
  vitals: Record<string, number>;
  days: number;
  dataDir: string;
};

export async function createDemoPatient(options: DemoPatientOptions): Promise<DemoPatient> {
  const { wallet, addresses, gatewayUrl } = options;
  const encryptionKey = await generateEncryptionKeyPair();
  const file = join(options.dataDir, "patient.keystore.json");
  await writeKeystore(file, wallet.address, {
    privateKey: wallet.privateKey,
    encryption: { publicKey: hexlify(encryptionKey.publicKey), privateKey: hexlify(encryptionKey.privateKey) },
  }, DEMO_PASSWORD, DEMO_KDF);

  const patient = await createMedCipherClient({ account: wallet, addresses, gatewayUrl, encryptionKey });
  const fhe = await FheClient.generate(options.model.paramSetId);
  let keysHash: string;
  try {
    const evaluationKeys = fhe.evaluationKeys();
    const keySet = await heKeySetEntry(fhe, evaluationKeys, DEMO_PASSWORD);
    ({ keysHash } = await registerPatient(patient, {
      encryptionPublicKey: encryptionKey.publicKey,
      evaluationKeys,
      paramSetId: paramSetIdToBytes32(options.model.paramSetId),
      saveKeySet: async () => { await saveHeKeySet(file, DEMO_PASSWORD, keySet); },
    }));
  } finally {
    fhe.dispose();
  }

  const vendor = await createMedCipherClient({ account: options.vendor, addresses, gatewayUrl });
  await registerDevice(vendor, { device: options.device.address });
  const now = (await options.provider.getBlock("latest"))!.timestamp;
  await bindDevice(patient, { device: options.device, expiresAt: now + 365 * 24 * HOUR_SECONDS });
  const device = await createMedCipherClient({ account: options.device, addresses, gatewayUrl });
  const { readings } = parseReadingsCsv(readingsCsv(options.vitals, now, options.days));
  const ingest = await ingestReadings(device, { patient: patient.address, readings, readingsPerRecord: 40 });
  // The record index travels in the backup (`extra.records`, as the app reads and exports it).
  const opened = await readKeystore(file, DEMO_PASSWORD);
  await writeKeystore(file, wallet.address, { ...opened.secrets, extra: { ...opened.secrets.extra, role: "patient", records: ingest.records } }, DEMO_PASSWORD, DEMO_KDF);
  return {
    address: wallet.address, encryptionPublicKey: hexlify(encryptionKey.publicKey), keystore: await readFile(file), password: DEMO_PASSWORD,
    device: options.device.address, readings: readings.length, records: ingest.records.length, keysHash,
  };
}

/**
 * Readings every two hours for `days` days up to `endSeconds`, of each vital the maternal model
 * uses, wobbling around the dataset row's values (a day-night swing and a little noise) so the
 * plots show a believable week rather than flat lines.
 */
export function readingsCsv(vitals: Record<string, number>, endSeconds: number, days: number): string {
  const lines = ["time,metric,value,unit"];
  const series: [metric: string, unit: string, value: number, decimals: number][] = [
    ["systolic_bp", "mm[Hg]", vitals.systolicBP!, 0],
    ["diastolic_bp", "mm[Hg]", vitals.diastolicBP!, 0],
    ["glucose", "mg/dL", vitals.bloodGlucose! * 18.016, 1],
    ["body_temperature", "Cel", ((vitals.bodyTemp! - 32) * 5) / 9, 2],
    ["heart_rate", "/min", vitals.heartRate!, 0],
  ];
  const steps = days * 12;
  for (let step = steps - 1; step >= 0; step--) {
    const time = endSeconds - step * 2 * HOUR_SECONDS;
    for (const [metric, unit, value, decimals] of series) {
      const swing = step === 0 ? 0 : (Math.sin((step / 12) * 2 * Math.PI) * 0.03 + Math.sin(step * 1.7 + metric.length) * 0.015) * value;
      lines.push(`${time},${metric},${(value + swing).toFixed(decimals)},${unit}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
