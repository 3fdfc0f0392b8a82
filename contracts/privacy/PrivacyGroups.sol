// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ISemaphore} from "@semaphore-protocol/contracts/interfaces/ISemaphore.sol";
import {ISemaphoreGroups} from "@semaphore-protocol/contracts/interfaces/ISemaphoreGroups.sol";

import {IdentityGoverned} from "../access/IdentityGoverned.sol";
import {IIdentityRegistry} from "../interfaces/IIdentityRegistry.sol";
import {IPrivacyGroups} from "../interfaces/IPrivacyGroups.sol";

/// @title PrivacyGroups
/// @notice MedCipher's anonymity sets on Semaphore v4. See {IPrivacyGroups}.
/// @dev This contract is the Semaphore admin of every group it creates, so membership rules are
/// MedCipher's: registered patients join the patients' group themselves; a consent group's own
/// admin (kept here) adds and removes its members.
contract PrivacyGroups is IPrivacyGroups, IdentityGoverned {
    /// @dev The BN254 scalar field: Semaphore's tree refuses leaves outside it.
    uint256 private constant SNARK_SCALAR_FIELD =
        21888242871839275222246617862950403707416150808369113522304637893213237203849;

    ISemaphore private immutable _semaphore;
    uint256 private immutable _patientGroupId;
    uint256 private immutable _rootWindow;

    mapping(address patient => uint256 commitment) private _commitments;
    mapping(uint256 groupId => address admin) private _admins;
    /// @dev Bumped on every removal or replacement, per group.
    mapping(uint256 groupId => uint256 removals) private _removals;
    /// @dev For each root a membership change produced: 1 + the group's removal count then.
    mapping(uint256 groupId => mapping(uint256 root => uint256 generation)) private _rootGenerations;

    /// @param identity_ The IdentityRegistry (who is a registered patient; governance).
    /// @param semaphore_ The Semaphore contract.
    /// @param rootWindow_ Seconds a replaced root still verifies (Semaphore's merkleTreeDuration):
    /// long enough for a proof made against the previous root to be mined.
    constructor(IIdentityRegistry identity_, ISemaphore semaphore_, uint256 rootWindow_) IdentityGoverned(identity_) {
        if (address(semaphore_) == address(0)) revert ZeroAddress();
        _semaphore = semaphore_;
        _rootWindow = rootWindow_;
        _patientGroupId = semaphore_.createGroup(address(this), rootWindow_);
    }

    // ─── The registered-patients group ─────────────────────────────────────────────────────────

    /// @inheritdoc IPrivacyGroups
    function joinPatientGroup(uint256 commitment) external {
        if (!_identity.isPatient(msg.sender)) revert NotRegisteredPatient(msg.sender);
        uint256 current = _commitments[msg.sender];
        if (current != 0) revert AlreadyJoined(msg.sender, current);
        _checkCommitment(commitment);
        _commitments[msg.sender] = commitment;
        _semaphore.addMember(_patientGroupId, commitment);
        _recordRoot(_patientGroupId);
        emit PatientJoined(commitment);
    }

    /// @inheritdoc IPrivacyGroups
    function replacePatientCommitment(uint256 newCommitment, uint256[] calldata siblings) external {
        uint256 current = _commitments[msg.sender];
        if (current == 0) revert NotJoined(msg.sender);
        _checkCommitment(newCommitment);
        _commitments[msg.sender] = newCommitment;
        ++_removals[_patientGroupId];
        _semaphore.updateMember(_patientGroupId, current, newCommitment, siblings);
        _recordRoot(_patientGroupId);
        emit PatientLeft(current);
        emit PatientJoined(newCommitment);
    }

    /// @inheritdoc IPrivacyGroups
    function removePatient(address patient, uint256[] calldata siblings) external {
        if (msg.sender != patient && msg.sender != _identity.defaultAdmin() && _identity.isPatient(patient)) {
            revert StillRegistered(patient);
        }
        uint256 current = _commitments[patient];
        if (current == 0) revert NotJoined(patient);
        delete _commitments[patient];
        _remove(_patientGroupId, current, siblings);
        emit PatientLeft(current);
    }

    // ─── Consent groups ────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IPrivacyGroups
    function createGroup(bytes32 descriptionHash) external returns (uint256 groupId) {
        groupId = _semaphore.createGroup(address(this), _rootWindow);
        _admins[groupId] = msg.sender;
        emit GroupCreated(groupId, msg.sender, descriptionHash);
    }

    /// @inheritdoc IPrivacyGroups
    function addMembers(uint256 groupId, uint256[] calldata commitments) external {
        _checkGroupAdmin(groupId);
        for (uint256 i = 0; i < commitments.length; ++i) {
            _checkCommitment(commitments[i]);
        }
        _semaphore.addMembers(groupId, commitments);
        _recordRoot(groupId);
    }

    /// @inheritdoc IPrivacyGroups
    function removeMember(uint256 groupId, uint256 commitment, uint256[] calldata siblings) external {
        _checkGroupAdmin(groupId);
        _remove(groupId, commitment, siblings);
    }

    /// @inheritdoc IPrivacyGroups
    function setGroupAdmin(uint256 groupId, address newAdmin) external {
        _checkGroupAdmin(groupId);
        if (newAdmin == address(0)) revert ZeroAddress();
        _admins[groupId] = newAdmin;
        emit GroupAdminChanged(groupId, msg.sender, newAdmin);
    }

    // ─── Views ─────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IPrivacyGroups
    function verifyMembership(uint256 groupId, ISemaphore.SemaphoreProof calldata proof)
        external
        view
        returns (bool valid)
    {
        // Semaphore alone accepts any root younger than the window, including those from before
        // a removal: the removed member could keep proving for the whole window.
        uint256 generation = _rootGenerations[groupId][proof.merkleTreeRoot];
        if (generation != 0 && generation != _removals[groupId] + 1) {
            revert RootBeforeRemoval(groupId, proof.merkleTreeRoot);
        }
        return _semaphore.verifyProof(groupId, proof);
    }

    /// @inheritdoc IPrivacyGroups
    function semaphore() external view returns (ISemaphore) {
        return _semaphore;
    }

    /// @inheritdoc IPrivacyGroups
    function patientGroupId() external view returns (uint256) {
        return _patientGroupId;
    }

    /// @inheritdoc IPrivacyGroups
    function commitmentOf(address patient) external view returns (uint256) {
        return _commitments[patient];
    }

    /// @inheritdoc IPrivacyGroups
    function groupAdminOf(uint256 groupId) external view returns (address) {
        return _admins[groupId];
    }

    /// @inheritdoc IPrivacyGroups
    function rootWindow() external view returns (uint256) {
        return _rootWindow;
    }

    // ─── Internal ──────────────────────────────────────────────────────────────────────────────

    function _remove(uint256 groupId, uint256 commitment, uint256[] calldata siblings) private {
        ++_removals[groupId];
        _semaphore.removeMember(groupId, commitment, siblings);
        _recordRoot(groupId);
    }

    /// @dev Every root this contract's changes produce is recorded with the removal count, so
    /// `verifyMembership` can refuse the roots from before the latest removal. Roots not recorded
    /// here (none: only this contract changes its groups) fall back to Semaphore's own checks.
    function _recordRoot(uint256 groupId) private {
        uint256 root = ISemaphoreGroups(address(_semaphore)).getMerkleTreeRoot(groupId);
        _rootGenerations[groupId][root] = _removals[groupId] + 1;
    }

    function _checkGroupAdmin(uint256 groupId) private view {
        address admin = _admins[groupId];
        if (admin == address(0)) revert UnknownGroup(groupId);
        if (admin != msg.sender) revert NotGroupAdmin(groupId, msg.sender);
    }

    function _checkCommitment(uint256 commitment) private pure {
        if (commitment == 0 || commitment >= SNARK_SCALAR_FIELD) revert InvalidCommitment(commitment);
    }
}
