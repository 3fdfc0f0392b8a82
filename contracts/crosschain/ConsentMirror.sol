// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {CCIPReceiver} from "@chainlink/contracts-ccip/contracts/applications/CCIPReceiver.sol";
import {Client} from "@chainlink/contracts-ccip/contracts/libraries/Client.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IdentityGoverned} from "../access/IdentityGoverned.sol";
import {IConsentManager} from "../interfaces/IConsentManager.sol";
import {IConsentMirror} from "../interfaces/IConsentMirror.sol";
import {IIdentityRegistry} from "../interfaces/IIdentityRegistry.sol";
import {IRecordRegistry} from "../interfaces/IRecordRegistry.sol";
import {Category} from "../libraries/Category.sol";
import {Purpose} from "../libraries/Purpose.sol";
import {ConsentMessages} from "./ConsentMessages.sol";

/// @title ConsentMirror
/// @notice The home chain's consent and record commitments on a destination chain, received
/// through Chainlink CCIP from one ConsentBridge. See {IConsentMirror}.
/// @dev The home chain and bridge are fixed at deployment: sequences are numbered by that bridge,
/// so accepting another sender later would let its fresh numbering be mistaken for old news.
/// Re-homing means deploying a new mirror.
contract ConsentMirror is IConsentMirror, IdentityGoverned, CCIPReceiver {
    uint64 private immutable _homeChainSelector;
    address private immutable _homeBridge;

    mapping(address patient => mapping(address grantee => mapping(uint8 purpose => MirroredConsent))) private
        _consents;
    mapping(address patient => uint32) private _epochs;
    mapping(address patient => mapping(bytes32 id => IRecordRegistry.Entry)) private _entries;
    mapping(bytes32 commitment => IConsentManager.PrivateConsentState) private _privateConsents;

    /// @param identity_ This chain's IdentityRegistry (governance; the patients' key sets).
    /// @param router_ This chain's CCIP router.
    /// @param homeChainSelector_ The home chain's CCIP selector.
    /// @param homeBridge_ The ConsentBridge on the home chain.
    constructor(IIdentityRegistry identity_, address router_, uint64 homeChainSelector_, address homeBridge_)
        IdentityGoverned(identity_)
        CCIPReceiver(router_)
    {
        if (homeBridge_ == address(0)) revert ZeroAddress();
        _homeChainSelector = homeChainSelector_;
        _homeBridge = homeBridge_;
    }

    // ─── Receiving ─────────────────────────────────────────────────────────────────────────────

    /// @dev Reverting makes CCIP record the message as failed: nothing is applied. Only a message
    /// from the home bridge on the home chain gets past the first two checks.
    function _ccipReceive(Client.Any2EVMMessage memory message) internal override {
        if (message.sourceChainSelector != _homeChainSelector) revert WrongSourceChain(message.sourceChainSelector);
        if (keccak256(message.sender) != keccak256(abi.encode(_homeBridge))) revert WrongSender(message.sender);
        (uint8 kind, uint64 sequence, bytes memory body) = ConsentMessages.decode(message.data);
        bool applied;
        if (kind == ConsentMessages.CONSENT) {
            applied = _applyConsent(sequence, abi.decode(body, (ConsentMessages.ConsentSnapshot)));
        } else if (kind == ConsentMessages.EPOCH) {
            applied = _applyEpoch(sequence, abi.decode(body, (ConsentMessages.EpochSnapshot)));
        } else if (kind == ConsentMessages.RECORD) {
            applied = _applyRecord(sequence, abi.decode(body, (ConsentMessages.RecordSnapshot)));
        } else if (kind == ConsentMessages.PRIVATE_CONSENT) {
            applied = _applyPrivateConsent(sequence, abi.decode(body, (ConsentMessages.PrivateConsentSnapshot)));
        } else {
            revert UnknownMessageKind(kind);
        }
        // Not a revert: CCIP would keep a failed message for manual re-execution, and re-running
        // old news can only ever be dropped again.
        if (!applied) emit StaleMessageIgnored(message.messageId, kind, sequence);
    }

    function _applyConsent(uint64 sequence, ConsentMessages.ConsentSnapshot memory s) private returns (bool) {
        MirroredConsent storage held = _consents[s.patient][s.grantee][s.purpose];
        if (sequence <= held.sequence) return false;
        // The snapshot also says which epoch the home chain was at when it was taken.
        if (s.epoch > _epochs[s.patient]) {
            _epochs[s.patient] = s.epoch;
            emit EpochMirrored(s.patient, s.epoch, sequence);
        }
        if (s.categories != 0 && s.validUntil <= block.timestamp) {
            emit ExpiredOnArrival(s.patient, s.grantee, s.purpose, sequence, s.validUntil);
            (s.categories, s.validFrom, s.validUntil) = (0, 0, 0);
        }
        _consents[s.patient][s.grantee][s.purpose] =
            MirroredConsent(sequence, s.categories, s.validFrom, s.validUntil, s.epoch, s.keysHash);
        emit ConsentMirrored(s.patient, s.grantee, s.purpose, sequence, s.categories, s.validFrom, s.validUntil);
        return true;
    }

    function _applyEpoch(uint64 sequence, ConsentMessages.EpochSnapshot memory s) private returns (bool) {
        // Epochs only rise at home, so the highest one seen is the newest.
        if (s.epoch <= _epochs[s.patient]) return false;
        _epochs[s.patient] = s.epoch;
        emit EpochMirrored(s.patient, s.epoch, sequence);
        return true;
    }

    function _applyRecord(uint64 sequence, ConsentMessages.RecordSnapshot memory s) private returns (bool) {
        address patient = s.entry.patient;
        // Entries are never overwritten at home: the first copy is the only one.
        if (_entries[patient][s.id].kind != IRecordRegistry.EntryKind.None) return false;
        _entries[patient][s.id] = s.entry;
        emit RecordMirrored(patient, s.id, sequence);
        return true;
    }

    function _applyPrivateConsent(uint64 sequence, ConsentMessages.PrivateConsentSnapshot memory s)
        private
        returns (bool)
    {
        IConsentManager.PrivateConsentState memory held = _privateConsents[s.commitment];
        // Published, then revoked, each once: keep every step either copy has seen.
        bool publishes = held.grantedAt == 0;
        bool revokes = held.revokedAt == 0 && s.state.revokedAt != 0;
        if (!publishes && !revokes) return false;
        if (publishes) held.grantedAt = s.state.grantedAt;
        if (revokes) held.revokedAt = s.state.revokedAt;
        _privateConsents[s.commitment] = held;
        emit PrivateConsentMirrored(s.commitment, held.grantedAt, held.revokedAt, sequence);
        return true;
    }

    // ─── Views ─────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IConsentMirror
    function hasAccess(address grantee, address patient, uint8 category, uint8 purpose) public view returns (bool) {
        if (!Purpose.isValid(purpose) || category > Category.MAX || patient == address(0)) return false;
        if (grantee == patient) return true;
        MirroredConsent memory c = _consents[patient][grantee][purpose];
        if ((c.categories & Category.bit(category)) == 0 || c.epoch != _epochs[patient]) return false;
        if (block.timestamp < c.validFrom || block.timestamp >= c.validUntil) return false;
        // The grant was given for the key set the patient held at home; keys registered here
        // under the same address but not the same key set get nothing from it.
        (bytes32 keysHash,) = _identity.keySetOf(patient);
        return keysHash == c.keysHash;
    }

    /// @inheritdoc IConsentMirror
    /// @dev Only the category-grant half of ConsentManager.hasRecordAccess: record-scoped grants
    /// are not mirrored (the bridge has no message for them), so no recordId adds anything here.
    function hasRecordAccess(address grantee, address patient, bytes32, uint8 category, uint8 purpose)
        external
        view
        returns (bool)
    {
        return hasAccess(grantee, patient, category, purpose);
    }

    /// @inheritdoc IConsentMirror
    /// @dev Always false, whatever the mirrored commitment state says. The commitment's state is
    /// not enough to honour an opening here: (1) the patient signs the opening under the home
    /// ConsentManager's EIP-712 domain, and a contract-wallet patient's ERC-1271 signature can be
    /// checked only on the home chain (this address here may be another contract, or none);
    /// (2) a private consent snapshot carries no key-set hash (no patient address travels), so the
    /// key-set rule that guards mirrored category grants could not be applied. Destination
    /// contracts that need the state read privateConsentState.
    function privateConsentAllows(
        IConsentManager.PrivateConsent calldata,
        bytes32,
        bytes calldata,
        uint8,
        uint8
    ) external pure returns (bool) {
        return false;
    }

    /// @inheritdoc IConsentMirror
    function consentOf(address patient, address grantee, uint8 purpose) external view returns (MirroredConsent memory) {
        return _consents[patient][grantee][purpose];
    }

    /// @inheritdoc IConsentMirror
    function epochOf(address patient) external view returns (uint32) {
        return _epochs[patient];
    }

    /// @inheritdoc IConsentMirror
    function entryOf(address patient, bytes32 id) external view returns (IRecordRegistry.Entry memory) {
        return _entries[patient][id];
    }

    /// @inheritdoc IConsentMirror
    function verifyInclusion(address patient, bytes32 root, bytes32 readingId, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        if (_entries[patient][root].kind != IRecordRegistry.EntryKind.Batch) return false;
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(readingId))));
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }

    /// @inheritdoc IConsentMirror
    function privateConsentState(bytes32 commitment)
        external
        view
        returns (IConsentManager.PrivateConsentState memory)
    {
        return _privateConsents[commitment];
    }

    /// @inheritdoc IConsentMirror
    function homeChainSelector() external view returns (uint64) {
        return _homeChainSelector;
    }

    /// @inheritdoc IConsentMirror
    function homeBridge() external view returns (address) {
        return _homeBridge;
    }
}
