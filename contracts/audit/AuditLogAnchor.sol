// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IdentityGoverned} from "../access/IdentityGoverned.sol";
import {IAuditLogAnchor} from "../interfaces/IAuditLogAnchor.sol";
import {IIdentityRegistry} from "../interfaces/IIdentityRegistry.sol";

/// @title AuditLogAnchor
/// @notice Latest audit-log tree head (Merkle root and size) per gateway. See {IAuditLogAnchor}.
contract AuditLogAnchor is IAuditLogAnchor, IdentityGoverned {
    /// @inheritdoc IAuditLogAnchor
    uint64 public constant MAX_ENTRIES_PER_ANCHOR = 2 ** 32;

    mapping(address gateway => Head) private _heads;

    /// @param identity_ The IdentityRegistry (GATEWAY_ROLE).
    constructor(IIdentityRegistry identity_) IdentityGoverned(identity_) {}

    /// @inheritdoc IAuditLogAnchor
    function anchorHead(bytes32 headHash, uint64 entryCount) external {
        _checkRole(_identity.GATEWAY_ROLE(), msg.sender);
        if (headHash == bytes32(0)) revert InvalidHead();
        Head memory previous = _heads[msg.sender];
        if (entryCount <= previous.entryCount) revert EntryCountNotIncreasing(previous.entryCount, entryCount);
        if (entryCount - previous.entryCount > MAX_ENTRIES_PER_ANCHOR) {
            revert EntryCountGrowthTooLarge(previous.entryCount, entryCount, MAX_ENTRIES_PER_ANCHOR);
        }
        _heads[msg.sender] = Head(headHash, entryCount, uint40(block.timestamp));
        emit AuditHeadAnchored(msg.sender, headHash, entryCount, previous.headHash, previous.entryCount);
    }

    /// @inheritdoc IAuditLogAnchor
    function latestHead(address gateway) external view returns (Head memory) {
        return _heads[gateway];
    }
}
