/**
 * The MedCipher SDK: one action per file (sdk/actions/), `action(client, parameters)`.
 * Import from here, or from the action's own file to keep bundles small.
 */
export { createMedCipherClient, connectGateway, type MedCipherClient, type CreateMedCipherClientParameters } from "./client.js";
export { createGatewayClient, type GatewayClient, type GatewayClientOptions, type GatewaySigner } from "./gateway/client.js";
export { createFetchTransport, type GatewayHttpRequest, type GatewayHttpResponse, type GatewayTransport } from "./gateway/transport.js";
export { connectContracts, type MedCipherAddresses, type MedCipherContracts } from "../protocol/contracts.js";
export {
  Category, Purpose, RequestStatus, PredictionCodes, EntryKind,
  parseCategory, parsePurpose, categoryName, purposeName, categoryBit, scopeOf,
  PURPOSE_OF_USE_SYSTEM, MEDCIPHER_PURPOSE_SYSTEM, purposeCodings, purposeFromCodings, type PurposeCoding,
} from "../protocol/codes.js";
export {
  medCipherDomain, DOMAIN_NAMES, BIND_DEVICE_TYPES, GRANT_CONSENT_TYPES, REVOKE_CONSENT_TYPES, ANCHOR_RECORD_TYPES, ANCHOR_BATCH_TYPES,
  type SigningContract,
} from "../protocol/typedData.js";
export * from "./errors.js";

export { createPatientIdentity, type CreatePatientIdentityParameters, type CreatePatientIdentityReturnType } from "./actions/createPatientIdentity.js";
export { registerPatient, type RegisterPatientParameters, type RegisterPatientReturnType, type OnboardingStep, type KeySetToSave } from "./actions/registerPatient.js";
export { rotateKeySet, type RotateKeySetParameters, type RotateKeySetReturnType } from "./actions/rotateKeySet.js";
export { registerDevice, type RegisterDeviceParameters, type RegisterDeviceReturnType } from "./actions/registerDevice.js";
export { bindDevice, type BindDeviceParameters, type BindDeviceReturnType } from "./actions/bindDevice.js";
export { unbindDevice, type UnbindDeviceParameters, type UnbindDeviceReturnType } from "./actions/unbindDevice.js";
export { bindDevicePq, BIND_DEVICE_PQ_TYPES, type BindDevicePqParameters, type BindDevicePqReturnType } from "./actions/bindDevicePq.js";
export {
  verifyRecordSignature, RECORD_SIGNATURE_CLOCK_SKEW_SECONDS,
  type VerifyRecordSignatureParameters, type VerifyRecordSignatureReturnType, type DeviceRecordSignature,
} from "./actions/verifyRecordSignature.js";
export * from "./crypto/mldsa.js";
export { pqSigningKeyEntry, pqSignerOf, withPqSigningKey } from "./keystore/pqSigningKey.js";
export { hybridEncryptionEntry, recipientKeyFromSecrets, withHybridEncryptionKey, x25519PairFromSecrets } from "./keystore/hybridEncryptionKey.js";
export { storeRecord, type StoreRecordParameters, type StoreRecordReturnType } from "./actions/storeRecord.js";
export { ingestReadings, type IngestReadingsParameters, type IngestReadingsReturnType } from "./actions/ingestReadings.js";
export { grantConsent, type GrantConsentParameters, type GrantConsentReturnType } from "./actions/grantConsent.js";
export { revokeConsent, type RevokeConsentParameters, type RevokeConsentReturnType } from "./actions/revokeConsent.js";
export { signConsentGrant, type SignConsentGrantParameters, type SignConsentGrantReturnType, type SignedConsentGrant } from "./actions/signConsentGrant.js";
export { signConsentRevocation, type SignConsentRevocationParameters, type SignConsentRevocationReturnType, type SignedConsentRevocation } from "./actions/signConsentRevocation.js";
export { listConsents, type ListConsentsParameters, type ListConsentsReturnType, type ConsentGrant } from "./actions/listConsents.js";
export { shareRecord, sealRecordShare, type ShareRecordParameters, type ShareRecordReturnType, type RecordShare, type RecordShareInput } from "./actions/shareRecord.js";
export { readRecord, type ReadRecordParameters, type ReadRecordReturnType } from "./actions/readRecord.js";
export { readSharedRecord, type ReadSharedRecordParameters, type ReadSharedRecordReturnType } from "./actions/readSharedRecord.js";
export { liveGrantees, type LiveGranteesParameters, type LiveGranteesReturnType, type LiveGrantee } from "./actions/liveGrantees.js";
export {
  delegateRecordKey, delegateRecordKeys, registeredEncryptionKey, NO_ENCRYPTION_KEY,
  type DelegateRecordKeyParameters, type DelegateRecordKeyReturnType, type DelegateRecordKeysParameters, type DelegationOptions, type DelegationReport,
  type EncryptionKeyResolver, type SkippedGrantee,
} from "./actions/delegateRecordKey.js";
export {
  readDelegatedRecords, type ReadDelegatedRecordsParameters, type ReadDelegatedRecordsReturnType, type DelegatedRecord, type RejectedShare,
} from "./actions/readDelegatedRecords.js";
export { verifyRecord, type VerifyRecordParameters, type VerifyRecordReturnType } from "./actions/verifyRecord.js";
export { requestPrediction, type RequestPredictionParameters, type RequestPredictionReturnType } from "./actions/requestPrediction.js";
export { waitForPrediction, type WaitForPredictionParameters, type WaitForPredictionReturnType } from "./actions/waitForPrediction.js";
export { getPredictionResult, type GetPredictionResultParameters, type GetPredictionResultReturnType } from "./actions/getPredictionResult.js";
export { shareResult, type ShareResultParameters, type ShareResultReturnType, type SharedResult } from "./actions/shareResult.js";
export { readSharedResult, type ReadSharedResultParameters, type ReadSharedResultReturnType } from "./actions/readSharedResult.js";
export { getAuditTrail, type GetAuditTrailParameters, type GetAuditTrailReturnType } from "./actions/getAuditTrail.js";
export type { RecordRef, OnProgress } from "./actions/types.js";

export {
  sealRecord, openRecord, openRecordAsPatient, wrapDataKey, wrapDataKeyHybrid, unwrapDataKey, CLASSIC_WRAP_ALG, HYBRID_WRAP_ALG,
  type WrappedKey, type ClassicWrappedKey, type HybridWrappedKey,
} from "./crypto/envelope.js";
export { sealBox, openBox, isSealedBox } from "./crypto/sealedBox.js";
export { generateEncryptionKeyPair, type EncryptionKeyPair } from "./crypto/x25519.js";
export {
  generateHybridKeyPair, hybridPublicKey, hybridPublicKeyHash, splitHybridPublicKey, isHybridKeyPair, HYBRID_PUBLIC_KEY_BYTES,
  type HybridKeyPair, type RecipientKeyPair,
} from "./crypto/hybrid.js";
export { generateMlKemKeyPair, mlKemKeyPairFromSeed, mlKemAvailable, MlKemKeyError, MlKemUnavailableError, ML_KEM_768, type MlKemKeyPair } from "./crypto/mlkem.js";
export { publishHybridEncryptionKey, type PublishHybridEncryptionKeyParameters, type PublishHybridEncryptionKeyReturnType } from "./actions/publishHybridEncryptionKey.js";
export { resolveEncryptionKey, publishedHybridKey } from "./actions/resolveEncryptionKey.js";
export { buildMerkleBatch, verifyMerkleProof, recordCommitment, merkleLeaf, newSalt } from "./crypto/commitment.js";
export {
  buildObservation, buildBloodPressureObservation, buildObservationBundle, readingsFromBundle, readingCount, consentToFhir, consentFromFhir,
  METRICS, DEVICE_SIGNATURE_EXTENSION, RECORD_CATEGORY_SYSTEM, type Reading, type Metric,
} from "./fhir/observations.js";
export { chainEventToFhir, purposeOfEvent, CHAIN_EVENT_SYSTEM } from "../protocol/audit/chainEvents.js";
export { parseReadingsCsv, type ParseReadingsResult, type RejectedRow } from "./readings/csv.js";
export { signReadings, recoverReadingSigner } from "./readings/deviceSignature.js";
export {
  encryptKeystore, decryptKeystore, parseKeystore, serializeKeystore, heKeySetsOf, withHeKeySet, withoutHeKeySet, DEFAULT_KDF,
  type KeystoreSecrets, type HeKeySet, type KeystoreJson, type KdfCost, type OpenedKeystore, type PqSigningKey,
} from "./keystore/format.js";
export { heKeySetEntry } from "./keystore/keySets.js";
export { openBrowserKeystore, type BrowserKeystore, type OpenBrowserKeystoreOptions, type StoredIdentity } from "./keystore/browser.js";
export {
  paramSetIdToBytes32, paramSetIdFromBytes32, resolveRegisteredModel, readRegisteredModel, modelUrl,
  type ModelSources, type FetchModel, type RegisteredModel, type RegisteredModelSpec,
} from "./predictions.js";
export { currentKeysHash, requestKeysHash } from "./keySets.js";
export { connectJsonRpc, connectBrowserWallet, type ConnectJsonRpcOptions } from "./wallets.js";
export { configureSeal, type SealLoadOptions } from "../fhe/seal.js";
export { FheClient, FhePublicEncryptor, type Prediction } from "../fhe/client-entry.js";
