// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IGoverned} from "./IGoverned.sol";

/// @title IAuditLogAnchor
/// @notice GATEWAY_ROLE accounts periodically anchor the tree head of their access log — the
/// root of a Certificate-Transparency Merkle tree (RFC 9162) over the log's entries, and its
/// size — so a gateway cannot later rewrite who read what: every later head must be an
/// append-only extension of the anchored one (checked off-chain with a consistency proof).
interface IAuditLogAnchor is IGoverned {
    /// @notice One anchored tree head.
    /// @param headHash Merkle root (RFC 9162) of the first `entryCount` log entries.
    /// @param entryCount Number of entries the root covers (the tree size).
    /// @param anchoredAt Block time.
    struct Head {
        bytes32 headHash;
        uint64 entryCount;
        uint40 anchoredAt;
    }

    /// @notice A gateway anchored its audit-log tree head.
    /// @param gateway The gateway signing account.
    /// @param headHash The new root.
    /// @param entryCount Entries covered.
    /// @param previousHead The previous anchored root (zero at first).
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
    /// @notice One anchor may add at most `maxGrowth` entries, so a wrong or hostile count (up to
    /// 2^64 - 1) cannot claim entries nobody can check, nor end the gateway's anchoring for good.
    /// @param previous The anchored count.
    /// @param given The count given.
    /// @param maxGrowth The most entries one anchor may add.
    error EntryCountGrowthTooLarge(uint64 previous, uint64 given, uint64 maxGrowth);

    /// @notice The most entries one anchor may add (2^32: at 1,000 audited requests a second,
    /// 49 days between anchors; the gateway anchors every minute).
    /// @return maxGrowth The bound.
    function MAX_ENTRIES_PER_ANCHOR() external view returns (uint64 maxGrowth);

    /// @notice Anchor the caller's (a GATEWAY_ROLE holder) audit-log tree head.
    /// @param headHash Merkle root of the first `entryCount` entries.
    /// @param entryCount Entries covered: greater than last time, by at most MAX_ENTRIES_PER_ANCHOR.
    function anchorHead(bytes32 headHash, uint64 entryCount) external;

    /// @notice The latest head anchored by `gateway`.
    /// @param gateway The gateway account.
    /// @return head The head (all zero if none).
    function latestHead(address gateway) external view returns (Head memory head);
}
