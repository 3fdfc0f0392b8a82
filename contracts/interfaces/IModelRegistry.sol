// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IGoverned} from "./IGoverned.sol";

/// @title IModelRegistry
/// @notice Prediction models registered by governance: what the oracle must evaluate and what the
/// client must encode and decode. Models are retired, never deleted or changed.
interface IModelRegistry is IGoverned {
    /// @notice How the client turns the decrypted output into a prediction.
    enum OutputKind {
        /// The decrypted slot is the final value.
        Identity,
        /// One logit: probability = sigmoid(logit) (logistic regression).
        Sigmoid,
        /// One logit per class: probabilities = softmax(logits).
        Softmax
    }

    /// @notice What governance submits.
    /// @param name Model name, e.g. "diabetes-logreg".
    /// @param version Version string, e.g. "1.0.0"; (name, version) is unique.
    /// @param weightsHash SHA-256 of the weights artifact.
    /// @param weightsUri Where the weights are stored (may be empty for a private model).
    /// @param paramSetId The CKKS parameter set inputs must be encrypted under.
    /// @param encodingSpecHash SHA-256 of the input-encoding spec (features, order, scaling, slots).
    /// @param outputKind How the output is decoded.
    /// @param isPrivate Private weights: evaluation must reveal only the score, never the weights.
    struct ModelSpec {
        string name;
        string version;
        bytes32 weightsHash;
        string weightsUri;
        bytes32 paramSetId;
        bytes32 encodingSpecHash;
        OutputKind outputKind;
        bool isPrivate;
    }

    /// @notice A registered model.
    /// @param spec The registered specification.
    /// @param registeredAt Registration time.
    /// @param retiredAt Retirement time, 0 while active.
    struct Model {
        ModelSpec spec;
        uint40 registeredAt;
        uint40 retiredAt;
    }

    /// @notice A model was registered.
    /// @param modelId The new id (sequential from 1).
    /// @param weightsHash SHA-256 of the weights.
    /// @param paramSetId The CKKS parameter set.
    /// @param name Model name.
    /// @param version Model version.
    /// @param weightsUri Where the weights are stored.
    /// @param encodingSpecHash SHA-256 of the encoding spec.
    /// @param outputKind Output decoding.
    /// @param isPrivate Whether the weights are private.
    event ModelRegistered(
        uint32 indexed modelId,
        bytes32 indexed weightsHash,
        bytes32 indexed paramSetId,
        string name,
        string version,
        string weightsUri,
        bytes32 encodingSpecHash,
        OutputKind outputKind,
        bool isPrivate
    );

    /// @notice A model was retired: no new requests.
    /// @param modelId The model.
    /// @param by The governance account.
    event ModelRetired(uint32 indexed modelId, address by);

    /// @notice No such model.
    /// @param modelId The id.
    error UnknownModel(uint32 modelId);
    /// @notice The model is already retired.
    /// @param modelId The id.
    error ModelAlreadyRetired(uint32 modelId);
    /// @notice (name, version) already registered.
    /// @param existing The id it has.
    error DuplicateModel(uint32 existing);
    /// @notice Empty name or version, or a zero weights hash, parameter set or encoding-spec hash.
    error InvalidModelSpec();

    /// @notice Register a model; governance only.
    /// @param spec The specification.
    /// @return modelId The new id.
    function registerModel(ModelSpec calldata spec) external returns (uint32 modelId);

    /// @notice Retire a model; governance only.
    /// @param modelId The model.
    function retireModel(uint32 modelId) external;

    /// @notice A model's full record.
    /// @param modelId The model.
    /// @return model The record (reverts UnknownModel).
    function modelOf(uint32 modelId) external view returns (Model memory model);

    /// @notice What the PredictionRouter checks: whether the model exists and is active, and its
    /// parameter set.
    /// @param modelId The model.
    /// @return active True if registered and not retired.
    /// @return paramSetId Its parameter set (zero if unknown).
    function modelStatus(uint32 modelId) external view returns (bool active, bytes32 paramSetId);

    /// @notice The id of (name, version), or 0.
    /// @param name Model name.
    /// @param version Model version.
    /// @return modelId The id.
    function modelIdOf(string calldata name, string calldata version) external view returns (uint32 modelId);

    /// @notice Number of models ever registered (ids are 1..modelCount).
    function modelCount() external view returns (uint32);
}
