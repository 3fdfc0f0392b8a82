/**
 * A keystore in the browser's IndexedDB: each identity is stored as the encrypted keystore
 * document of ./format.ts (scrypt → AES-256-GCM under the user's passphrase), never as plaintext
 * key material. A backup is that document as text — the very file `medcipher --keystore` opens —
 * and a CLI keystore file imports as a backup.
 *
 * @example
 * const keystore = await openBrowserKeystore();
 * await keystore.save(wallet.address, { privateKey: wallet.privateKey, encryption }, passphrase);
 * const { secrets } = await keystore.load(wallet.address, passphrase);
 * const backup = await keystore.exportBackup(wallet.address);     // offer as a download
 * await keystore.importBackup(await file.text(), passphrase);      // a CLI keystore file too
 */
import { getAddress } from "ethers";

import { InvalidInputError, KeystoreError } from "../errors.js";
import {
  decryptKeystore, DEFAULT_KDF, encryptKeystore, parseKeystore, serializeKeystore, withHeKeySet, withoutHeKeySet,
  type HeKeySet, type KdfCost, type KeystoreJson, type KeystoreSecrets, type OpenedKeystore,
} from "./format.js";

export type StoredIdentity = { address: string; label?: string; savedAt: string };

export type BrowserKeystore = {
  /** Every identity stored, by address (no passphrase needed: nothing secret is read). */
  list(): Promise<StoredIdentity[]>;
  /** Encrypts and stores (replacing a stored identity with the same address). */
  save(address: string, secrets: KeystoreSecrets, passphrase: string, options?: { label?: string; kdf?: KdfCost }): Promise<void>;
  /** Decrypts a stored identity. `KeystoreError` on a wrong passphrase, `InvalidInputError` when none is stored. */
  load(address: string, passphrase: string): Promise<OpenedKeystore>;
  delete(address: string): Promise<{ deleted: boolean }>;
  /** The stored document as the CLI's keystore file text (still encrypted). */
  exportBackup(address: string): Promise<string>;
  /** Stores a backup (or CLI keystore file) after checking that `passphrase` opens it. */
  importBackup(text: string, passphrase: string, options?: { label?: string }): Promise<StoredIdentity>;
  /** Adds a CKKS key set (no-op when its keysHash is there), re-encrypted under the same passphrase and cost. */
  saveHeKeySet(address: string, passphrase: string, keySet: HeKeySet): Promise<{ saved: boolean }>;
  deleteHeKeySet(address: string, passphrase: string, keysHash: string): Promise<{ deleted: boolean }>;
  close(): void;
};

export type OpenBrowserKeystoreOptions = {
  /** IndexedDB database name (default "medcipher-keystore"). */
  name?: string;
  /** The IndexedDB factory (default `globalThis.indexedDB`). */
  indexedDB?: IDBFactory;
};

type StoredRecord = { id: string; label?: string; savedAt: string; keystore: KeystoreJson };

const STORE = "identities";

export async function openBrowserKeystore(options: OpenBrowserKeystoreOptions = {}): Promise<BrowserKeystore> {
  const factory = options.indexedDB ?? globalThis.indexedDB;
  if (!factory) throw new InvalidInputError("No IndexedDB here: the browser keystore needs a browser (in Node use the file keystore of sdk/node.ts).");
  const db = await openDatabase(factory, options.name ?? "medcipher-keystore");
  const get = async (address: string): Promise<StoredRecord> => {
    const record = await request<StoredRecord | undefined>(db.transaction(STORE).objectStore(STORE).get(idOf(address)));
    if (!record) throw new InvalidInputError(`No identity ${address} in this browser's keystore.`, { address });
    return record;
  };
  const put = async (record: StoredRecord) => {
    const transaction = db.transaction(STORE, "readwrite");
    transaction.objectStore(STORE).put(record);
    await completed(transaction);
  };
  const rewrite = async (address: string, passphrase: string, change: (secrets: KeystoreSecrets) => { secrets: KeystoreSecrets; changed: boolean }) => {
    const record = await get(address);
    const opened = await decryptKeystore(record.keystore, passphrase);
    const next = change(opened.secrets);
    if (next.changed) await put({ ...record, savedAt: new Date().toISOString(), keystore: await encryptKeystore(opened.address, next.secrets, passphrase, opened.kdf) });
    return next.changed;
  };
  return {
    async list() {
      const records = await request<StoredRecord[]>(db.transaction(STORE).objectStore(STORE).getAll());
      return records.map(({ keystore, label, savedAt }) => ({ address: keystore.address, ...(label === undefined ? {} : { label }), savedAt }));
    },
    async save(address, secrets, passphrase, saveOptions = {}) {
      const keystore = await encryptKeystore(getAddress(address), secrets, passphrase, saveOptions.kdf ?? DEFAULT_KDF);
      await put({ id: idOf(address), ...(saveOptions.label === undefined ? {} : { label: saveOptions.label }), savedAt: new Date().toISOString(), keystore });
    },
    async load(address, passphrase) {
      return decryptKeystore((await get(address)).keystore, passphrase);
    },
    async delete(address) {
      const transaction = db.transaction(STORE, "readwrite");
      const store = transaction.objectStore(STORE);
      const existing = await request<StoredRecord | undefined>(store.get(idOf(address)));
      if (existing) store.delete(idOf(address));
      await completed(transaction);
      return { deleted: existing !== undefined };
    },
    async exportBackup(address) {
      return serializeKeystore((await get(address)).keystore);
    },
    async importBackup(text, passphrase, importOptions = {}) {
      const keystore = parseKeystore(text, "backup file");
      // Opening it proves the passphrase and the file's integrity before anything is stored.
      await decryptKeystore(keystore, passphrase, "backup file");
      const record: StoredRecord = { id: idOf(keystore.address), ...(importOptions.label === undefined ? {} : { label: importOptions.label }), savedAt: new Date().toISOString(), keystore };
      await put(record);
      return { address: keystore.address, ...(record.label === undefined ? {} : { label: record.label }), savedAt: record.savedAt };
    },
    async saveHeKeySet(address, passphrase, keySet) {
      return { saved: await rewrite(address, passphrase, (secrets) => { const next = withHeKeySet(secrets, keySet); return { secrets: next.secrets, changed: next.added }; }) };
    },
    async deleteHeKeySet(address, passphrase, keysHash) {
      return { deleted: await rewrite(address, passphrase, (secrets) => { const next = withoutHeKeySet(secrets, keysHash); return { secrets: next.secrets, changed: next.removed }; }) };
    },
    close: () => db.close(),
  };
}

/** Addresses are keys case-insensitively (a checksummed and a lower-case spelling are one identity). */
function idOf(address: string): string {
  if (!/^0x[0-9a-fA-F]{40}$/.test(address)) throw new InvalidInputError(`Not an address: ${address}`, { address });
  return address.toLowerCase();
}

function openDatabase(factory: IDBFactory, name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const opening = factory.open(name, 1);
    opening.onupgradeneeded = () => opening.result.createObjectStore(STORE, { keyPath: "id" });
    opening.onsuccess = () => resolve(opening.result);
    opening.onerror = () => reject(new KeystoreError(`Cannot open the browser keystore (IndexedDB "${name}").`, opening.error));
    opening.onblocked = () => reject(new KeystoreError(`The browser keystore (IndexedDB "${name}") is held open by another tab at an older version.`));
  });
}

function request<T>(req: IDBRequest): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result as T);
    req.onerror = () => reject(new KeystoreError("Browser keystore (IndexedDB) request failed.", req.error));
  });
}

function completed(transaction: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(new KeystoreError("Browser keystore (IndexedDB) write failed.", transaction.error));
    transaction.onabort = () => reject(new KeystoreError("Browser keystore (IndexedDB) write was aborted.", transaction.error));
  });
}
