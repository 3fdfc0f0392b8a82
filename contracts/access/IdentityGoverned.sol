// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IGoverned} from "../interfaces/IGoverned.sol";
import {IIdentityRegistry} from "../interfaces/IIdentityRegistry.sol";

/// @title IdentityGoverned
/// @notice Base for contracts that take roles and governance from the IdentityRegistry, so one
/// 2-step, delay-protected admin governs the whole suite.
abstract contract IdentityGoverned is IGoverned {
    IIdentityRegistry internal immutable _identity;

    /// @param identity_ The IdentityRegistry.
    constructor(IIdentityRegistry identity_) {
        if (address(identity_) == address(0)) revert ZeroAddress();
        _identity = identity_;
    }

    /// @notice Only the IdentityRegistry's default admin.
    modifier onlyGovernance() {
        _checkGovernance(msg.sender);
        _;
    }

    /// @inheritdoc IGoverned
    function identityRegistry() external view returns (address) {
        return address(_identity);
    }

    /// @dev For constructors: `dependency` must answer to the same IdentityRegistry, or its
    /// consent and role answers would come from another governance.
    function _checkSameIdentity(IGoverned dependency) internal view {
        address itsRegistry = dependency.identityRegistry();
        if (itsRegistry != address(_identity)) revert IdentityRegistryMismatch(address(dependency), itsRegistry);
    }

    function _checkGovernance(address account) internal view virtual {
        if (account != _identity.defaultAdmin()) revert NotGovernance(account);
    }

    function _checkRole(bytes32 role, address account) internal view virtual {
        if (!_identity.hasRole(role, account)) revert MissingRole(account, role);
    }
}
