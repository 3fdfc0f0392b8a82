// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ISemaphore} from "@semaphore-protocol/contracts/interfaces/ISemaphore.sol";

import {IGoverned} from "./IGoverned.sol";

/// @title IPrivacyGroups
/// @notice Anonymity sets for MedCipher, kept as Semaphore v4 groups this contract administers:
/// the registered-patients group (every registered patient may join it with one identity
/// commitment) and groups that patients consent to instead of addresses (a study approved by its
/// review board, a hospital's cardiology team), each run by its own admin.
/// @dev Membership is public (an address adds a commitment); which member later acts is not: a
/// member proves membership with a Semaphore proof that names no commitment. Proofs are checked
/// here with `verifyMembership` (a view), never with Semaphore's `validateProof`: anyone may call
/// that one with a proof seen in the mempool, burning its nullifier, so each consumer keeps its own
/// nullifiers under a scope that names the consumer.
interface IPrivacyGroups is IGoverned {
    /// @notice A registered patient joined the patients' group.
    /// @param commitment The Semaphore identity commitment added.
    event PatientJoined(uint256 indexed commitment);

    /// @notice A patient's commitment left the patients' group (the patient left, replaced it, or
    /// is no longer registered).
    event PatientLeft(uint256 indexed commitment);

    /// @notice A consent group was created.
    /// @param groupId The Semaphore group id.
    /// @param admin Who adds and removes its members.
    /// @param descriptionHash Hash of the group's public description (study protocol, team).
    event GroupCreated(uint256 indexed groupId, address indexed admin, bytes32 descriptionHash);

    /// @notice A consent group's admin changed.
    event GroupAdminChanged(uint256 indexed groupId, address indexed previousAdmin, address indexed newAdmin);

    /// @notice The caller is not a registered patient.
    error NotRegisteredPatient(address account);
    /// @notice The patient already has a commitment in the patients' group.
    error AlreadyJoined(address patient, uint256 commitment);
    /// @notice The patient has no commitment in the patients' group.
    error NotJoined(address patient);
    /// @notice `commitment` is zero or not below the SNARK scalar field.
    error InvalidCommitment(uint256 commitment);
    /// @notice The caller does not administer the consent group.
    error NotGroupAdmin(uint256 groupId, address caller);
    /// @notice The group is not a consent group created here (the patients' group has no admin).
    error UnknownGroup(uint256 groupId);
    /// @notice The patient is still registered: only the patient or governance removes them.
    error StillRegistered(address patient);
    /// @notice The proof's root was made before the group's last removal: a removed member could
    /// still prove against it, so it no longer counts, whatever the root window says.
    error RootBeforeRemoval(uint256 groupId, uint256 root);

    /// @notice Adds the caller's identity commitment to the patients' group. One per patient.
    function joinPatientGroup(uint256 commitment) external;

    /// @notice Replaces the caller's commitment (a lost or rotated Semaphore identity).
    /// @param siblings The Merkle siblings of the current commitment (from the group's events).
    function replacePatientCommitment(uint256 newCommitment, uint256[] calldata siblings) external;

    /// @notice Removes `patient`'s commitment. The patient, governance, or anyone once the patient
    /// is no longer registered.
    function removePatient(address patient, uint256[] calldata siblings) external;

    /// @notice Creates a consent group administered by the caller.
    function createGroup(bytes32 descriptionHash) external returns (uint256 groupId);

    /// @notice Adds members to a consent group. Only its admin.
    function addMembers(uint256 groupId, uint256[] calldata commitments) external;

    /// @notice Removes a member from a consent group. Only its admin.
    function removeMember(uint256 groupId, uint256 commitment, uint256[] calldata siblings) external;

    /// @notice Hands a consent group to another admin. Only its admin.
    function setGroupAdmin(uint256 groupId, address newAdmin) external;

    /// @notice Whether `proof` is a valid membership proof for `groupId` against its current root
    /// or a root younger than the group's root window and made since the group's last removal.
    /// Reverts (`RootBeforeRemoval`, Semaphore's errors for an unknown or expired root); returns
    /// false for a proof that does not verify.
    function verifyMembership(uint256 groupId, ISemaphore.SemaphoreProof calldata proof)
        external
        view
        returns (bool valid);

    /// @notice The Semaphore contract holding the groups.
    function semaphore() external view returns (ISemaphore);

    /// @notice The registered-patients group's Semaphore id.
    function patientGroupId() external view returns (uint256);

    /// @notice The patient's commitment in the patients' group, zero when none.
    function commitmentOf(address patient) external view returns (uint256);

    /// @notice A consent group's admin (zero for the patients' group and unknown ids).
    function groupAdminOf(uint256 groupId) external view returns (address);

    /// @notice How long (seconds) a replaced group root still verifies proofs.
    function rootWindow() external view returns (uint256);
}
