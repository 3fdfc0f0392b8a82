// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IOperatorExpiry
/// @notice The one Chainlink Operator constant the router reads: how long after a request the
/// requester may cancel it. The router stores the same expiration the Operator commits to.
interface IOperatorExpiry {
    /// @notice Seconds from request to cancel expiration (5 minutes in Operator 1.0.0).
    function EXPIRYTIME() external view returns (uint256);
}
