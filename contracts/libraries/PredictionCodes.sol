// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title PredictionCodes
/// @notice Reason codes recorded when a prediction request ends without a result.
/// @dev 1-999: reported by the oracle in `fulfilPrediction(failureCode)`.
/// 1000+: assigned by the router itself when it refuses or rejects a fulfilment.
library PredictionCodes {
    /// @notice The input ciphertext could not be fetched.
    uint16 internal constant INPUT_UNAVAILABLE = 1;
    /// @notice The fetched input does not hash to the requested `inputHash`.
    uint16 internal constant INPUT_HASH_MISMATCH = 2;
    /// @notice The patient's evaluation keys could not be fetched.
    uint16 internal constant KEYS_UNAVAILABLE = 3;
    /// @notice The fetched keys do not hash to the registered `keysHash`.
    uint16 internal constant KEYS_HASH_MISMATCH = 4;
    /// @notice The model's weights could not be fetched or do not match `weightsHash`.
    uint16 internal constant MODEL_UNAVAILABLE = 5;
    /// @notice The ciphertext, keys and model do not share one HE parameter set.
    uint16 internal constant PARAMETER_SET_MISMATCH = 6;
    /// @notice Homomorphic evaluation failed (malformed ciphertext, scale out of bounds ...).
    uint16 internal constant EVALUATION_FAILED = 7;
    /// @notice The result could not be stored.
    uint16 internal constant STORAGE_FAILED = 8;
    /// @notice The request expired before the oracle could serve it.
    uint16 internal constant EXPIRED = 9;
    /// @notice Any other oracle-side failure.
    uint16 internal constant ORACLE_INTERNAL = 999;

    /// @notice Refused: the requester's prediction consent was revoked or expired before fulfilment.
    uint16 internal constant CONSENT_REVOKED = 1000;
    /// @notice Rejected: the posted ciphertext does not hash (SHA-256) to the posted `resultHash`.
    uint16 internal constant RESULT_HASH_MISMATCH = 1001;
    /// @notice Rejected: a ciphertext was posted but this deployment keeps results off-chain.
    uint16 internal constant ON_CHAIN_RESULTS_DISABLED = 1002;
    /// @notice Rejected: success was reported without a result hash.
    uint16 internal constant EMPTY_RESULT = 1003;
    /// @notice Rejected: the model was retired while the request was pending.
    uint16 internal constant MODEL_RETIRED = 1004;
}
