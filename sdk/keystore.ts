/**
 * The Node keystore API in one import, as the CLI and the tests have always used it: the
 * browser-safe format (./keystore/format.ts), keystore files (./keystore/file.ts) and key-set
 * entries. Browsers use ./keystore/browser.ts (IndexedDB) with the same format.
 */
export {
  DEFAULT_KDF, encryptKeystore, decryptKeystore, parseKeystore, serializeKeystore, heKeySetsOf, withHeKeySet, withoutHeKeySet,
  type HeKeySet, type KdfCost, type KeystoreJson, type KeystoreSecrets, type OpenedKeystore, type PqSigningKey,
} from "./keystore/format.js";
export { heKeySetEntry } from "./keystore/keySets.js";
export { writeKeystore, readKeystore, keystoreAddress, saveHeKeySet, deleteHeKeySet, saveAnonymousRequest, savePqSigningKey, saveHybridEncryptionKey } from "./keystore/file.js";
export { pqSigningKeyEntry, pqSignerOf, withPqSigningKey } from "./keystore/pqSigningKey.js";
export { hybridEncryptionEntry, recipientKeyFromSecrets, withHybridEncryptionKey, x25519PairFromSecrets } from "./keystore/hybridEncryptionKey.js";
