// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IGoverned} from "./IGoverned.sol";

/// @title IAuditLogAnchor
/// @notice GATEWAY_ROLE accounts periodically anchor the head of their hash-chained access log,
/// so a gateway cannot later rewrite who read what.
interface IAuditLogAnchor is IGoverned {
    /// @notice One anchored head.
    /// @param headHash Hash of the latest log entry (which chains all previous ones).
    /// @param entryCount Number of entries the head covers.
    /// @param anchoredAt Block time.
    struct Head {
        bytes32 headHash;
        uint64 entryCount;
        uint40 anchoredAt;
    }

    /// @notice A gateway anchored its audit-log head.
    /// @param gateway The gateway signing account.
    /// @param headHash The new head.
    /// @param entryCount Entries covered.
    /// @param previousHead The previous anchored head (zero at first).
    /// @param previousCount The previous entry count.
    event AuditHeadAnchored(
        address indexed gateway, bytes32 indexed headHash, uint64 entryCount, bytes32 previousHead, uint64 previousCount
    );

    /// @notice A zero head hash.
    error InvalidHead();
    /// @notice The entry count must grow with every anchor.
    /// @param previous The anchored count.
    /// @param given The count given.
    error EntryCountNotIncreasing(uint64 previous, uint64 given);

    /// @notice Anchor the caller's (a GATEWAY_ROLE holder) audit-log head.
    /// @param headHash Hash of the latest entry.
    /// @param entryCount Entries covered (greater than last time).
    function anchorHead(bytes32 headHash, uint64 entryCount) external;

    /// @notice The latest head anchored by `gateway`.
    /// @param gateway The gateway account.
    /// @return head The head (all zero if none).
    function latestHead(address gateway) external view returns (Head memory head);
}
