// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IdentityGoverned} from "../access/IdentityGoverned.sol";
import {IConsentManager} from "../interfaces/IConsentManager.sol";
import {IIdentityRegistry} from "../interfaces/IIdentityRegistry.sol";
import {IRecordRegistry} from "../interfaces/IRecordRegistry.sol";
import {Category} from "../libraries/Category.sol";
import {Purpose} from "../libraries/Purpose.sol";

/// @title RecordRegistry
/// @notice Record commitments, Merkle-batched readings and amendment links. See {IRecordRegistry}.
contract RecordRegistry is IRecordRegistry, IdentityGoverned, EIP712 {
    /// @inheritdoc IRecordRegistry
    bytes32 public constant ANCHOR_RECORD_TYPEHASH = keccak256(
        "AnchorRecord(address patient,bytes32 recordId,uint8 category,string uri,bytes32 supersedes,uint256 deadline)"
    );
    /// @inheritdoc IRecordRegistry
    bytes32 public constant ANCHOR_BATCH_TYPEHASH = keccak256(
        "AnchorBatch(address patient,bytes32 root,uint32 count,uint8 category,string uri,uint256 deadline)"
    );

    IConsentManager private immutable _consent;

    // Keyed by patient first: an id is claimed only within its patient's own space, so copying a
    // pending id into another patient's name gains nothing and blocks nobody.
    mapping(address patient => mapping(bytes32 id => Entry)) private _entries;
    mapping(address patient => mapping(bytes32 recordId => bytes32 amendment)) private _supersededBy;

    /// @param identity_ The IdentityRegistry (devices, PROVIDER_ROLE).
    /// @param consent_ The ConsentManager (TREAT consent of providers, read access).
    constructor(IIdentityRegistry identity_, IConsentManager consent_)
        IdentityGoverned(identity_)
        EIP712("MedCipher RecordRegistry", "1")
    {
        if (address(consent_) == address(0)) revert ZeroAddress();
        _checkSameIdentity(consent_);
        _consent = consent_;
    }

    // ─── Anchoring ─────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IRecordRegistry
    function anchorRecord(address patient, bytes32 recordId, uint8 category, string calldata uri, bytes32 supersedes)
        external
    {
        address device = _authoriseSender(patient, category);
        _anchorRecord(patient, recordId, category, uri, supersedes, device);
    }

    /// @inheritdoc IRecordRegistry
    function anchorRecordBySig(
        address patient,
        bytes32 recordId,
        uint8 category,
        string calldata uri,
        bytes32 supersedes,
        uint256 deadline,
        bytes calldata signature
    ) external {
        bytes32 structHash = keccak256(
            abi.encode(
                ANCHOR_RECORD_TYPEHASH, patient, recordId, category, keccak256(bytes(uri)), supersedes, deadline
            )
        );
        address device = _recoverBoundDevice(structHash, deadline, signature, patient);
        _anchorRecord(patient, recordId, category, uri, supersedes, device);
    }

    /// @inheritdoc IRecordRegistry
    function anchorBatch(address patient, bytes32 root, uint32 count, uint8 category, string calldata uri) external {
        address device = _authoriseSender(patient, category);
        _anchorBatch(patient, root, count, category, uri, device);
    }

    /// @inheritdoc IRecordRegistry
    function anchorBatchBySig(
        address patient,
        bytes32 root,
        uint32 count,
        uint8 category,
        string calldata uri,
        uint256 deadline,
        bytes calldata signature
    ) external {
        bytes32 structHash = keccak256(
            abi.encode(ANCHOR_BATCH_TYPEHASH, patient, root, count, category, keccak256(bytes(uri)), deadline)
        );
        address device = _recoverBoundDevice(structHash, deadline, signature, patient);
        _anchorBatch(patient, root, count, category, uri, device);
    }

    // ─── Views ─────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IRecordRegistry
    function verifyInclusion(address patient, bytes32 root, bytes32 readingId, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        if (_entries[patient][root].kind != EntryKind.Batch) return false;
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(readingId))));
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }

    /// @inheritdoc IRecordRegistry
    function entryOf(address patient, bytes32 id) external view returns (Entry memory) {
        return _entries[patient][id];
    }

    /// @inheritdoc IRecordRegistry
    function supersededBy(address patient, bytes32 recordId) external view returns (bytes32) {
        return _supersededBy[patient][recordId];
    }

    /// @inheritdoc IRecordRegistry
    function canAccessRecord(address reader, address patient, bytes32 id, uint8 purpose) external view returns (bool) {
        Entry memory e = _entries[patient][id];
        if (e.kind == EntryKind.None) return false;
        return _consent.hasRecordAccess(reader, patient, id, e.category, purpose);
    }

    /// @inheritdoc IRecordRegistry
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ─── Internal ──────────────────────────────────────────────────────────────────────────────

    /// @dev The patient, a device bound to the patient, or a provider with live TREAT consent.
    /// @return device The sender when it acts as the patient's device, else address(0).
    function _authoriseSender(address patient, uint8 category) private view returns (address device) {
        if (msg.sender == patient && patient != address(0)) return address(0);
        if (_identity.deviceOwner(msg.sender) == patient && patient != address(0)) return msg.sender;
        if (
            _identity.hasRole(_identity.PROVIDER_ROLE(), msg.sender)
                && _consent.hasAccess(msg.sender, patient, category, Purpose.TREAT)
        ) return address(0);
        revert NotAuthorisedToAnchor(msg.sender, patient);
    }

    /// @dev Recovers the signer and checks it is a device bound to `patient` now. Replay needs no
    /// nonce: the signed id can be anchored only once for the signed patient, and the domain binds
    /// chain and contract. Nor does the message name the binding: after an unbind and a re-bind to
    /// the same patient, a signature still within its deadline is good again (it can only anchor
    /// what the device signed for that patient, once).
    function _recoverBoundDevice(bytes32 structHash, uint256 deadline, bytes calldata signature, address patient)
        private
        view
        returns (address device)
    {
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        device = ECDSA.recoverCalldata(_hashTypedDataV4(structHash), signature);
        if (patient == address(0) || _identity.deviceOwner(device) != patient) {
            revert NotAuthorisedToAnchor(device, patient);
        }
    }

    function _anchorRecord(
        address patient,
        bytes32 recordId,
        uint8 category,
        string calldata uri,
        bytes32 supersedes,
        address device
    ) private {
        _checkNew(patient, recordId, category);
        if (supersedes != bytes32(0)) {
            Entry memory old = _entries[patient][supersedes];
            if (old.kind != EntryKind.Record) revert UnknownRecord(supersedes);
            if (old.category != category) revert AmendmentCategoryMismatch(supersedes, old.category, category);
            bytes32 previous = _supersededBy[patient][supersedes];
            if (previous != bytes32(0)) revert AlreadySuperseded(supersedes, previous);
            _supersededBy[patient][supersedes] = recordId;
        }
        _entries[patient][recordId] = Entry(patient, category, EntryKind.Record, uint40(block.timestamp), 1);
        emit RecordAnchored(recordId, patient, category, uri, supersedes, msg.sender, device);
    }

    function _anchorBatch(
        address patient,
        bytes32 root,
        uint32 count,
        uint8 category,
        string calldata uri,
        address device
    ) private {
        if (count == 0) revert InvalidCommitment();
        _checkNew(patient, root, category);
        _entries[patient][root] = Entry(patient, category, EntryKind.Batch, uint40(block.timestamp), count);
        emit BatchAnchored(root, patient, category, count, uri, msg.sender, device);
    }

    function _checkNew(address patient, bytes32 id, uint8 category) private view {
        if (id == bytes32(0)) revert InvalidCommitment();
        if (category > Category.MAX) revert InvalidCategory(category);
        if (_entries[patient][id].kind != EntryKind.None) revert AlreadyAnchored(patient, id);
    }
}
