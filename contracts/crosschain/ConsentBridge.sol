// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IRouterClient} from "@chainlink/contracts-ccip/contracts/interfaces/IRouterClient.sol";
import {Client} from "@chainlink/contracts-ccip/contracts/libraries/Client.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {IdentityGoverned} from "../access/IdentityGoverned.sol";
import {IConsentBridge} from "../interfaces/IConsentBridge.sol";
import {IConsentManager} from "../interfaces/IConsentManager.sol";
import {IIdentityRegistry} from "../interfaces/IIdentityRegistry.sol";
import {IRecordRegistry} from "../interfaces/IRecordRegistry.sol";
import {Purpose} from "../libraries/Purpose.sol";
import {ConsentMessages} from "./ConsentMessages.sol";

/// @title ConsentBridge
/// @notice Sends snapshots of the home chain's consent and record commitments through Chainlink
/// CCIP to ConsentMirror contracts. See {IConsentBridge}.
contract ConsentBridge is IConsentBridge, IdentityGoverned {
    using SafeERC20 for IERC20;

    /// @inheritdoc IConsentBridge
    /// @dev CCIP's per-message execution gas cap on its public lanes.
    uint32 public constant MAX_GAS_LIMIT = 3_000_000;

    IConsentManager private immutable _consent;
    IRecordRegistry private immutable _records;
    IRouterClient private immutable _router;
    IERC20 private immutable _link;

    mapping(uint64 destSelector => Destination) private _destinations;
    mapping(uint64 destSelector => uint64 sequence) private _sequences;

    /// @param identity_ The home IdentityRegistry (governance, patients' key sets).
    /// @param consent_ The home ConsentManager.
    /// @param records_ The home RecordRegistry.
    /// @param router_ This chain's CCIP router.
    /// @param link_ This chain's LINK token.
    constructor(
        IIdentityRegistry identity_,
        IConsentManager consent_,
        IRecordRegistry records_,
        IRouterClient router_,
        IERC20 link_
    ) IdentityGoverned(identity_) {
        if (
            address(consent_) == address(0) || address(records_) == address(0) || address(router_) == address(0)
                || address(link_) == address(0)
        ) revert ZeroAddress();
        _checkSameIdentity(consent_);
        _checkSameIdentity(records_);
        _consent = consent_;
        _records = records_;
        _router = router_;
        _link = link_;
    }

    // ─── Messages ──────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IConsentBridge
    function syncConsent(uint64 destSelector, address patient, address grantee, uint8 purpose, bool payInLink)
        external
        payable
        returns (bytes32 messageId)
    {
        if (!Purpose.isValid(purpose)) revert InvalidPurpose(purpose);
        IConsentManager.Grant memory g = _consent.grantOf(patient, grantee, purpose);
        uint32 epoch = _consent.epochOf(patient);
        (bytes32 keysHash,) = _identity.keySetOf(patient);
        ConsentMessages.ConsentSnapshot memory snapshot =
            ConsentMessages.ConsentSnapshot(patient, grantee, purpose, 0, 0, 0, epoch, keysHash);
        // Live or future at home: its terms. Anything else (revoked, older epoch, expired) is a
        // revocation on the destination, whatever terms are left in the home slot.
        if (g.categories != 0 && g.epoch == epoch && block.timestamp < g.validUntil) {
            snapshot.categories = g.categories;
            snapshot.validFrom = g.validFrom;
            snapshot.validUntil = g.validUntil;
        }
        messageId = _send(
            destSelector,
            ConsentMessages.CONSENT,
            abi.encode(snapshot),
            keccak256(abi.encode(patient, grantee, purpose)),
            payInLink
        );
    }

    /// @inheritdoc IConsentBridge
    function syncEpoch(uint64 destSelector, address patient, bool payInLink)
        external
        payable
        returns (bytes32 messageId)
    {
        ConsentMessages.EpochSnapshot memory snapshot =
            ConsentMessages.EpochSnapshot(patient, _consent.epochOf(patient));
        messageId = _send(
            destSelector, ConsentMessages.EPOCH, abi.encode(snapshot), bytes32(uint256(uint160(patient))), payInLink
        );
    }

    /// @inheritdoc IConsentBridge
    function syncRecord(uint64 destSelector, address patient, bytes32 id, bool payInLink)
        external
        payable
        returns (bytes32 messageId)
    {
        IRecordRegistry.Entry memory entry = _records.entryOf(patient, id);
        if (entry.kind == IRecordRegistry.EntryKind.None) revert UnknownEntry(patient, id);
        messageId = _send(
            destSelector,
            ConsentMessages.RECORD,
            abi.encode(ConsentMessages.RecordSnapshot(id, entry)),
            keccak256(abi.encode(patient, id)),
            payInLink
        );
    }

    /// @inheritdoc IConsentBridge
    function syncPrivateConsent(uint64 destSelector, bytes32 commitment, bool payInLink)
        external
        payable
        returns (bytes32 messageId)
    {
        IConsentManager.PrivateConsentState memory state = _consent.privateConsentState(commitment);
        if (state.grantedAt == 0) revert UnknownPrivateConsent(commitment);
        messageId = _send(
            destSelector,
            ConsentMessages.PRIVATE_CONSENT,
            abi.encode(ConsentMessages.PrivateConsentSnapshot(commitment, state)),
            commitment,
            payInLink
        );
    }

    // ─── Governance ────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IConsentBridge
    function setDestination(uint64 destSelector, address receiver, uint32 gasLimit) external onlyGovernance {
        if (receiver == address(0)) {
            delete _destinations[destSelector];
            emit DestinationRemoved(destSelector);
            return;
        }
        if (gasLimit == 0 || gasLimit > MAX_GAS_LIMIT) revert InvalidGasLimit(gasLimit);
        _destinations[destSelector] = Destination(receiver, gasLimit);
        emit DestinationSet(destSelector, receiver, gasLimit);
    }

    // ─── Views ─────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IConsentBridge
    function quoteFee(uint64 destSelector, uint8 kind, bool payInLink) external view returns (uint256) {
        Destination memory d = _destinationOrRevert(destSelector);
        bytes memory body = _emptyBody(kind);
        return _router.getFee(destSelector, _message(d, ConsentMessages.encode(kind, 0, body), payInLink));
    }

    /// @inheritdoc IConsentBridge
    function destinationOf(uint64 destSelector) external view returns (Destination memory) {
        return _destinations[destSelector];
    }

    /// @inheritdoc IConsentBridge
    function sequenceOf(uint64 destSelector) external view returns (uint64) {
        return _sequences[destSelector];
    }

    /// @inheritdoc IConsentBridge
    function ccipRouter() external view returns (address) {
        return address(_router);
    }

    /// @inheritdoc IConsentBridge
    function linkToken() external view returns (address) {
        return address(_link);
    }

    // ─── Internal ──────────────────────────────────────────────────────────────────────────────

    function _send(uint64 destSelector, uint8 kind, bytes memory body, bytes32 subject, bool payInLink)
        private
        returns (bytes32 messageId)
    {
        Destination memory d = _destinationOrRevert(destSelector);
        // One counter per destination, across every kind and key: a snapshot taken later always
        // carries a higher number than any taken earlier, which is all the mirror's rule needs.
        uint64 sequence = ++_sequences[destSelector];
        Client.EVM2AnyMessage memory message = _message(d, ConsentMessages.encode(kind, sequence, body), payInLink);
        uint256 fee = _router.getFee(destSelector, message);
        uint256 refund;
        if (payInLink) {
            if (msg.value != 0) revert UnexpectedValue(msg.value);
            _link.safeTransferFrom(msg.sender, address(this), fee);
            _link.forceApprove(address(_router), fee);
            messageId = _router.ccipSend(destSelector, message);
        } else {
            if (msg.value < fee) revert InsufficientFee(msg.value, fee);
            refund = msg.value - fee;
            messageId = _router.ccipSend{value: fee}(destSelector, message);
        }
        emit SnapshotSent(destSelector, messageId, kind, sequence, subject, fee, payInLink);
        if (refund != 0) {
            (bool ok,) = msg.sender.call{value: refund}("");
            if (!ok) revert RefundFailed(msg.sender, refund);
        }
    }

    function _message(Destination memory d, bytes memory data, bool payInLink)
        private
        view
        returns (Client.EVM2AnyMessage memory)
    {
        return Client.EVM2AnyMessage({
            receiver: abi.encode(d.receiver),
            data: data,
            tokenAmounts: new Client.EVMTokenAmount[](0),
            feeToken: payInLink ? address(_link) : address(0),
            // Out-of-order execution allowed: the mirror's sequence rule makes delivery order
            // irrelevant, and CCIP then never holds a message back behind a failed one.
            extraArgs: Client._argsToBytes(
                Client.GenericExtraArgsV2({gasLimit: d.gasLimit, allowOutOfOrderExecution: true})
            )
        });
    }

    function _destinationOrRevert(uint64 destSelector) private view returns (Destination memory d) {
        d = _destinations[destSelector];
        if (d.receiver == address(0)) revert UnknownDestination(destSelector);
    }

    /// @dev A zero body of the kind's shape: every body has a fixed length, so its fee is the fee.
    function _emptyBody(uint8 kind) private pure returns (bytes memory) {
        if (kind == ConsentMessages.CONSENT) {
            ConsentMessages.ConsentSnapshot memory c;
            return abi.encode(c);
        }
        if (kind == ConsentMessages.EPOCH) {
            ConsentMessages.EpochSnapshot memory e;
            return abi.encode(e);
        }
        if (kind == ConsentMessages.RECORD) {
            ConsentMessages.RecordSnapshot memory r;
            return abi.encode(r);
        }
        if (kind == ConsentMessages.PRIVATE_CONSENT) {
            ConsentMessages.PrivateConsentSnapshot memory p;
            return abi.encode(p);
        }
        revert UnknownMessageKind(kind);
    }
}
