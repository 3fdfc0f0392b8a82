// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IGoverned} from "./IGoverned.sol";

/// @title IRecordRegistry
/// @notice Anchors commitments to encrypted records — one by one, or many device readings under
/// one Merkle root — never their content. Records are never overwritten: an amendment is a new
/// record that links to the one it supersedes.
/// @dev A record id is a salted SHA-256 commitment: `sha256(salt ‖ ciphertext)` with a fresh 32-byte
/// salt, so identical data can never be linked. A batch leaf is the OpenZeppelin StandardMerkleTree
/// leaf of one reading commitment: `keccak256(bytes.concat(keccak256(abi.encode(readingId))))`,
/// pairs hashed sorted (OZ `MerkleProof`). Record ids and batch roots share one id space per
/// patient: entries are keyed by (patient, id), so an id anchored for one patient does not block,
/// and says nothing about, the same id for another (a copied pending id gains its copier nothing).
interface IRecordRegistry is IGoverned {
    /// @notice What an anchored id is.
    enum EntryKind {
        None,
        Record,
        Batch
    }

    /// @notice One anchored record or batch (one storage slot).
    /// @param patient Whose data (also the key it is stored under; kept so an entry read alone says
    /// whose it is, at no cost: the slot has room).
    /// @param category Category code (see Category.sol).
    /// @param kind Record or Batch.
    /// @param anchoredAt Block time of anchoring.
    /// @param count Number of readings under a batch root (1 for a record).
    // 20 + 1 + 1 + 5 + 4 = 31 bytes: one slot.
    struct Entry {
        address patient;
        uint8 category;
        EntryKind kind;
        uint40 anchoredAt;
        uint32 count;
    }

    /// @notice A record commitment was anchored.
    /// @param recordId The salted commitment.
    /// @param patient Whose record.
    /// @param category Category code.
    /// @param uri Where the encrypted record is stored.
    /// @param supersedes The record this one amends, or zero.
    /// @param submitter The transaction sender.
    /// @param device The device that signed it, or address(0) when not device-signed.
    event RecordAnchored(
        bytes32 indexed recordId,
        address indexed patient,
        uint8 indexed category,
        string uri,
        bytes32 supersedes,
        address submitter,
        address device
    );

    /// @notice A batch of readings was anchored under one Merkle root.
    /// @param root The Merkle root.
    /// @param patient Whose readings.
    /// @param category Category code.
    /// @param count Number of readings (leaves).
    /// @param uri Where the encrypted batch is stored.
    /// @param submitter The transaction sender.
    /// @param device The device that signed it, or address(0).
    event BatchAnchored(
        bytes32 indexed root,
        address indexed patient,
        uint8 indexed category,
        uint32 count,
        string uri,
        address submitter,
        address device
    );

    /// @notice The id is already anchored for this patient (ids are never reused or overwritten).
    /// @param patient The patient.
    /// @param id The id.
    error AlreadyAnchored(address patient, bytes32 id);
    /// @notice A zero id, zero patient, or an empty batch.
    error InvalidCommitment();
    /// @notice Category code above 31.
    /// @param category The code.
    error InvalidCategory(uint8 category);
    /// @notice The submitter may not anchor for this patient and category.
    /// @param submitter The submitter (or signing device).
    /// @param patient The patient.
    error NotAuthorisedToAnchor(address submitter, address patient);
    /// @notice The record to amend does not exist, is a batch, or belongs to another patient.
    /// @param id The id.
    error UnknownRecord(bytes32 id);
    /// @notice The record to amend was already amended (history is linear).
    /// @param id The record.
    /// @param supersededBy Its amendment.
    error AlreadySuperseded(bytes32 id, bytes32 supersededBy);
    /// @notice An amendment must keep the category of the record it supersedes (so a submitter
    /// authorised for one category cannot retire a record of another).
    /// @param id The record to amend.
    /// @param expected Its category.
    /// @param given The amendment's category.
    error AmendmentCategoryMismatch(bytes32 id, uint8 expected, uint8 given);
    /// @notice The device signature is past its deadline.
    /// @param deadline The deadline.
    error SignatureExpired(uint256 deadline);

    /// @notice Anchor one record. Allowed for the patient, a device bound to the patient, or a
    /// PROVIDER_ROLE holder with live TREAT consent for the category. Such a provider may also
    /// amend the patient's records of that category; history stays linear (one amendment per
    /// version), and the patient amends the newest version (follow `supersededBy`).
    /// @param patient Whose record.
    /// @param recordId The salted commitment (non-zero, new).
    /// @param category Category code.
    /// @param uri Where the encrypted record is stored (emitted, not stored).
    /// @param supersedes The record this one amends (same patient and category), or zero.
    function anchorRecord(address patient, bytes32 recordId, uint8 category, string calldata uri, bytes32 supersedes)
        external;

    /// @notice Anchor one record relayed by anyone with the bound device's EIP-712 signature of
    /// `AnchorRecord(address patient,bytes32 recordId,uint8 category,string uri,bytes32 supersedes,uint256 deadline)`.
    /// No nonce is needed: an id can be anchored once, so a signature cannot be used twice.
    /// @param patient Whose record.
    /// @param recordId The commitment.
    /// @param category Category code.
    /// @param uri Storage URI.
    /// @param supersedes Amended record or zero.
    /// @param deadline Last second the signature is accepted.
    /// @param signature The device's 65-byte signature.
    function anchorRecordBySig(
        address patient,
        bytes32 recordId,
        uint8 category,
        string calldata uri,
        bytes32 supersedes,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Anchor many readings under one Merkle root; same authorisation as anchorRecord.
    /// @param patient Whose readings.
    /// @param root The Merkle root (non-zero, new).
    /// @param count Number of leaves (> 0).
    /// @param category Category code.
    /// @param uri Where the encrypted batch is stored.
    function anchorBatch(address patient, bytes32 root, uint32 count, uint8 category, string calldata uri) external;

    /// @notice Anchor a batch relayed with the bound device's EIP-712 signature of
    /// `AnchorBatch(address patient,bytes32 root,uint32 count,uint8 category,string uri,uint256 deadline)`.
    /// @param patient Whose readings.
    /// @param root The Merkle root.
    /// @param count Number of leaves.
    /// @param category Category code.
    /// @param uri Storage URI.
    /// @param deadline Last second the signature is accepted.
    /// @param signature The device's 65-byte signature.
    function anchorBatchBySig(
        address patient,
        bytes32 root,
        uint32 count,
        uint8 category,
        string calldata uri,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Whether `readingId` is a leaf of the batch `root` anchored for `patient`.
    /// @param patient Whose batch.
    /// @param root A batch root anchored for `patient` (false for anything else).
    /// @param readingId The reading commitment (the leaf value before hashing).
    /// @param proof The sibling hashes (OZ StandardMerkleTree `getProof`).
    /// @return included The answer.
    function verifyInclusion(address patient, bytes32 root, bytes32 readingId, bytes32[] calldata proof)
        external
        view
        returns (bool included);

    /// @notice An entry anchored for `patient` (kind None when unknown).
    /// @param patient Whose entry.
    /// @param id Record id or batch root.
    /// @return entry The entry.
    function entryOf(address patient, bytes32 id) external view returns (Entry memory entry);

    /// @notice The amendment that superseded a record of `patient`, or zero.
    /// @param patient Whose record.
    /// @param recordId The record.
    /// @return amendment The amending record id.
    function supersededBy(address patient, bytes32 recordId) external view returns (bytes32 amendment);

    /// @notice May `reader` read `patient`'s record or batch `id` for `purpose` now? Looks up the
    /// entry's category and asks ConsentManager.hasRecordAccess. False for ids not anchored for
    /// `patient`. For on-chain callers and readers that know an id but not its category; the
    /// gateway asks ConsentManager directly (see docs/contracts.md).
    /// @param reader Who wants to read.
    /// @param patient Whose record.
    /// @param id Record id or batch root.
    /// @param purpose Purpose code.
    /// @return allowed The answer.
    function canAccessRecord(address reader, address patient, bytes32 id, uint8 purpose)
        external
        view
        returns (bool allowed);

    /// @notice EIP-712 type hash of `AnchorRecord`.
    function ANCHOR_RECORD_TYPEHASH() external view returns (bytes32);
    /// @notice EIP-712 type hash of `AnchorBatch`.
    function ANCHOR_BATCH_TYPEHASH() external view returns (bytes32);
    /// @notice The EIP-712 domain separator (name "MedCipher RecordRegistry", version "1").
    function DOMAIN_SEPARATOR() external view returns (bytes32);
}
