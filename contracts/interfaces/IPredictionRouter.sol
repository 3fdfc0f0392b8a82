// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IGoverned} from "./IGoverned.sol";

/// @title IPredictionRouter
/// @notice Encrypted prediction requests through Chainlink's request-fulfil path
/// (ChainlinkClient → Operator). The router pays the oracle in LINK from its own balance, so
/// patients never need LINK. The oracle evaluates the model on the ciphertext and fulfils through
/// `Operator.fulfillOracleRequest2`, which calls `fulfilPrediction` here.
/// @dev Everything an oracle needs is in the request transaction's logs: the Operator's
/// `OracleRequest` (requestId, payment, callbackFunctionId, cancelExpiration) and this contract's
/// `PredictionRequested` (patient, modelId, inputHash, inputUri, keysHash), joined on requestId.
interface IPredictionRouter is IGoverned {
    /// @notice Lifecycle of a request.
    enum RequestStatus {
        None,
        Pending,
        Fulfilled,
        Failed,
        Refused,
        Cancelled
    }

    /// @notice A request's full state.
    /// @param patient Whose key set the input is encrypted under.
    /// @param modelId The model.
    /// @param status Lifecycle state.
    /// @param expiresAt The Operator's cancel expiration (unix seconds); cancellable from then on.
    /// @param failureCode Reason code when Failed or Refused (see PredictionCodes.sol), else 0.
    /// @param requester Who asked (the patient or a grantee with TREATDS consent).
    /// @param inputHash SHA-256 (= storage id) of the input ciphertext.
    /// @param resultHash SHA-256 (= storage id) of the result ciphertext once Fulfilled.
    struct PredictionRequest {
        address patient;
        uint32 modelId;
        RequestStatus status;
        uint40 expiresAt;
        uint16 failureCode;
        address requester;
        bytes32 inputHash;
        bytes32 resultHash;
    }

    /// @notice A prediction was requested and sent to the Operator.
    /// @param requestId The Chainlink request id (also in the Operator's OracleRequest event).
    /// @param patient Whose key set.
    /// @param modelId The model.
    /// @param requester Who asked.
    /// @param inputHash SHA-256 of the input ciphertext.
    /// @param inputUri Where the input ciphertext is stored.
    /// @param keysHash The patient's evaluation-keys hash at request time.
    /// @param payment LINK (juels) paid to the Operator, needed to cancel.
    /// @param expiresAt The Operator's cancel expiration.
    event PredictionRequested(
        bytes32 indexed requestId,
        address indexed patient,
        uint32 indexed modelId,
        address requester,
        bytes32 inputHash,
        string inputUri,
        bytes32 keysHash,
        uint256 payment,
        uint40 expiresAt
    );

    /// @notice The oracle delivered a result.
    /// @param requestId The request.
    /// @param patient The patient.
    /// @param resultHash SHA-256 of the result ciphertext.
    /// @param resultUri Where the result ciphertext is stored (may be empty when posted on-chain).
    /// @param onChain True when the ciphertext itself was posted in this transaction's calldata.
    event PredictionFulfilled(
        bytes32 indexed requestId, address indexed patient, bytes32 resultHash, string resultUri, bool onChain
    );

    /// @notice The request ended without a result (oracle-reported or rejected fulfilment).
    /// @param requestId The request.
    /// @param patient The patient.
    /// @param failureCode Reason code (PredictionCodes.sol).
    event PredictionFailed(bytes32 indexed requestId, address indexed patient, uint16 failureCode);

    /// @notice The result was refused: the requester's consent ended before fulfilment.
    /// @param requestId The request.
    /// @param patient The patient.
    /// @param requester The requester whose consent ended.
    /// @param reasonCode Reason code (PredictionCodes.CONSENT_REVOKED).
    event PredictionRefused(bytes32 indexed requestId, address indexed patient, address requester, uint16 reasonCode);

    /// @notice An expired, unfulfilled request was cancelled and its LINK returned to the router.
    /// @param requestId The request.
    /// @param patient The patient.
    /// @param by Who cancelled.
    event PredictionCancelled(bytes32 indexed requestId, address indexed patient, address by);

    /// @notice Governance changed the LINK fee per request.
    /// @param previousFee Old fee (juels).
    /// @param newFee New fee (juels).
    event FeeChanged(uint256 previousFee, uint256 newFee);

    /// @notice Governance changed the Chainlink job (spec) id.
    /// @param previousJobId Old id.
    /// @param newJobId New id.
    event JobIdChanged(bytes32 previousJobId, bytes32 newJobId);

    /// @notice Governance withdrew LINK from the router.
    /// @param to Recipient.
    /// @param amount Juels.
    event LinkWithdrawn(address indexed to, uint256 amount);

    /// @notice The caller is neither the patient nor a grantee with live TREATDS consent.
    /// @param requester The caller.
    /// @param patient The patient.
    error NotAuthorisedToRequest(address requester, address patient);
    /// @notice The patient is not registered (no key set to evaluate under).
    /// @param patient The patient.
    error PatientNotRegistered(address patient);
    /// @notice The model is unknown or retired.
    /// @param modelId The model.
    error ModelNotActive(uint32 modelId);
    /// @notice The patient's keys and the model use different CKKS parameter sets.
    /// @param patientParamSet The patient's.
    /// @param modelParamSet The model's.
    error ParameterSetMismatch(bytes32 patientParamSet, bytes32 modelParamSet);
    /// @notice A zero input hash or an empty input URI.
    error InvalidInput();
    /// @notice The router holds less LINK than one request's fee.
    /// @param balance The router's LINK balance.
    /// @param fee The fee.
    error InsufficientLink(uint256 balance, uint256 fee);
    /// @notice The request is not pending.
    /// @param requestId The request.
    /// @param status Its status.
    error RequestNotPending(bytes32 requestId, RequestStatus status);
    /// @notice The request has not expired yet.
    /// @param requestId The request.
    /// @param expiresAt When it expires.
    error RequestNotExpired(bytes32 requestId, uint40 expiresAt);
    /// @notice A LINK transfer failed.
    error LinkTransferFailed();

    /// @notice Request a prediction for `patient` with model `modelId` on the stored input ciphertext.
    /// @param patient Whose key set the input is encrypted under.
    /// @param modelId An active model whose parameter set matches the patient's key set.
    /// @param inputHash SHA-256 (= storage id) of the input ciphertext.
    /// @param inputUri Where the input ciphertext is stored (emitted, not stored).
    /// @return requestId The Chainlink request id.
    function requestPrediction(address patient, uint32 modelId, bytes32 inputHash, string calldata inputUri)
        external
        returns (bytes32 requestId);

    /// @notice The Chainlink callback; only the Operator the request was sent to, once per request.
    /// The oracle sends `Operator.fulfillOracleRequest2(requestId, payment, router, selector,
    /// expiration, abi.encode(requestId, failureCode, resultHash, resultUri, resultCiphertext))`.
    /// It never reverts for a content problem (that would strand the request): failures are recorded.
    /// @param requestId The request.
    /// @param failureCode 0 on success, else an oracle reason code (1-999).
    /// @param resultHash SHA-256 of the result ciphertext (success only).
    /// @param resultUri Where the result is stored (may be empty when posting the ciphertext).
    /// @param resultCiphertext The result ciphertext itself, only where `onChainResults()`; else empty.
    function fulfilPrediction(
        bytes32 requestId,
        uint16 failureCode,
        bytes32 resultHash,
        string calldata resultUri,
        bytes calldata resultCiphertext
    ) external;

    /// @notice Cancel an expired, unfulfilled request; anyone may call. Returns the LINK to the router.
    /// @param requestId The request.
    /// @param payment The payment it was sent with (from PredictionRequested).
    function cancelPrediction(bytes32 requestId, uint256 payment) external;

    /// @notice A request's full state (what the gateway authorises oracle reads by).
    /// @param requestId The request.
    /// @return request The state (status None when unknown).
    function getRequest(bytes32 requestId) external view returns (PredictionRequest memory request);

    /// @notice Set the LINK fee per request; governance only.
    /// @param newFee Juels.
    function setFee(uint256 newFee) external;

    /// @notice Set the Chainlink job id; governance only.
    /// @param newJobId The job (spec) id.
    function setJobId(bytes32 newJobId) external;

    /// @notice Withdraw LINK; governance only.
    /// @param to Recipient.
    /// @param amount Juels.
    function withdrawLink(address to, uint256 amount) external;

    /// @notice LINK fee per request (juels).
    function fee() external view returns (uint256);
    /// @notice The Chainlink job (spec) id sent with each request.
    function jobId() external view returns (bytes32);
    /// @notice Whether fulfilments may post the result ciphertext in calldata (a deployment flag).
    function onChainResults() external view returns (bool);
    /// @notice The Chainlink Operator requests are sent to.
    function operator() external view returns (address);
    /// @notice The LINK token.
    function linkToken() external view returns (address);
    /// @notice The ConsentManager consulted.
    function consentManager() external view returns (address);
    /// @notice The ModelRegistry consulted.
    function modelRegistry() external view returns (address);
}
