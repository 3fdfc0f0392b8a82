/// <reference types="vite/client" />
// The browser recipe of docs/sdk.md, built with Vite (docs/examples/vite.config.ts) and run as it
// stands in Chromium by test/browser/sdkRecipe.test.ts: a patient signs in with a browser wallet
// (EIP-1193) or with a key from their keystore backup, keeps their keys in the browser's
// IndexedDB keystore, makes a CKKS key set in the page, registers and grants consent.
import sealWasmUrl from "node-seal/dist/seal_throws.wasm?url";
import type { Eip1193Provider, Signer } from "ethers";
import {
  Category, connectBrowserWallet, connectJsonRpc, createMedCipherClient, FheClient, generateEncryptionKeyPair, grantConsent, heKeySetEntry,
  listConsents, openBrowserKeystore, paramSetIdToBytes32, Purpose, registerPatient, type KeystoreSecrets, type MedCipherAddresses,
} from "medcipher";

export type AppConfig = { rpcUrl: string; addresses: MedCipherAddresses; gatewayUrl: string; modelBaseUrl: string };

/** How the patient signs in: their wallet (`window.ethereum`), or a keystore backup file (e.g. from `medcipher keys new`). */
export type SignIn = { ethereum: Eip1193Provider } | { backupFile: string };

export async function onboardPatient(config: AppConfig, signIn: SignIn, passphrase: string, clinician: string) {
  const keystore = await openBrowserKeystore();

  // The account: the wallet's signer, or a Wallet on a JSON-RPC provider that caches no nonce.
  let account: Signer;
  let secrets: KeystoreSecrets;
  if ("ethereum" in signIn) {
    account = await connectBrowserWallet(signIn.ethereum);
    secrets = {}; // the wallet keeps the Ethereum key; the keystore keeps the rest
  } else {
    const { address } = await keystore.importBackup(signIn.backupFile, passphrase);
    ({ secrets } = await keystore.load(address, passphrase));
    account = connectJsonRpc(config.rpcUrl, secrets.privateKey!);
  }
  const address = await account.getAddress();

  // Keys made in the page: X25519 for records, a CKKS key set for predictions (SEAL's wasm via Vite's ?url).
  const encryptionKey = await generateEncryptionKeyPair();
  const toHex = (bytes: Uint8Array) => `0x${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  secrets = { ...secrets, encryption: { publicKey: toHex(encryptionKey.publicKey), privateKey: toHex(encryptionKey.privateKey) } };
  await keystore.save(address, secrets, passphrase);

  const patient = await createMedCipherClient({
    account, addresses: config.addresses, gatewayUrl: config.gatewayUrl, encryptionKey,
    sealWasmUrl, models: { modelBaseUrl: config.modelBaseUrl },
  });
  const fhe = await FheClient.generate("ckks-2048-v1");
  const evaluationKeys = fhe.evaluationKeys();
  const { keysHash } = await registerPatient(patient, {
    encryptionPublicKey: encryptionKey.publicKey,
    evaluationKeys,
    paramSetId: paramSetIdToBytes32(fhe.paramSetId),
    // In IndexedDB (encrypted under the passphrase) before anything is sent.
    saveKeySet: async () => { await keystore.saveHeKeySet(address, passphrase, await heKeySetEntry(fhe, evaluationKeys, passphrase)); },
  });

  const validUntil = Math.floor(Date.now() / 1000) + 7 * 24 * 3600;
  await grantConsent(patient, { grantee: clinician, purpose: Purpose.TREAT, categories: [Category.VITAL_SIGNS], validUntil });
  const consents = await listConsents(patient);

  // The backup to offer as a download: the CLI's keystore file format, still encrypted.
  const backup = await keystore.exportBackup(address);
  fhe.dispose();
  patient.gateway?.close();
  keystore.close();
  return { address, keysHash, consents: consents.map((c) => ({ grantee: c.grantee, active: c.active })), backup };
}
