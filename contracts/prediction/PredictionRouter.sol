// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Chainlink} from "@chainlink/contracts/src/v0.8/operatorforwarder/Chainlink.sol";
import {ChainlinkClient} from "@chainlink/contracts/src/v0.8/operatorforwarder/ChainlinkClient.sol";
import {LinkTokenInterface} from "@chainlink/contracts/src/v0.8/shared/interfaces/LinkTokenInterface.sol";

import {IdentityGoverned} from "../access/IdentityGoverned.sol";
import {IConsentManager} from "../interfaces/IConsentManager.sol";
import {IIdentityRegistry} from "../interfaces/IIdentityRegistry.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {IPredictionRouter} from "../interfaces/IPredictionRouter.sol";
import {IOperatorExpiry} from "../interfaces/external/IOperatorExpiry.sol";
import {Category} from "../libraries/Category.sol";
import {PredictionCodes} from "../libraries/PredictionCodes.sol";
import {Purpose} from "../libraries/Purpose.sol";

/// @title PredictionRouter
/// @notice Encrypted prediction requests and fulfilments through a Chainlink Operator.
/// See {IPredictionRouter}.
contract PredictionRouter is IPredictionRouter, IdentityGoverned, ChainlinkClient {
    using Chainlink for Chainlink.Request;

    /// @dev Four slots; the first is packed (20 + 4 + 1 + 5 + 2 bytes). `requester` is written
    /// only when it differs from the patient, so the patient's own request costs three slots.
    struct StoredRequest {
        address patient;
        uint32 modelId;
        RequestStatus status;
        uint40 expiresAt;
        uint16 failureCode;
        bytes32 inputHash;
        bytes32 resultHash;
        address requester;
    }

    IConsentManager private immutable _consent;
    IModelRegistry private immutable _models;
    bool private immutable _onChainResults;
    uint256 private immutable _expirySeconds;

    bytes32 private _jobId;
    uint256 private _fee;
    mapping(bytes32 requestId => StoredRequest) private _requests;

    /// @param identity_ The IdentityRegistry (patients' key sets, governance).
    /// @param consent_ The ConsentManager (TREATDS consent of grantees).
    /// @param models_ The ModelRegistry.
    /// @param link The LINK token.
    /// @param operator_ The Chainlink Operator requests go to.
    /// @param jobId_ The Chainlink job (spec) id.
    /// @param fee_ LINK (juels) paid per request.
    /// @param onChainResults_ Whether fulfilments may post the result ciphertext in calldata.
    constructor(
        IIdentityRegistry identity_,
        IConsentManager consent_,
        IModelRegistry models_,
        address link,
        address operator_,
        bytes32 jobId_,
        uint256 fee_,
        bool onChainResults_
    ) IdentityGoverned(identity_) {
        if (
            address(consent_) == address(0) || address(models_) == address(0) || link == address(0)
                || operator_ == address(0)
        ) revert ZeroAddress();
        _checkSameIdentity(consent_);
        _checkSameIdentity(models_);
        _consent = consent_;
        _models = models_;
        _setChainlinkToken(link);
        _setChainlinkOracle(operator_);
        _expirySeconds = IOperatorExpiry(operator_).EXPIRYTIME();
        _onChainResults = onChainResults_;
        _jobId = jobId_;
        _fee = fee_;
    }

    // ─── Requests ──────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IPredictionRouter
    function requestPrediction(address patient, uint32 modelId, bytes32 inputHash, string calldata inputUri)
        external
        returns (bytes32 requestId)
    {
        if (inputHash == bytes32(0) || bytes(inputUri).length == 0) revert InvalidInput();
        bytes32 keysHash = _checkRequest(patient, modelId);
        requestId = _send(patient, modelId, inputHash);
        _emitRequested(requestId, patient, modelId, inputHash, inputUri, keysHash);
    }

    /// @inheritdoc IPredictionRouter
    function fulfilPrediction(
        bytes32 requestId,
        uint16 failureCode,
        bytes32 resultHash,
        string calldata resultUri,
        bytes calldata resultCiphertext
    ) external recordChainlinkFulfillment(requestId) {
        StoredRequest storage r = _requests[requestId];
        address patient = r.patient;
        if (failureCode != 0) return _fail(r, requestId, patient, failureCode);

        address requester = r.requester;
        if (requester != address(0) && !_mayRequest(requester, patient)) {
            r.status = RequestStatus.Refused;
            r.failureCode = PredictionCodes.CONSENT_REVOKED;
            emit PredictionRefused(requestId, patient, requester, PredictionCodes.CONSENT_REVOKED);
            return;
        }
        if (resultHash == bytes32(0)) return _fail(r, requestId, patient, PredictionCodes.EMPTY_RESULT);
        // Retirement stops new requests at once; a result computed with a retired model is not
        // accepted either, even when the oracle raced the retirement.
        (bool modelActive,) = _models.modelStatus(r.modelId);
        if (!modelActive) return _fail(r, requestId, patient, PredictionCodes.MODEL_RETIRED);

        bool onChain = resultCiphertext.length != 0;
        if (onChain) {
            if (!_onChainResults) return _fail(r, requestId, patient, PredictionCodes.ON_CHAIN_RESULTS_DISABLED);
            if (sha256(resultCiphertext) != resultHash) {
                return _fail(r, requestId, patient, PredictionCodes.RESULT_HASH_MISMATCH);
            }
        }
        r.status = RequestStatus.Fulfilled;
        r.resultHash = resultHash;
        emit PredictionFulfilled(requestId, patient, resultHash, resultUri, onChain);
    }

    /// @inheritdoc IPredictionRouter
    function cancelPrediction(bytes32 requestId, uint256 payment) external {
        StoredRequest storage r = _requests[requestId];
        RequestStatus status = r.status;
        if (status != RequestStatus.Pending) revert RequestNotPending(requestId, status);
        uint40 expiresAt = r.expiresAt;
        if (block.timestamp < expiresAt) revert RequestNotExpired(requestId, expiresAt);
        r.status = RequestStatus.Cancelled;
        emit PredictionCancelled(requestId, r.patient, msg.sender);
        _cancelChainlinkRequest(requestId, payment, this.fulfilPrediction.selector, expiresAt);
    }

    // ─── Governance ────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IPredictionRouter
    function setFee(uint256 newFee) external onlyGovernance {
        uint256 previousFee = _fee;
        _fee = newFee;
        emit FeeChanged(previousFee, newFee);
    }

    /// @inheritdoc IPredictionRouter
    function setJobId(bytes32 newJobId) external onlyGovernance {
        bytes32 previousJobId = _jobId;
        _jobId = newJobId;
        emit JobIdChanged(previousJobId, newJobId);
    }

    /// @inheritdoc IPredictionRouter
    function withdrawLink(address to, uint256 amount) external onlyGovernance {
        if (to == address(0)) revert ZeroAddress();
        emit LinkWithdrawn(to, amount);
        if (!LinkTokenInterface(_chainlinkTokenAddress()).transfer(to, amount)) revert LinkTransferFailed();
    }

    // ─── Views ─────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IPredictionRouter
    function getRequest(bytes32 requestId) external view returns (PredictionRequest memory request) {
        StoredRequest storage r = _requests[requestId];
        request = PredictionRequest({
            patient: r.patient,
            modelId: r.modelId,
            status: r.status,
            expiresAt: r.expiresAt,
            failureCode: r.failureCode,
            requester: r.requester == address(0) ? r.patient : r.requester,
            inputHash: r.inputHash,
            resultHash: r.resultHash
        });
    }

    /// @inheritdoc IPredictionRouter
    function fee() external view returns (uint256) {
        return _fee;
    }

    /// @inheritdoc IPredictionRouter
    function jobId() external view returns (bytes32) {
        return _jobId;
    }

    /// @inheritdoc IPredictionRouter
    function onChainResults() external view returns (bool) {
        return _onChainResults;
    }

    /// @inheritdoc IPredictionRouter
    function operator() external view returns (address) {
        return _chainlinkOracleAddress();
    }

    /// @inheritdoc IPredictionRouter
    function linkToken() external view returns (address) {
        return _chainlinkTokenAddress();
    }

    /// @inheritdoc IPredictionRouter
    function consentManager() external view returns (address) {
        return address(_consent);
    }

    /// @inheritdoc IPredictionRouter
    function modelRegistry() external view returns (address) {
        return address(_models);
    }

    // ─── Internal ──────────────────────────────────────────────────────────────────────────────

    /// @return keysHash The patient's evaluation-keys hash, emitted for the oracle.
    function _checkRequest(address patient, uint32 modelId) private view returns (bytes32 keysHash) {
        if (msg.sender != patient && !_mayRequest(msg.sender, patient)) {
            revert NotAuthorisedToRequest(msg.sender, patient);
        }
        bytes32 patientParamSet;
        (keysHash, patientParamSet) = _identity.keySetOf(patient);
        if (keysHash == bytes32(0)) revert PatientNotRegistered(patient);
        (bool active, bytes32 modelParamSet) = _models.modelStatus(modelId);
        if (!active) revert ModelNotActive(modelId);
        if (modelParamSet != patientParamSet) revert ParameterSetMismatch(patientParamSet, modelParamSet);
    }

    /// @dev Pays the Operator `_fee` LINK from this contract's balance and stores the request.
    function _send(address patient, uint32 modelId, bytes32 inputHash) private returns (bytes32 requestId) {
        uint256 payment = _fee;
        uint256 balance = LinkTokenInterface(_chainlinkTokenAddress()).balanceOf(address(this));
        if (balance < payment) revert InsufficientLink(balance, payment);

        Chainlink.Request memory req = _buildOperatorRequest(_jobId, this.fulfilPrediction.selector);
        requestId = _sendOperatorRequest(req, payment);

        StoredRequest storage r = _requests[requestId];
        r.patient = patient;
        r.modelId = modelId;
        r.status = RequestStatus.Pending;
        // The Operator commits to exactly this expiration (same block, same constant).
        r.expiresAt = uint40(block.timestamp + _expirySeconds);
        r.inputHash = inputHash;
        if (msg.sender != patient) r.requester = msg.sender;
    }

    function _emitRequested(
        bytes32 requestId,
        address patient,
        uint32 modelId,
        bytes32 inputHash,
        string calldata inputUri,
        bytes32 keysHash
    ) private {
        emit PredictionRequested(
            requestId,
            patient,
            modelId,
            msg.sender,
            inputHash,
            inputUri,
            keysHash,
            _fee,
            uint40(block.timestamp + _expirySeconds)
        );
    }

    function _mayRequest(address requester, address patient) private view returns (bool) {
        return _consent.hasAccess(requester, patient, Category.PREDICTION, Purpose.TREATDS);
    }

    function _fail(StoredRequest storage r, bytes32 requestId, address patient, uint16 code) private {
        r.status = RequestStatus.Failed;
        r.failureCode = code;
        emit PredictionFailed(requestId, patient, code);
    }
}
