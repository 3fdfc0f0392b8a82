/**
 * Who is using the app: an identity's secrets (Ethereum key, X25519 key pair, CKKS key sets),
 * unlocked with its password from the browser keystore, and the signer that acts for it.
 * The password stays in memory while the identity is unlocked (as a wallet extension keeps its
 * vault key) so that a new key set can be saved without asking again; nothing secret is written
 * anywhere but the encrypted keystore.
 */
import {
  createPatientIdentity, FheClient, heKeySetEntry, heKeySetsOf,
  type EncryptionKeyPair, type HeKeySet, type KeystoreSecrets,
} from "medcipher";
import { decodeBase64, getAddress, getBytes, hexlify, Wallet } from "ethers";

import { AppError } from "./errors.js";
import { keystore } from "./keystore.js";
import { prepareSeal } from "./seal.js";

export type Role = "patient" | "clinician";

/** CKKS parameters of every model the stack registers today (fhe/ ckks-2048-v1). */
export const DEFAULT_PARAM_SET = "ckks-2048-v1";

export type Identity = {
  address: string;
  role: Role;
  /** The account's key; absent when a browser wallet (window.ethereum) holds it. */
  wallet?: Wallet;
  encryptionKey: EncryptionKeyPair;
  secrets: KeystoreSecrets;
  password: string;
  /** CKKS key sets restored in this page, by keysHash (restoring costs a scrypt and a SEAL load). */
  fheCache: Map<string, FheClient>;
};

export function keySetsOf(identity: Identity): HeKeySet[] {
  return heKeySetsOf(identity.secrets);
}

function encryptionKeyOf(secrets: KeystoreSecrets): EncryptionKeyPair {
  if (!secrets.encryption) throw new AppError("APP_WRONG_BACKUP", "This backup has no encryption key pair: it is not a MedCipher patient or clinician identity.");
  return { publicKey: getBytes(secrets.encryption.publicKey), privateKey: getBytes(secrets.encryption.privateKey) };
}

function roleOf(secrets: KeystoreSecrets, fallback: Role): Role {
  const role = secrets.extra?.role;
  return role === "patient" || role === "clinician" ? role : fallback;
}

function fromSecrets(address: string, secrets: KeystoreSecrets, password: string, fallbackRole: Role): Identity {
  return {
    address,
    role: roleOf(secrets, fallbackRole),
    wallet: secrets.privateKey ? new Wallet(secrets.privateKey) : undefined,
    encryptionKey: encryptionKeyOf(secrets),
    secrets,
    password,
    fheCache: new Map(),
  };
}

export type CreateIdentityOptions = {
  role: Role;
  password: string;
  label?: string;
  /** A browser wallet's account (window.ethereum): it keeps its own key, the page makes only the X25519 and CKKS keys. */
  walletAddress?: string;
  onStep?: (label: string) => void;
};

/**
 * Fresh keys made in this page: a wallet, an X25519 pair and, for a patient, a CKKS key set
 * (its evaluation keys drawn once here: their hash is what registration commits to). All of it
 * is in the encrypted keystore before this returns.
 */
export async function createIdentity(options: CreateIdentityOptions): Promise<Identity> {
  const step = options.onStep ?? (() => undefined);
  if (options.password.length < 8) throw new AppError("APP_WEAK_PASSWORD", "Choose a password of at least 8 characters.");
  if (options.role === "patient") {
    step("Loading the encryption engine (SEAL WebAssembly)");
    prepareSeal();
  }
  step(options.role === "patient" ? "Generating your encryption key pair and CKKS key set" + (options.walletAddress ? "" : ", and a wallet") : "Generating your encryption key pair" + (options.walletAddress ? "" : " and a wallet"));
  const made = await createPatientIdentity(options.role === "patient" ? { paramSetId: DEFAULT_PARAM_SET } : {});
  const address = options.walletAddress ? getAddress(options.walletAddress) : made.wallet.address;
  const secrets: KeystoreSecrets = {
    // Empty for a browser wallet's account: its key never comes into the page.
    privateKey: options.walletAddress ? "" : made.wallet.privateKey,
    encryption: { publicKey: hexlify(made.encryptionKey.publicKey), privateKey: hexlify(made.encryptionKey.privateKey) },
    extra: { role: options.role },
  };
  const fheCache = new Map<string, FheClient>();
  if (made.fhe) {
    step("Encrypting the CKKS secret key under your password");
    const keySet = await heKeySetEntry(made.fhe, made.fhe.evaluationKeys(), options.password);
    secrets.heKeySets = [keySet];
    secrets.heSecretKey = keySet.secretKey;
    fheCache.set(keySet.keysHash, made.fhe);
  }
  step("Saving the encrypted keys in this browser (IndexedDB)");
  await (await keystore()).save(address, secrets, options.password, { label: options.label ?? options.role });
  return { ...fromSecrets(address, secrets, options.password, options.role), fheCache };
}

export async function unlockIdentity(address: string, password: string, fallbackRole: Role): Promise<Identity> {
  const opened = await (await keystore()).load(address, password);
  return fromSecrets(opened.address, opened.secrets, password, fallbackRole);
}

/** A backup file (this app's export or a CLI keystore): stored in this browser, then unlocked. */
export async function importBackup(text: string, password: string, role: Role): Promise<Identity> {
  const stored = await (await keystore()).importBackup(text, password, { label: role });
  return unlockIdentity(stored.address, password, role);
}

/** A further CKKS key set, saved before anything about it leaves the page (the first step of a key rotation). */
export async function addKeySet(identity: Identity): Promise<HeKeySet> {
  prepareSeal();
  const fhe = await FheClient.generate(DEFAULT_PARAM_SET);
  const keySet = await heKeySetEntry(fhe, fhe.evaluationKeys(), identity.password);
  await (await keystore()).saveHeKeySet(identity.address, identity.password, keySet);
  identity.secrets = { ...identity.secrets, heKeySets: [...keySetsOf(identity), keySet], heSecretKey: keySet.secretKey };
  identity.fheCache.set(keySet.keysHash, fhe);
  return keySet;
}

/** The CKKS client of one of the identity's key sets (restored from the keystore on first use). */
export async function fheFor(identity: Identity, keysHash: string): Promise<FheClient> {
  const cached = identity.fheCache.get(keysHash);
  if (cached) return cached;
  const keySet = keySetsOf(identity).find((k) => k.keysHash.toLowerCase() === keysHash.toLowerCase());
  if (!keySet) throw new AppError("APP_NO_KEY_SET", `No key set ${keysHash} on this device.`, { keysHash });
  prepareSeal();
  const fhe = await FheClient.importSecretKey(decodeBase64(keySet.secretKey), identity.password);
  identity.fheCache.set(keysHash, fhe);
  return fhe;
}

/** The exact evaluation-keys blob of a key set (the bytes its keysHash is the SHA-256 of). */
export function evaluationKeysOf(keySet: HeKeySet): Uint8Array {
  return decodeBase64(keySet.evaluationKeys);
}
