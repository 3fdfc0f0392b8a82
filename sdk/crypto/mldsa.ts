/**
 * ML-DSA-65 device keys for the SDK (browser-safe): generation, signing, verification and the
 * on-chain key hash, as core/crypto/mldsa.ts implements them on WebCrypto, and the signed-record
 * wrapper a PQ-bound device puts around every record it uploads (protocol/signedRecord.ts).
 * The gateway uses the same two modules, so both sides check exactly the same thing.
 */
export {
  ML_DSA_65,
  MlDsaKeyError,
  createMlDsaSigner,
  generateMlDsaKeyPair,
  importMlDsaPublicKey,
  mlDsaKeyPairFromSeed,
  mlDsaPublicKeyHash,
  mlDsaSign,
  mlDsaVerify,
  type MlDsaKeyPair,
  type MlDsaSigner,
} from "../../core/crypto/mldsa.js";
export {
  RECORD_SIGNATURE_CODES,
  RECORD_SIGNATURE_CONTEXT,
  RecordSignatureError,
  isSignedRecord,
  signRecord,
  verifySignedRecord,
  type RecordSignatureCode,
  type RecordSignatureContext,
  type SignedRecordHeader,
  type VerifiedSignedRecord,
} from "../../protocol/signedRecord.js";
