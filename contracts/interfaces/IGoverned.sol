// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IGoverned
/// @notice Shared by the MedCipher contracts that take their governance and roles from the
/// IdentityRegistry: governance is the registry's default admin (a 2-step, delay-protected admin).
interface IGoverned {
    /// @notice The caller is not the governance account (the IdentityRegistry's default admin).
    /// @param caller The account that tried a governance action.
    error NotGovernance(address caller);

    /// @notice `account` lacks `role` in the IdentityRegistry.
    /// @param account The account checked.
    /// @param role The role it needed.
    error MissingRole(address account, bytes32 role);

    /// @notice A required address argument was zero.
    error ZeroAddress();

    /// @notice A MedCipher contract passed in takes its roles and governance from another
    /// IdentityRegistry than this one (a mixed-up deployment).
    /// @param dependency The contract passed in.
    /// @param itsRegistry The IdentityRegistry it answers to.
    error IdentityRegistryMismatch(address dependency, address itsRegistry);

    /// @notice The IdentityRegistry this contract takes roles and governance from.
    function identityRegistry() external view returns (address);
}
