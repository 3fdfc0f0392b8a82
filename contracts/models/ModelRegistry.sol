// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IdentityGoverned} from "../access/IdentityGoverned.sol";
import {IIdentityRegistry} from "../interfaces/IIdentityRegistry.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";

/// @title ModelRegistry
/// @notice Prediction models registered and retired by governance. See {IModelRegistry}.
contract ModelRegistry is IModelRegistry, IdentityGoverned {
    mapping(uint32 modelId => Model) private _models;
    mapping(bytes32 nameVersionHash => uint32 modelId) private _ids;
    uint32 private _count;

    /// @param identity_ The IdentityRegistry whose default admin governs.
    constructor(IIdentityRegistry identity_) IdentityGoverned(identity_) {}

    /// @inheritdoc IModelRegistry
    function registerModel(ModelSpec calldata spec) external onlyGovernance returns (uint32 modelId) {
        if (
            bytes(spec.name).length == 0 || bytes(spec.version).length == 0 || spec.weightsHash == bytes32(0)
                || spec.paramSetId == bytes32(0) || spec.encodingSpecHash == bytes32(0)
        ) revert InvalidModelSpec();
        bytes32 key = _key(spec.name, spec.version);
        uint32 existing = _ids[key];
        if (existing != 0) revert DuplicateModel(existing);

        modelId = ++_count;
        _ids[key] = modelId;
        Model storage m = _models[modelId];
        m.spec = spec;
        m.registeredAt = uint40(block.timestamp);
        _emitRegistered(modelId, spec);
    }

    /// @inheritdoc IModelRegistry
    function retireModel(uint32 modelId) external onlyGovernance {
        Model storage m = _existing(modelId);
        if (m.retiredAt != 0) revert ModelAlreadyRetired(modelId);
        m.retiredAt = uint40(block.timestamp);
        emit ModelRetired(modelId, msg.sender);
    }

    /// @inheritdoc IModelRegistry
    function modelOf(uint32 modelId) external view returns (Model memory) {
        return _existing(modelId);
    }

    /// @inheritdoc IModelRegistry
    function modelStatus(uint32 modelId) external view returns (bool active, bytes32 paramSetId) {
        Model storage m = _models[modelId];
        if (m.registeredAt == 0) return (false, bytes32(0));
        return (m.retiredAt == 0, m.spec.paramSetId);
    }

    /// @inheritdoc IModelRegistry
    function modelIdOf(string calldata name, string calldata version) external view returns (uint32) {
        return _ids[_key(name, version)];
    }

    /// @inheritdoc IModelRegistry
    function modelCount() external view returns (uint32) {
        return _count;
    }

    function _existing(uint32 modelId) private view returns (Model storage m) {
        m = _models[modelId];
        if (m.registeredAt == 0) revert UnknownModel(modelId);
    }

    /// @dev Emits from a memory copy: nine event arguments from calldata overflow the stack.
    function _emitRegistered(uint32 modelId, ModelSpec memory spec) private {
        emit ModelRegistered(
            modelId,
            spec.weightsHash,
            spec.paramSetId,
            spec.name,
            spec.version,
            spec.weightsUri,
            spec.encodingSpecHash,
            spec.outputKind,
            spec.isPrivate
        );
    }

    function _key(string calldata name, string calldata version) private pure returns (bytes32) {
        return keccak256(abi.encode(name, version));
    }
}
