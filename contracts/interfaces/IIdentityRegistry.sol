// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IAccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/IAccessControlDefaultAdminRules.sol";

/// @title IIdentityRegistry
/// @notice Who is who: patients (with a commitment to their homomorphic-encryption key set and a
/// public key for receiving data keys), role holders admitted by governance (providers,
/// researchers, oracles, device vendors, gateways), and devices bound to patients.
/// @dev Governance is the default admin of AccessControlDefaultAdminRules (2-step transfer with a
/// delay). Other MedCipher contracts read roles and governance from here.
interface IIdentityRegistry is IAccessControlDefaultAdminRules {
    /// @notice A patient's on-chain identity. Nothing here decrypts anything.
    /// @param keysHash SHA-256 of the serialized evaluation-keys blob (public, relinearisation and
    /// Galois keys); it is also the blob's storage id on the gateway.
    /// @param paramSetId Identifier of the CKKS parameter set the keys were generated for.
    /// @param encryptionKey X25519 public key used to wrap data keys shared with this patient.
    /// @param registeredAt Registration time (unix seconds).
    /// @param keyVersion Incremented on every key-set rotation (1 at registration).
    struct Patient {
        bytes32 keysHash;
        bytes32 paramSetId;
        bytes32 encryptionKey;
        uint40 registeredAt;
        uint32 keyVersion;
    }

    /// @notice A device (wearable, meter) registered by its vendor and bound to at most one patient.
    /// @param patient The bound patient, or address(0).
    /// @param expiresAt End of the binding (unix seconds, exclusive).
    /// @param bindNonce Incremented on every bind; the device signs it so a bind cannot be replayed.
    /// @param revoked Whether the vendor revoked the device (compromised, recalled).
    /// @param vendor The DEVICE_VENDOR account that registered the device.
    /// @param pqKeyHash keccak256 of the ML-DSA-65 public key the current binding commits to (zero
    /// for a binding made with {bindDevice}, which signs with ECDSA only).
    struct Device {
        address patient;
        uint40 expiresAt;
        uint32 bindNonce;
        bool revoked;
        address vendor;
        bytes32 pqKeyHash;
    }

    /// @notice An account's published hybrid (post-quantum) encryption key. The chain keeps the
    /// commitment; the key itself is in the {HybridEncryptionKeyPublished} event of `publishedAt`.
    /// @param keyHash keccak256 of the key (X25519 public key ‖ ML-KEM-768 encapsulation key).
    /// @param publishedAt The block whose event carries the key.
    /// @param version Incremented on every publication (1 for the first).
    struct HybridKey {
        bytes32 keyHash;
        uint64 publishedAt;
        uint32 version;
    }

    /// @notice A patient registered.
    /// @param patient The patient's account.
    /// @param keysHash SHA-256 (= storage id) of the evaluation-keys blob.
    /// @param paramSetId The CKKS parameter set of the keys.
    /// @param keysUri Where the evaluation-keys blob is stored.
    /// @param encryptionKey The patient's X25519 public key.
    event PatientRegistered(
        address indexed patient,
        bytes32 indexed keysHash,
        bytes32 indexed paramSetId,
        string keysUri,
        bytes32 encryptionKey
    );

    /// @notice A patient replaced their HE key-set commitment.
    /// @param patient The patient.
    /// @param keysHash The new keys hash.
    /// @param paramSetId The new parameter set.
    /// @param keysUri Where the new blob is stored.
    /// @param keyVersion The new version (previous + 1).
    event KeySetRotated(
        address indexed patient, bytes32 indexed keysHash, bytes32 indexed paramSetId, string keysUri, uint32 keyVersion
    );

    /// @notice A patient replaced their X25519 encryption public key.
    /// @param patient The patient.
    /// @param encryptionKey The new public key.
    event EncryptionKeyRotated(address indexed patient, bytes32 encryptionKey);

    /// @notice An account published a hybrid encryption key (X25519 + ML-KEM-768): data keys
    /// wrapped for it from now on are post-quantum. Any account may publish one (grantees who are
    /// not patients too).
    /// @param account The account.
    /// @param keyHash keccak256(key), what {hybridEncryptionKeyOf} returns.
    /// @param version The account's publication number (1, 2, …).
    /// @param key X25519 public key (32 bytes) ‖ ML-KEM-768 encapsulation key (1184 bytes).
    event HybridEncryptionKeyPublished(address indexed account, bytes32 indexed keyHash, uint32 version, bytes key);

    /// @notice A binding made with {bindDevicePq} committed to the device's ML-DSA public key.
    /// Emitted with {DeviceBound}, so a reader can find every key a device signed with for a patient.
    /// @param device The device.
    /// @param patient The patient.
    /// @param pqKeyHash keccak256 of the device's ML-DSA-65 public key.
    event DevicePqKeyBound(address indexed device, address indexed patient, bytes32 pqKeyHash);

    /// @notice A device vendor registered a device.
    /// @param device The device's signing address.
    /// @param vendor The vendor.
    /// @param modelHash Commitment to the device model / firmware description (opaque to the chain).
    event DeviceRegistered(address indexed device, address indexed vendor, bytes32 modelHash);

    /// @notice The vendor revoked a device; it can no longer act for anyone.
    /// @param device The device.
    /// @param vendor The vendor.
    event DeviceRevoked(address indexed device, address indexed vendor);

    /// @notice A patient bound a device (the device co-signed the binding).
    /// @param device The device.
    /// @param patient The patient.
    /// @param expiresAt End of the binding (exclusive).
    /// @param bindNonce The nonce the device signed.
    event DeviceBound(address indexed device, address indexed patient, uint40 expiresAt, uint32 bindNonce);

    /// @notice A device binding ended before its expiry.
    /// @param device The device.
    /// @param patient The patient it was bound to.
    /// @param by Who ended it (the patient, the device itself, or a vendor registering afresh a
    /// device whose former vendor governance removed).
    event DeviceUnbound(address indexed device, address indexed patient, address by);

    /// @notice The caller is already a registered patient.
    /// @param patient The caller.
    error PatientAlreadyRegistered(address patient);
    /// @notice The account is not a registered patient.
    /// @param account The account.
    error PatientNotRegistered(address account);
    /// @notice A key-set commitment with a zero hash or parameter-set id, or an empty URI.
    error InvalidKeySet();
    /// @notice A zero encryption public key.
    error InvalidEncryptionKey();
    /// @notice A hybrid encryption key of the wrong length (it must be 32 + 1184 bytes).
    /// @param length The length given.
    error InvalidHybridKey(uint256 length);
    /// @notice A hybrid key publication of the key already published (a retried publication that
    /// already landed); nothing changes.
    /// @param keyHash The current (and requested) key hash.
    error HybridKeyUnchanged(bytes32 keyHash);
    /// @notice A post-quantum device binding with a zero key hash.
    error InvalidPqKey();
    /// @notice A key-set rotation to the key set the patient already has (a retried rotation that
    /// already landed); nothing changes, `keyVersion` stays.
    /// @param keysHash The current (and requested) keys hash.
    error KeySetUnchanged(bytes32 keysHash);
    /// @notice The device is already registered.
    /// @param device The device.
    error DeviceAlreadyRegistered(address device);
    /// @notice The device is not registered, has been revoked, or its vendor lost DEVICE_VENDOR_ROLE.
    /// @param device The device.
    error DeviceNotUsable(address device);
    /// @notice The caller is not the vendor of the device.
    /// @param device The device.
    /// @param caller The caller.
    error NotDeviceVendor(address device, address caller);
    /// @notice The device is bound, unexpired, to another patient.
    /// @param device The device.
    /// @param patient Its current patient.
    error DeviceBoundToAnother(address device, address patient);
    /// @notice The device is not currently bound to this patient.
    /// @param device The device.
    /// @param account The account that claimed it.
    error DeviceNotBoundTo(address device, address account);
    /// @notice The binding expiry is not in the future.
    /// @param expiresAt The requested expiry.
    error InvalidExpiry(uint40 expiresAt);
    /// @notice The device's signature is past its deadline.
    /// @param deadline The deadline that passed.
    error SignatureExpired(uint256 deadline);
    /// @notice The binding signature was not made by the device.
    /// @param recovered The address recovered from the signature.
    /// @param device The device that should have signed.
    error InvalidDeviceSignature(address recovered, address device);

    /// @notice Register the caller as a patient with an HE key-set commitment and an X25519 key.
    /// @param keysHash SHA-256 of the serialized evaluation-keys blob (its storage id).
    /// @param paramSetId The CKKS parameter-set id.
    /// @param keysUri Where the blob is stored (emitted, not stored).
    /// @param encryptionKey X25519 public key (32 bytes).
    function registerPatient(bytes32 keysHash, bytes32 paramSetId, string calldata keysUri, bytes32 encryptionKey)
        external;

    /// @notice Replace the caller's key-set commitment (new keys, possibly a new parameter set).
    /// Only the registered patient rotates their own key set; the previous hash is replaced (the
    /// oracle uses the new keys for requests made from then on). Reverts PatientNotRegistered,
    /// InvalidKeySet, or KeySetUnchanged when `keysHash` is already the current one.
    /// @param keysHash The new keys hash.
    /// @param paramSetId The new parameter-set id.
    /// @param keysUri Where the new blob is stored.
    function rotateKeySet(bytes32 keysHash, bytes32 paramSetId, string calldata keysUri) external;

    /// @notice Replace the caller's X25519 encryption public key.
    /// @param encryptionKey The new public key.
    function rotateEncryptionKey(bytes32 encryptionKey) external;

    /// @notice Register a device; only DEVICE_VENDOR_ROLE holders. A device already registered by
    /// a vendor that still holds the role cannot be taken (`DeviceAlreadyRegistered`); one whose
    /// vendor governance removed can be registered afresh (unbound — `DeviceUnbound` with the new
    /// vendor as `by` — and not revoked).
    /// @param device The device's signing address.
    /// @param modelHash Commitment to the device model / firmware description.
    function registerDevice(address device, bytes32 modelHash) external;

    /// @notice Revoke a device; only its vendor, even after governance removed the vendor's role
    /// (revoking only takes capability away, and survives a re-admission of the vendor).
    /// @param device The device.
    function revokeDevice(address device) external;

    /// @notice Bind a registered device to the caller (a registered patient) until `expiresAt`.
    /// The device proves possession by signing the EIP-712 message
    /// `BindDevice(address device,address patient,uint40 expiresAt,uint32 nonce,uint256 deadline)`
    /// with `nonce` = the device's current `bindNonce`.
    /// @param device The device.
    /// @param expiresAt End of the binding (exclusive, in the future).
    /// @param deadline Last second the device signature is accepted.
    /// @param deviceSignature The device's 65-byte signature.
    function bindDevice(address device, uint40 expiresAt, uint256 deadline, bytes calldata deviceSignature) external;

    /// @notice {bindDevice}, and the binding commits to the device's ML-DSA-65 public key: the
    /// device signs `BindDevicePq(address device,address patient,uint40 expiresAt,bytes32 pqKeyHash,
    /// uint32 nonce,uint256 deadline)` with ECDSA, and every record it uploads from then on carries
    /// an ML-DSA signature the gateway and each reader check against `pqKeyHash`.
    /// @param device The device.
    /// @param expiresAt End of the binding (exclusive, in the future).
    /// @param pqKeyHash keccak256 of the device's ML-DSA-65 public key (not zero).
    /// @param deadline Last second the device signature is accepted.
    /// @param deviceSignature The device's 65-byte ECDSA signature.
    function bindDevicePq(
        address device,
        uint40 expiresAt,
        bytes32 pqKeyHash,
        uint256 deadline,
        bytes calldata deviceSignature
    ) external;

    /// @notice Publish (or replace) the caller's hybrid encryption key. The chain stores its
    /// keccak256; the key is in the event, so readers fetch it from one block's logs.
    /// @param key X25519 public key (32 bytes) ‖ ML-KEM-768 encapsulation key (1184 bytes).
    function publishHybridEncryptionKey(bytes calldata key) external;

    /// @notice End a binding; by the bound patient or by the device itself.
    /// @param device The device.
    function unbindDevice(address device) external;

    /// @notice Whether `account` is a registered patient.
    /// @param account The account.
    /// @return registered True if registered.
    function isPatient(address account) external view returns (bool registered);

    /// @notice A patient's identity record (all zero when not registered).
    /// @param account The patient.
    /// @return info The record.
    function patientOf(address account) external view returns (Patient memory info);

    /// @notice The patient's current key-set commitment.
    /// @param account The patient.
    /// @return keysHash The keys hash (zero when not registered).
    /// @return paramSetId The parameter-set id.
    function keySetOf(address account) external view returns (bytes32 keysHash, bytes32 paramSetId);

    /// @notice A device's registration and binding.
    /// @param device The device.
    /// @return info The record.
    function deviceOf(address device) external view returns (Device memory info);

    /// @notice An account's hybrid encryption key commitment (all zero when none was published).
    /// @param account The account.
    /// @return key The commitment and the block of the event that carries the key.
    function hybridEncryptionKeyOf(address account) external view returns (HybridKey memory key);

    /// @notice Since when (unix seconds) `device` has been bound to `patient` under the ML-DSA key
    /// `pqKeyHash`, by its first such binding; 0 if never. Later bindings do not erase it, so
    /// records signed under an earlier key stay verifiable.
    /// @param device The device.
    /// @param patient The patient.
    /// @param pqKeyHash keccak256 of the ML-DSA public key.
    /// @return since The first binding's time, or 0.
    function pqKeyBoundSince(address device, address patient, bytes32 pqKeyHash) external view returns (uint40 since);

    /// @notice The patient a device may act for right now: address(0) when the device is unknown,
    /// revoked, unbound, its binding has expired, or its vendor no longer holds DEVICE_VENDOR_ROLE.
    /// @param device The device.
    /// @return patient The bound patient or address(0).
    function deviceOwner(address device) external view returns (address patient);

    /// @notice Which holding of `role` `account` is in: 1 after the first grant, one more after
    /// every re-grant that follows a revocation; 0 while it does not hold the role. A permission
    /// taken under one holding (break-glass) ends with it, whatever is granted later.
    /// @param role The role.
    /// @param account The account.
    /// @return holding The holding's number, or 0.
    function roleHolding(bytes32 role, address account) external view returns (uint32 holding);

    /// @notice Role of healthcare providers (anchor records with consent, break-glass access).
    function PROVIDER_ROLE() external view returns (bytes32);
    /// @notice Role of researchers.
    function RESEARCHER_ROLE() external view returns (bytes32);
    /// @notice Role of prediction oracles (the accounts authorised on the Operator).
    function ORACLE_ROLE() external view returns (bytes32);
    /// @notice Role of device vendors (register devices).
    function DEVICE_VENDOR_ROLE() external view returns (bytes32);
    /// @notice Role of gateway signing keys (sign responses, anchor audit-log heads).
    function GATEWAY_ROLE() external view returns (bytes32);
    /// @notice EIP-712 type hash of `BindDevice`.
    function BIND_DEVICE_TYPEHASH() external view returns (bytes32);
    /// @notice EIP-712 type hash of `BindDevicePq`.
    function BIND_DEVICE_PQ_TYPEHASH() external view returns (bytes32);
}
