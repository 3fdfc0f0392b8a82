// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IChainlinkOperator
/// @notice The part of Chainlink's Operator 1.0.0 (`operatorforwarder/Operator.sol`) the router
/// uses: the request entry point it reaches through LINK `transferAndCall`, cancellation, and the
/// owner functions it exercises as the Operator's owner (so that no other account holds them:
/// the owner could otherwise post any result through `ownerForward` and set the oracle senders).
interface IChainlinkOperator {
    /// @notice Seconds from request to cancel expiration (5 minutes in Operator 1.0.0).
    function EXPIRYTIME() external view returns (uint256);

    /// @notice Request entry, called by the Operator itself from `onTokenTransfer`; the request id
    /// is `keccak256(abi.encodePacked(sender, nonce))` and must be new.
    function operatorRequest(
        address sender,
        uint256 payment,
        bytes32 specId,
        bytes4 callbackFunctionId,
        uint256 nonce,
        uint256 dataVersion,
        bytes calldata data
    ) external;

    /// @notice Returns an unfulfilled request's escrowed LINK to its requester once expired.
    function cancelOracleRequest(bytes32 requestId, uint256 payment, bytes4 callbackFunc, uint256 expiration)
        external;

    /// @notice Completes a 2-step ownership transfer to the caller.
    function acceptOwnership() external;

    /// @notice The current owner.
    function owner() external view returns (address);

    /// @notice Replaces the accounts allowed to call `fulfillOracleRequest2` (at least one).
    function setAuthorizedSenders(address[] calldata senders) external;

    /// @notice The accounts allowed to call `fulfillOracleRequest2`.
    function getAuthorizedSenders() external view returns (address[] memory);

    /// @notice Sends earned (not escrowed) LINK; owner only.
    function withdraw(address recipient, uint256 amount) external;

    /// @notice LINK earned by fulfilments and not yet withdrawn.
    function withdrawable() external view returns (uint256);
}
