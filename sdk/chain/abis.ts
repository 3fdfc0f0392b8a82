/**
 * Human-readable ABIs of the contracts the SDK and the gateway call (contracts/interfaces/*.sol).
 * Kept here rather than read from artifacts so the SDK works in a browser bundle and against any
 * deployment; the errors are listed so reverts decode to their custom error names.
 */
const governed = [
  "error NotGovernance(address caller)",
  "error MissingRole(address account, bytes32 role)",
  "error ZeroAddress()",
];

export const IDENTITY_REGISTRY_ABI = [
  ...governed,
  "function registerPatient(bytes32 keysHash, bytes32 paramSetId, string keysUri, bytes32 encryptionKey)",
  "function rotateKeySet(bytes32 keysHash, bytes32 paramSetId, string keysUri)",
  "function rotateEncryptionKey(bytes32 encryptionKey)",
  "function registerDevice(address device, bytes32 modelHash)",
  "function revokeDevice(address device)",
  "function bindDevice(address device, uint40 expiresAt, uint256 deadline, bytes deviceSignature)",
  "function unbindDevice(address device)",
  "function isPatient(address account) view returns (bool)",
  "function patientOf(address account) view returns (tuple(bytes32 keysHash, bytes32 paramSetId, bytes32 encryptionKey, uint40 registeredAt, uint32 keyVersion))",
  "function keySetOf(address account) view returns (bytes32 keysHash, bytes32 paramSetId)",
  "function deviceOf(address device) view returns (tuple(address patient, uint40 expiresAt, uint32 bindNonce, bool revoked, address vendor))",
  "function deviceOwner(address device) view returns (address)",
  "function hasRole(bytes32 role, address account) view returns (bool)",
  "function grantRole(bytes32 role, address account)",
  "function PROVIDER_ROLE() view returns (bytes32)",
  "function ORACLE_ROLE() view returns (bytes32)",
  "function DEVICE_VENDOR_ROLE() view returns (bytes32)",
  "function GATEWAY_ROLE() view returns (bytes32)",
  "event PatientRegistered(address indexed patient, bytes32 indexed keysHash, bytes32 indexed paramSetId, string keysUri, bytes32 encryptionKey)",
  "event KeySetRotated(address indexed patient, bytes32 indexed keysHash, bytes32 indexed paramSetId, string keysUri, uint32 keyVersion)",
  "event EncryptionKeyRotated(address indexed patient, bytes32 encryptionKey)",
  "event DeviceBound(address indexed device, address indexed patient, uint40 expiresAt, uint32 bindNonce)",
  "event DeviceUnbound(address indexed device, address indexed patient, address by)",
  "error PatientAlreadyRegistered(address patient)",
  "error PatientNotRegistered(address account)",
  "error InvalidKeySet()",
  "error InvalidEncryptionKey()",
  "error DeviceAlreadyRegistered(address device)",
  "error DeviceNotUsable(address device)",
  "error NotDeviceVendor(address device, address caller)",
  "error DeviceBoundToAnother(address device, address patient)",
  "error DeviceNotBoundTo(address device, address account)",
  "error InvalidExpiry(uint40 expiresAt)",
  "error SignatureExpired(uint256 deadline)",
  "error InvalidDeviceSignature(address recovered, address device)",
];

export const CONSENT_MANAGER_ABI = [
  ...governed,
  "function grantConsent(address grantee, uint8 purpose, uint32 categories, uint40 validFrom, uint40 validUntil)",
  "function grantConsentBySig(address patient, address grantee, uint8 purpose, uint32 categories, uint40 validFrom, uint40 validUntil, uint256 deadline, bytes signature)",
  "function grantRecordConsent(address grantee, uint8 purpose, bytes32[] recordIds, uint40 validFrom, uint40 validUntil)",
  "function revokeConsent(address grantee, uint8 purpose)",
  "function revokeConsentBySig(address patient, address grantee, uint8 purpose, uint256 deadline, bytes signature)",
  "function revokeRecordConsent(address grantee, uint8 purpose, bytes32[] recordIds)",
  "function revokeAllConsents()",
  "function hasAccess(address grantee, address patient, uint8 category, uint8 purpose) view returns (bool)",
  "function hasRecordAccess(address grantee, address patient, bytes32 recordId, uint8 category, uint8 purpose) view returns (bool)",
  "function grantOf(address patient, address grantee, uint8 purpose) view returns (tuple(uint32 categories, uint40 validFrom, uint40 validUntil, uint32 epoch))",
  "function epochOf(address patient) view returns (uint32)",
  "function nonces(address owner) view returns (uint256)",
  "event ConsentGranted(address indexed patient, address indexed grantee, uint8 indexed purpose, uint32 categories, uint40 validFrom, uint40 validUntil, uint32 epoch, address submitter)",
  "event RecordConsentGranted(address indexed patient, address indexed grantee, uint8 indexed purpose, bytes32 recordId, uint40 validFrom, uint40 validUntil, uint32 epoch)",
  "event ConsentRevoked(address indexed patient, address indexed grantee, uint8 indexed purpose, address submitter)",
  "event RecordConsentRevoked(address indexed patient, address indexed grantee, uint8 indexed purpose, bytes32 recordId)",
  "event AllConsentsRevoked(address indexed patient, uint32 newEpoch)",
  "event BreakGlassAccessed(address indexed patient, address indexed provider, uint40 validUntil, bytes32 reasonHash, uint32 epoch)",
  "event BreakGlassEnded(address indexed patient, address indexed provider, address by)",
  "error InvalidGrantee(address grantee)",
  "error InvalidPurpose(uint8 purpose)",
  "error EmptyScope()",
  "error InvalidPeriod(uint40 validFrom, uint40 validUntil)",
  "error SignatureExpired(uint256 deadline)",
  "error InvalidSigner(address recovered, address patient)",
  "error NoBreakGlass(address patient, address provider)",
  "error MissingReason()",
  "error NotBreakGlassParty(address caller)",
];

export const RECORD_REGISTRY_ABI = [
  ...governed,
  "function anchorRecord(address patient, bytes32 recordId, uint8 category, string uri, bytes32 supersedes)",
  "function anchorBatch(address patient, bytes32 root, uint32 count, uint8 category, string uri)",
  "function anchorBatchBySig(address patient, bytes32 root, uint32 count, uint8 category, string uri, uint256 deadline, bytes signature)",
  "function verifyInclusion(bytes32 root, bytes32 readingId, bytes32[] proof) view returns (bool)",
  "function entryOf(bytes32 id) view returns (tuple(address patient, uint8 category, uint8 kind, uint40 anchoredAt, uint32 count))",
  "function canAccessRecord(address reader, bytes32 id, uint8 purpose) view returns (bool)",
  "event RecordAnchored(bytes32 indexed recordId, address indexed patient, uint8 indexed category, string uri, bytes32 supersedes, address submitter, address device)",
  "event BatchAnchored(bytes32 indexed root, address indexed patient, uint8 indexed category, uint32 count, string uri, address submitter, address device)",
  "error AlreadyAnchored(bytes32 id)",
  "error InvalidCommitment()",
  "error InvalidCategory(uint8 category)",
  "error NotAuthorisedToAnchor(address submitter, address patient)",
  "error UnknownRecord(bytes32 id)",
  "error AlreadySuperseded(bytes32 id, bytes32 supersededBy)",
  "error SignatureExpired(uint256 deadline)",
];

export const MODEL_REGISTRY_ABI = [
  ...governed,
  "function registerModel(tuple(string name, string version, bytes32 weightsHash, string weightsUri, bytes32 paramSetId, bytes32 encodingSpecHash, uint8 outputKind, bool isPrivate) spec) returns (uint32 modelId)",
  "function modelOf(uint32 modelId) view returns (tuple(tuple(string name, string version, bytes32 weightsHash, string weightsUri, bytes32 paramSetId, bytes32 encodingSpecHash, uint8 outputKind, bool isPrivate) spec, uint40 registeredAt, uint40 retiredAt))",
  "function modelStatus(uint32 modelId) view returns (bool active, bytes32 paramSetId)",
  "function modelIdOf(string name, string version) view returns (uint32)",
  "function modelCount() view returns (uint32)",
  "error UnknownModel(uint32 modelId)",
  "error ModelAlreadyRetired(uint32 modelId)",
  "error DuplicateModel(uint32 existing)",
  "error InvalidModelSpec()",
];

export const PREDICTION_ROUTER_ABI = [
  ...governed,
  "function requestPrediction(address patient, uint32 modelId, bytes32 inputHash, string inputUri) returns (bytes32 requestId)",
  "function cancelPrediction(bytes32 requestId, uint256 payment)",
  "function getRequest(bytes32 requestId) view returns (tuple(address patient, uint32 modelId, uint8 status, uint40 expiresAt, uint16 failureCode, address requester, bytes32 inputHash, bytes32 resultHash))",
  "function fee() view returns (uint256)",
  "event PredictionRequested(bytes32 indexed requestId, address indexed patient, uint32 indexed modelId, address requester, bytes32 inputHash, string inputUri, bytes32 keysHash, uint256 payment, uint40 expiresAt)",
  "event PredictionFulfilled(bytes32 indexed requestId, address indexed patient, bytes32 resultHash, string resultUri, bool onChain)",
  "event PredictionFailed(bytes32 indexed requestId, address indexed patient, uint16 failureCode)",
  "event PredictionRefused(bytes32 indexed requestId, address indexed patient, address requester, uint16 reasonCode)",
  "event PredictionCancelled(bytes32 indexed requestId, address indexed patient, address by)",
  "error NotAuthorisedToRequest(address requester, address patient)",
  "error PatientNotRegistered(address patient)",
  "error ModelNotActive(uint32 modelId)",
  "error ParameterSetMismatch(bytes32 patientParamSet, bytes32 modelParamSet)",
  "error InvalidInput()",
  "error InsufficientLink(uint256 balance, uint256 fee)",
  "error RequestNotPending(bytes32 requestId, uint8 status)",
];

export const AUDIT_LOG_ANCHOR_ABI = [
  ...governed,
  "function anchorHead(bytes32 headHash, uint64 entryCount)",
  "function latestHead(address gateway) view returns (tuple(bytes32 headHash, uint64 entryCount, uint40 anchoredAt))",
  "event AuditHeadAnchored(address indexed gateway, bytes32 indexed headHash, uint64 entryCount, bytes32 previousHead, uint64 previousCount)",
  "error InvalidHead()",
  "error EntryCountNotIncreasing(uint64 previous, uint64 given)",
];

/** Request status codes of IPredictionRouter.RequestStatus. */
export const RequestStatus = { None: 0, Pending: 1, Fulfilled: 2, Failed: 3, Refused: 4, Cancelled: 5 } as const;
/** Entry kinds of IRecordRegistry.EntryKind. */
export const EntryKind = { None: 0, Record: 1, Batch: 2 } as const;
