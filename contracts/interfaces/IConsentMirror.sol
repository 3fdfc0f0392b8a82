// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IConsentManager} from "./IConsentManager.sol";
import {IGoverned} from "./IGoverned.sol";
import {IRecordRegistry} from "./IRecordRegistry.sol";

/// @title IConsentMirror
/// @notice Destination-chain copy of a home chain's consent and record commitments, fed only by
/// the home chain's ConsentBridge through Chainlink CCIP. It answers `hasAccess` like the home
/// ConsentManager (so a PredictionRouter on this chain can take it as its consent contract),
/// and `entryOf` / `verifyInclusion` like the home RecordRegistry.
/// @dev Ordering: a consent snapshot is applied only when its sequence is higher than the one
/// held for its (patient, grantee, purpose), so a replayed, duplicated or late message changes
/// nothing and a revocation that lands before its grant wins. Epochs only rise; records are
/// immutable; a private consent's state only moves forward (published, then revoked).
interface IConsentMirror is IGoverned {
    /// @notice The mirrored category grant of one (patient, grantee, purpose).
    /// @param sequence The sequence of the snapshot it came from.
    /// @param categories Bitmask (0: revoked or expired).
    /// @param validFrom First second of validity.
    /// @param validUntil End of validity (exclusive).
    /// @param epoch The patient's home epoch when it was sent.
    /// @param keysHash The patient's home key-set hash when it was sent.
    struct MirroredConsent {
        uint64 sequence;
        uint32 categories;
        uint40 validFrom;
        uint40 validUntil;
        uint32 epoch;
        bytes32 keysHash;
    }

    /// @notice A consent snapshot was applied.
    /// @param patient The patient.
    /// @param grantee The grantee.
    /// @param purpose Purpose code.
    /// @param sequence Its sequence.
    /// @param categories Bitmask (0: a revocation, or a grant that had expired on arrival).
    /// @param validFrom First second of validity.
    /// @param validUntil End of validity (exclusive).
    event ConsentMirrored(
        address indexed patient,
        address indexed grantee,
        uint8 indexed purpose,
        uint64 sequence,
        uint32 categories,
        uint40 validFrom,
        uint40 validUntil
    );

    /// @notice A grant snapshot arrived after its own end: recorded as a revocation.
    /// @param patient The patient.
    /// @param grantee The grantee.
    /// @param purpose Purpose code.
    /// @param sequence Its sequence.
    /// @param validUntil The end it carried.
    event ExpiredOnArrival(
        address indexed patient, address indexed grantee, uint8 indexed purpose, uint64 sequence, uint40 validUntil
    );

    /// @notice The patient's home epoch rose: grants of earlier epochs no longer count.
    /// @param patient The patient.
    /// @param epoch The new epoch.
    /// @param sequence The message's sequence.
    event EpochMirrored(address indexed patient, uint32 epoch, uint64 sequence);

    /// @notice A record commitment or batch root was mirrored.
    /// @param patient The patient.
    /// @param id The record id or batch root.
    /// @param sequence The message's sequence.
    event RecordMirrored(address indexed patient, bytes32 indexed id, uint64 sequence);

    /// @notice A private consent commitment's state was mirrored.
    /// @param commitment The commitment.
    /// @param grantedAt Home time of publication.
    /// @param revokedAt Home time of revocation (0 while live).
    /// @param sequence The message's sequence.
    event PrivateConsentMirrored(bytes32 indexed commitment, uint40 grantedAt, uint40 revokedAt, uint64 sequence);

    /// @notice A message that would change nothing (older than what is held, a duplicate, or a
    /// replay) was received and dropped; CCIP records it as executed.
    /// @param messageId CCIP's message id.
    /// @param kind ConsentMessages kind.
    /// @param sequence Its sequence.
    event StaleMessageIgnored(bytes32 indexed messageId, uint8 kind, uint64 sequence);

    /// @notice The message came from another chain than the home chain (CCIP marks it failed).
    /// @param sourceChainSelector Its source chain.
    error WrongSourceChain(uint64 sourceChainSelector);
    /// @notice The message came from another contract than the home ConsentBridge.
    /// @param sender Its sender, as CCIP encodes it.
    error WrongSender(bytes sender);
    /// @notice Not a message kind this mirror knows.
    /// @param kind The kind.
    error UnknownMessageKind(uint8 kind);

    /// @notice May `grantee` access `patient`'s data of `category` for `purpose` right now, by the
    /// consent mirrored from the home chain? Same rules as ConsentManager.hasAccess for category
    /// grants (valid purpose and category, grantee == patient, window, category bit, current
    /// epoch), plus: this chain's IdentityRegistry holds the key set the grant was sent with.
    /// Break-glass and record-scoped grants are not mirrored.
    function hasAccess(address grantee, address patient, uint8 category, uint8 purpose)
        external
        view
        returns (bool allowed);

    /// @notice ConsentManager.hasRecordAccess's signature, so a destination gateway can take the
    /// mirror as its consent contract: `hasAccess` for the record's category. Record-scoped grants
    /// are not mirrored, so `recordId` never adds access.
    function hasRecordAccess(address grantee, address patient, bytes32 recordId, uint8 category, uint8 purpose)
        external
        view
        returns (bool allowed);

    /// @notice ConsentManager.privateConsentAllows's signature: always false. Private consents
    /// are not honoured on a destination (see ConsentMirror for why); their state is mirrored
    /// for reading only (privateConsentState).
    function privateConsentAllows(
        IConsentManager.PrivateConsent calldata opening,
        bytes32 revocationHash,
        bytes calldata patientSignature,
        uint8 category,
        uint8 purpose
    ) external view returns (bool allowed);

    /// @notice The mirrored category grant (may be stale: use hasAccess).
    function consentOf(address patient, address grantee, uint8 purpose) external view returns (MirroredConsent memory);

    /// @notice The patient's highest home epoch received.
    function epochOf(address patient) external view returns (uint32);

    /// @notice The mirrored record or batch (kind None when not mirrored).
    function entryOf(address patient, bytes32 id) external view returns (IRecordRegistry.Entry memory);

    /// @notice Whether `readingId` is a leaf of the mirrored batch `root` of `patient`, by the
    /// RecordRegistry's leaf rule (`keccak256(bytes.concat(keccak256(abi.encode(readingId))))`).
    function verifyInclusion(address patient, bytes32 root, bytes32 readingId, bytes32[] calldata proof)
        external
        view
        returns (bool);

    /// @notice The mirrored state of a private consent commitment (zero when never received).
    function privateConsentState(bytes32 commitment)
        external
        view
        returns (IConsentManager.PrivateConsentState memory);

    /// @notice The only source chain accepted.
    function homeChainSelector() external view returns (uint64);

    /// @notice The only sender accepted: the home chain's ConsentBridge.
    function homeBridge() external view returns (address);
}
