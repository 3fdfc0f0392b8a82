// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IConsentManager} from "../interfaces/IConsentManager.sol";
import {IRecordRegistry} from "../interfaces/IRecordRegistry.sol";

/// @title ConsentMessages
/// @notice The wire format between ConsentBridge (home chain) and ConsentMirror (destination):
/// `abi.encode(uint8 kind, uint64 sequence, bytes body)`, the body being the ABI encoding of the
/// kind's snapshot struct. Every body has a fixed length, so a fee quoted for a kind is the fee.
library ConsentMessages {
    /// @notice A (patient, grantee, purpose) category grant as the home chain holds it now.
    uint8 internal constant CONSENT = 1;
    /// @notice A patient's consent epoch (`revokeAllConsents` raises it).
    uint8 internal constant EPOCH = 2;
    /// @notice An anchored record or batch (immutable once anchored).
    uint8 internal constant RECORD = 3;
    /// @notice A private consent commitment's state (no addresses).
    uint8 internal constant PRIVATE_CONSENT = 4;

    /// @notice What the home chain says about one category grant. A grant that is not live or
    /// future at home (revoked, replaced by an epoch, expired) travels as categories = 0 with a
    /// zero window: a revocation snapshot.
    /// @param keysHash The patient's home key-set hash (IdentityRegistry.keySetOf) when sent: the
    /// destination honours the grant only while its own registry holds the same key set.
    struct ConsentSnapshot {
        address patient;
        address grantee;
        uint8 purpose;
        uint32 categories;
        uint40 validFrom;
        uint40 validUntil;
        uint32 epoch;
        bytes32 keysHash;
    }

    struct EpochSnapshot {
        address patient;
        uint32 epoch;
    }

    struct RecordSnapshot {
        bytes32 id;
        IRecordRegistry.Entry entry;
    }

    struct PrivateConsentSnapshot {
        bytes32 commitment;
        IConsentManager.PrivateConsentState state;
    }

    function encode(uint8 kind, uint64 sequence, bytes memory body) internal pure returns (bytes memory) {
        return abi.encode(kind, sequence, body);
    }

    function decode(bytes memory data) internal pure returns (uint8 kind, uint64 sequence, bytes memory body) {
        return abi.decode(data, (uint8, uint64, bytes));
    }
}
