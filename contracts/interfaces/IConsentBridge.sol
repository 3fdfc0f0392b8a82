// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IGoverned} from "./IGoverned.sol";

/// @title IConsentBridge
/// @notice Home-chain side of consent across chains: sends snapshots of the home chain's consent,
/// epochs, record commitments and private consent commitments to ConsentMirror contracts on other
/// chains through Chainlink CCIP. Anyone may trigger a message: it carries what the home
/// contracts hold at that moment, never caller input, so nobody can forge one. Each message to a
/// destination carries the next number of that destination's strictly increasing sequence; the
/// mirror applies a snapshot only when it is newer than the one it holds.
/// @dev Fees are paid by the caller, in native currency (`msg.value`, the excess refunded) or in
/// LINK (`transferFrom` the caller, who approves this contract first). `quoteFee` gives the fee.
interface IConsentBridge is IGoverned {
    /// @notice Where messages to a chain go.
    /// @param receiver The ConsentMirror on that chain (zero: not an allowed destination).
    /// @param gasLimit Gas the destination's `ccipReceive` may use.
    struct Destination {
        address receiver;
        uint32 gasLimit;
    }

    /// @notice Governance allowed (or re-pointed) a destination chain.
    /// @param destSelector The CCIP chain selector.
    /// @param receiver Its ConsentMirror.
    /// @param gasLimit Gas for its `ccipReceive`.
    event DestinationSet(uint64 indexed destSelector, address receiver, uint32 gasLimit);

    /// @notice Governance removed a destination chain.
    /// @param destSelector The CCIP chain selector.
    event DestinationRemoved(uint64 indexed destSelector);

    /// @notice A message left for a destination.
    /// @param destSelector The destination's CCIP chain selector.
    /// @param messageId CCIP's message id.
    /// @param kind ConsentMessages kind (1 consent, 2 epoch, 3 record, 4 private consent).
    /// @param sequence Its number in this destination's sequence.
    /// @param subject What it is about: keccak256(abi.encode(patient, grantee, purpose)) for a
    /// consent, the patient (as bytes32) for an epoch, keccak256(abi.encode(patient, id)) for a
    /// record, the commitment for a private consent. Hashed so no address is logged twice.
    /// @param fee What CCIP charged.
    /// @param paidInLink Whether the fee was paid in LINK (else native).
    event SnapshotSent(
        uint64 indexed destSelector,
        bytes32 indexed messageId,
        uint8 indexed kind,
        uint64 sequence,
        bytes32 subject,
        uint256 fee,
        bool paidInLink
    );

    /// @notice No destination is configured for this chain selector.
    /// @param destSelector The selector.
    error UnknownDestination(uint64 destSelector);
    /// @notice A destination's gas limit must be in (0, MAX_GAS_LIMIT].
    /// @param gasLimit The gas limit given.
    error InvalidGasLimit(uint32 gasLimit);
    /// @notice Purpose code outside 1..Purpose.MAX.
    /// @param purpose The code.
    error InvalidPurpose(uint8 purpose);
    /// @notice Nothing is anchored under (patient, id) on the home chain.
    /// @param patient The patient.
    /// @param id The record id or batch root.
    error UnknownEntry(address patient, bytes32 id);
    /// @notice The private consent commitment was never published on the home chain.
    /// @param commitment The commitment.
    error UnknownPrivateConsent(bytes32 commitment);
    /// @notice Not a message kind this bridge sends.
    /// @param kind The kind.
    error UnknownMessageKind(uint8 kind);
    /// @notice `msg.value` does not cover the native fee.
    /// @param sent The value sent.
    /// @param fee The fee.
    error InsufficientFee(uint256 sent, uint256 fee);
    /// @notice Value was sent with a LINK-paid message.
    /// @param value The value sent.
    error UnexpectedValue(uint256 value);
    /// @notice The refund of the excess native fee failed.
    /// @param to The caller.
    /// @param amount The excess.
    error RefundFailed(address to, uint256 amount);

    /// @notice Send the home chain's current category grant of (patient, grantee, purpose): live or
    /// future → its terms; revoked, replaced by `revokeAllConsents` or expired → a revocation.
    /// @param destSelector The destination chain.
    /// @param patient The patient.
    /// @param grantee The grantee.
    /// @param purpose Purpose code.
    /// @param payInLink Pay in LINK (approve first) instead of native.
    /// @return messageId CCIP's message id.
    function syncConsent(uint64 destSelector, address patient, address grantee, uint8 purpose, bool payInLink)
        external
        payable
        returns (bytes32 messageId);

    /// @notice Send the patient's consent epoch: after `revokeAllConsents` at home, one message
    /// ends every mirrored grant of the patient on the destination.
    /// @param destSelector The destination chain.
    /// @param patient The patient.
    /// @param payInLink Pay in LINK instead of native.
    /// @return messageId CCIP's message id.
    function syncEpoch(uint64 destSelector, address patient, bool payInLink)
        external
        payable
        returns (bytes32 messageId);

    /// @notice Send an anchored record commitment or batch root (RecordRegistry.entryOf).
    /// @param destSelector The destination chain.
    /// @param patient The patient.
    /// @param id The record id or batch root.
    /// @param payInLink Pay in LINK instead of native.
    /// @return messageId CCIP's message id.
    function syncRecord(uint64 destSelector, address patient, bytes32 id, bool payInLink)
        external
        payable
        returns (bytes32 messageId);

    /// @notice Send a private consent commitment's state (published at, revoked at): no address
    /// travels, as on the home chain.
    /// @param destSelector The destination chain.
    /// @param commitment The commitment.
    /// @param payInLink Pay in LINK instead of native.
    /// @return messageId CCIP's message id.
    function syncPrivateConsent(uint64 destSelector, bytes32 commitment, bool payInLink)
        external
        payable
        returns (bytes32 messageId);

    /// @notice Allow a destination chain, re-point it, or (receiver zero) remove it. Governance only.
    /// @param destSelector The CCIP chain selector.
    /// @param receiver Its ConsentMirror, or zero to remove.
    /// @param gasLimit Gas for its `ccipReceive` (ignored when removing).
    function setDestination(uint64 destSelector, address receiver, uint32 gasLimit) external;

    /// @notice The fee CCIP charges now for a message of `kind` to `destSelector`.
    /// @param destSelector The destination chain.
    /// @param kind ConsentMessages kind.
    /// @param payInLink In LINK (juels) instead of native (wei).
    /// @return fee The fee.
    function quoteFee(uint64 destSelector, uint8 kind, bool payInLink) external view returns (uint256 fee);

    /// @notice A destination's configuration (receiver zero when not allowed).
    function destinationOf(uint64 destSelector) external view returns (Destination memory);

    /// @notice The sequence number of the last message sent to `destSelector` (0 before the first).
    function sequenceOf(uint64 destSelector) external view returns (uint64);

    /// @notice The CCIP router messages are sent through.
    function ccipRouter() external view returns (address);

    /// @notice The LINK token fees may be paid in.
    function linkToken() external view returns (address);

    /// @notice Upper bound of a destination's gas limit.
    function MAX_GAS_LIMIT() external view returns (uint32);
}
