// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IIdentityRegistry} from "../interfaces/IIdentityRegistry.sol";

/// @title IdentityRegistry
/// @notice Patients, role holders and devices. See {IIdentityRegistry}.
contract IdentityRegistry is IIdentityRegistry, AccessControlDefaultAdminRules, EIP712 {
    /// @inheritdoc IIdentityRegistry
    bytes32 public constant PROVIDER_ROLE = keccak256("PROVIDER_ROLE");
    /// @inheritdoc IIdentityRegistry
    bytes32 public constant RESEARCHER_ROLE = keccak256("RESEARCHER_ROLE");
    /// @inheritdoc IIdentityRegistry
    bytes32 public constant ORACLE_ROLE = keccak256("ORACLE_ROLE");
    /// @inheritdoc IIdentityRegistry
    bytes32 public constant DEVICE_VENDOR_ROLE = keccak256("DEVICE_VENDOR_ROLE");
    /// @inheritdoc IIdentityRegistry
    bytes32 public constant GATEWAY_ROLE = keccak256("GATEWAY_ROLE");
    /// @inheritdoc IIdentityRegistry
    bytes32 public constant BIND_DEVICE_TYPEHASH = keccak256(
        "BindDevice(address device,address patient,uint40 expiresAt,uint32 nonce,uint256 deadline)"
    );

    /// @inheritdoc IIdentityRegistry
    bytes32 public constant BIND_DEVICE_PQ_TYPEHASH = keccak256(
        "BindDevicePq(address device,address patient,uint40 expiresAt,bytes32 pqKeyHash,uint32 nonce,uint256 deadline)"
    );

    /// @dev X25519 public key (32 bytes) followed by an ML-KEM-768 encapsulation key (1184 bytes).
    uint256 private constant HYBRID_KEY_LENGTH = 32 + 1184;

    mapping(address account => Patient) private _patients;
    mapping(address account => HybridKey) private _hybridKeys;
    /// @dev keccak256(device, patient, pqKeyHash) → first binding time.
    mapping(bytes32 binding => uint40 since) private _pqKeyBindings;
    mapping(address device => Device) private _devices;
    mapping(bytes32 role => mapping(address account => uint32 grants)) private _roleGrants;

    /// @param initialDelay Seconds a default-admin transfer must wait (AccessControlDefaultAdminRules).
    /// @param governance The initial default admin.
    constructor(uint48 initialDelay, address governance)
        AccessControlDefaultAdminRules(initialDelay, governance)
        EIP712("MedCipher IdentityRegistry", "1")
    {}

    // ─── Patients ──────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IIdentityRegistry
    function registerPatient(bytes32 keysHash, bytes32 paramSetId, string calldata keysUri, bytes32 encryptionKey)
        external
    {
        Patient storage p = _patients[msg.sender];
        if (p.registeredAt != 0) revert PatientAlreadyRegistered(msg.sender);
        _checkKeySet(keysHash, paramSetId, keysUri);
        if (encryptionKey == bytes32(0)) revert InvalidEncryptionKey();
        p.keysHash = keysHash;
        p.paramSetId = paramSetId;
        p.encryptionKey = encryptionKey;
        p.registeredAt = uint40(block.timestamp);
        p.keyVersion = 1;
        emit PatientRegistered(msg.sender, keysHash, paramSetId, keysUri, encryptionKey);
    }

    /// @inheritdoc IIdentityRegistry
    function rotateKeySet(bytes32 keysHash, bytes32 paramSetId, string calldata keysUri) external {
        Patient storage p = _registered(msg.sender);
        _checkKeySet(keysHash, paramSetId, keysUri);
        if (keysHash == p.keysHash) revert KeySetUnchanged(keysHash);
        p.keysHash = keysHash;
        p.paramSetId = paramSetId;
        uint32 version = p.keyVersion + 1;
        p.keyVersion = version;
        emit KeySetRotated(msg.sender, keysHash, paramSetId, keysUri, version);
    }

    /// @inheritdoc IIdentityRegistry
    function rotateEncryptionKey(bytes32 encryptionKey) external {
        Patient storage p = _registered(msg.sender);
        if (encryptionKey == bytes32(0)) revert InvalidEncryptionKey();
        p.encryptionKey = encryptionKey;
        emit EncryptionKeyRotated(msg.sender, encryptionKey);
    }

    // ─── Devices ───────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IIdentityRegistry
    function registerDevice(address device, bytes32 modelHash) external onlyRole(DEVICE_VENDOR_ROLE) {
        if (device == address(0)) revert DeviceNotUsable(device);
        Device storage d = _devices[device];
        address vendor = d.vendor;
        // A device registered by a vendor governance has since removed (say, one that front-ran
        // the real vendor's registration) is free again; its binding goes, its bind nonce stays
        // so old bind signatures remain spent.
        if (vendor != address(0) && hasRole(DEVICE_VENDOR_ROLE, vendor)) revert DeviceAlreadyRegistered(device);
        address boundTo = d.patient;
        if (vendor != address(0)) {
            d.patient = address(0);
            d.expiresAt = 0;
            d.revoked = false;
            d.pqKeyHash = bytes32(0);
        }
        d.vendor = msg.sender;
        if (boundTo != address(0)) emit DeviceUnbound(device, boundTo, msg.sender);
        emit DeviceRegistered(device, msg.sender, modelHash);
    }

    /// @inheritdoc IIdentityRegistry
    function revokeDevice(address device) external {
        Device storage d = _devices[device];
        if (d.vendor != msg.sender || d.vendor == address(0)) revert NotDeviceVendor(device, msg.sender);
        d.revoked = true;
        emit DeviceRevoked(device, msg.sender);
    }

    /// @inheritdoc IIdentityRegistry
    function bindDevice(address device, uint40 expiresAt, uint256 deadline, bytes calldata deviceSignature)
        external
    {
        uint32 nonce = _devices[device].bindNonce;
        bytes32 structHash =
            keccak256(abi.encode(BIND_DEVICE_TYPEHASH, device, msg.sender, expiresAt, nonce, deadline));
        _bind(device, expiresAt, bytes32(0), deadline, structHash, deviceSignature);
    }

    /// @inheritdoc IIdentityRegistry
    function bindDevicePq(
        address device,
        uint40 expiresAt,
        bytes32 pqKeyHash,
        uint256 deadline,
        bytes calldata deviceSignature
    ) external {
        if (pqKeyHash == bytes32(0)) revert InvalidPqKey();
        uint32 nonce = _devices[device].bindNonce;
        bytes32 structHash = keccak256(
            abi.encode(BIND_DEVICE_PQ_TYPEHASH, device, msg.sender, expiresAt, pqKeyHash, nonce, deadline)
        );
        _bind(device, expiresAt, pqKeyHash, deadline, structHash, deviceSignature);
        bytes32 binding = keccak256(abi.encode(device, msg.sender, pqKeyHash));
        if (_pqKeyBindings[binding] == 0) _pqKeyBindings[binding] = uint40(block.timestamp);
        emit DevicePqKeyBound(device, msg.sender, pqKeyHash);
    }

    // ─── Hybrid encryption keys ────────────────────────────────────────────────────────────────

    /// @inheritdoc IIdentityRegistry
    function publishHybridEncryptionKey(bytes calldata key) external {
        if (key.length != HYBRID_KEY_LENGTH) revert InvalidHybridKey(key.length);
        bytes32 keyHash = keccak256(key);
        HybridKey storage current = _hybridKeys[msg.sender];
        if (current.keyHash == keyHash) revert HybridKeyUnchanged(keyHash);
        uint32 version = current.version + 1;
        _hybridKeys[msg.sender] = HybridKey({keyHash: keyHash, publishedAt: uint64(block.number), version: version});
        emit HybridEncryptionKeyPublished(msg.sender, keyHash, version, key);
    }

    /// @inheritdoc IIdentityRegistry
    function unbindDevice(address device) external {
        Device storage d = _devices[device];
        address patient = d.patient;
        if (patient == address(0) || (msg.sender != patient && msg.sender != device)) {
            revert DeviceNotBoundTo(device, msg.sender);
        }
        d.patient = address(0);
        d.expiresAt = 0;
        d.pqKeyHash = bytes32(0);
        emit DeviceUnbound(device, patient, msg.sender);
    }

    // ─── Views ─────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IIdentityRegistry
    function isPatient(address account) external view returns (bool) {
        return _patients[account].registeredAt != 0;
    }

    /// @inheritdoc IIdentityRegistry
    function patientOf(address account) external view returns (Patient memory) {
        return _patients[account];
    }

    /// @inheritdoc IIdentityRegistry
    function keySetOf(address account) external view returns (bytes32 keysHash, bytes32 paramSetId) {
        Patient storage p = _patients[account];
        return (p.keysHash, p.paramSetId);
    }

    /// @inheritdoc IIdentityRegistry
    function deviceOf(address device) external view returns (Device memory) {
        return _devices[device];
    }

    /// @inheritdoc IIdentityRegistry
    function hybridEncryptionKeyOf(address account) external view returns (HybridKey memory) {
        return _hybridKeys[account];
    }

    /// @inheritdoc IIdentityRegistry
    function pqKeyBoundSince(address device, address patient, bytes32 pqKeyHash) external view returns (uint40) {
        return _pqKeyBindings[keccak256(abi.encode(device, patient, pqKeyHash))];
    }

    /// @inheritdoc IIdentityRegistry
    function roleHolding(bytes32 role, address account) external view returns (uint32) {
        return hasRole(role, account) ? _roleGrants[role][account] : 0;
    }

    /// @inheritdoc IIdentityRegistry
    function deviceOwner(address device) external view returns (address) {
        Device storage d = _devices[device];
        if (block.timestamp >= d.expiresAt || !_usable(d)) return address(0);
        return d.patient;
    }

    // ─── Internal ──────────────────────────────────────────────────────────────────────────────

    /// @dev Numbers each holding of a role, for {roleHolding}. A counter, not a time: a revoke and
    /// re-grant within one block must still start a new holding.
    function _grantRole(bytes32 role, address account) internal override returns (bool granted) {
        granted = super._grantRole(role, account);
        if (granted) ++_roleGrants[role][account];
    }

    /// @dev The checks and effects both bindings share; `structHash` is the EIP-712 struct the
    /// device signed (with the current bind nonce).
    function _bind(
        address device,
        uint40 expiresAt,
        bytes32 pqKeyHash,
        uint256 deadline,
        bytes32 structHash,
        bytes calldata deviceSignature
    ) private {
        _registered(msg.sender);
        Device storage d = _devices[device];
        if (!_usable(d)) revert DeviceNotUsable(device);
        if (d.patient != address(0) && d.patient != msg.sender && block.timestamp < d.expiresAt) {
            revert DeviceBoundToAnother(device, d.patient);
        }
        if (expiresAt <= block.timestamp) revert InvalidExpiry(expiresAt);
        if (block.timestamp > deadline) revert SignatureExpired(deadline);

        address signer = ECDSA.recoverCalldata(_hashTypedDataV4(structHash), deviceSignature);
        if (signer != device) revert InvalidDeviceSignature(signer, device);

        uint32 nonce = d.bindNonce;
        d.patient = msg.sender;
        d.expiresAt = expiresAt;
        d.bindNonce = nonce + 1;
        d.pqKeyHash = pqKeyHash;
        emit DeviceBound(device, msg.sender, expiresAt, nonce);
    }

    function _registered(address account) private view returns (Patient storage p) {
        p = _patients[account];
        if (p.registeredAt == 0) revert PatientNotRegistered(account);
    }

    /// @dev Registered, not revoked by its vendor, and its vendor still admitted: removing a
    /// vendor's role stops every device it registered (it may hold their keys).
    function _usable(Device storage d) private view returns (bool) {
        address vendor = d.vendor;
        return vendor != address(0) && !d.revoked && hasRole(DEVICE_VENDOR_ROLE, vendor);
    }

    function _checkKeySet(bytes32 keysHash, bytes32 paramSetId, string calldata keysUri) private pure {
        if (keysHash == bytes32(0) || paramSetId == bytes32(0) || bytes(keysUri).length == 0) {
            revert InvalidKeySet();
        }
    }
}
