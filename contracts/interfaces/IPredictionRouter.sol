// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ISemaphore} from "@semaphore-protocol/contracts/interfaces/ISemaphore.sol";

import {IGoverned} from "./IGoverned.sol";

/// @title IPredictionRouter
/// @notice Encrypted prediction requests through Chainlink's request-fulfil path (router →
/// LINK `transferAndCall` → Operator). Every request has a sponsor: the requester's own LINK
/// deposit, or else a budget governance granted to the patient (`sponsorPatients`), drawn from the
/// router's pool; pending requests are capped per patient and per requester. The oracle evaluates
/// the model on the ciphertext and fulfils through `Operator.fulfillOracleRequest2`, which calls
/// `fulfilPrediction` here. The router owns the Operator, so only governance (through the router)
/// chooses who may fulfil, and nobody can post results through the Operator's `ownerForward`.
/// @dev Everything an oracle needs is in the request transaction's logs: the Operator's
/// `OracleRequest` (requestId, payment, callbackFunctionId, cancelExpiration) and this contract's
/// `PredictionRequested` (patient, modelId, inputHash, inputUri, keysHash), joined on requestId.
/// Request ids derive from the request's content (`requestIdFor`), not from a counter, so a
/// re-ordering of requests by a reorg cannot make one request's fulfilment land on another's.
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

    /// @notice Who paid a request's LINK (and gets it back if the request is cancelled).
    enum PaymentSource {
        RequesterDeposit,
        SponsorBudget,
        /// An anonymous request: the router's pool pays, bounded by the per-epoch slots.
        AnonymousPool
    }

    /// @notice What an anonymous request asks for. The Semaphore proof's message commits to all of
    /// it (`anonymousMessage`), so a relayer or front-runner can only submit it unchanged.
    /// @param modelId The model.
    /// @param epoch The rate-limit epoch the proof's scope names (current or the one before).
    /// @param slot Which of the epoch's `anonymousRequestsPerEpoch` slots the proof spends.
    /// @param accessKey A one-time key: the gateway lets it (and only it) read the request's
    /// result, and it is nobody's account.
    /// @param inputHash SHA-256 of the input ciphertext.
    /// @param keysHash SHA-256 of the public-keys blob of a fresh key set made for this request
    /// (not the patient's registered one, which would name the patient).
    /// @param inputUri Where the input ciphertext is stored.
    struct AnonymousRequest {
        uint32 modelId;
        uint32 epoch;
        uint16 slot;
        address accessKey;
        bytes32 inputHash;
        bytes32 keysHash;
        string inputUri;
    }

    /// @notice What the router holds for one account (as patient and as requester), one slot.
    /// @param deposit LINK (juels) the account deposited and has not spent or withdrawn.
    /// @param sponsorBudget LINK (juels) governance lets requests for this patient draw from the pool.
    /// @param requestCount Requests ever made for this patient (part of each request id).
    /// @param pendingAsPatient Pending requests for this patient.
    /// @param pendingAsRequester Pending requests this account made (for any patient).
    struct AccountState {
        uint96 deposit;
        uint96 sponsorBudget;
        uint32 requestCount;
        uint16 pendingAsPatient;
        uint16 pendingAsRequester;
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

    /// @notice A member of the registered-patients group asked for a prediction without saying who.
    /// `PredictionFulfilled` / `PredictionFailed` / `PredictionCancelled` follow with patient zero.
    /// @param requestId The Chainlink request id (`anonymousRequestIdFor(nullifier)`).
    /// @param modelId The model.
    /// @param inputHash SHA-256 of the input ciphertext.
    /// @param inputUri Where the input ciphertext is stored.
    /// @param keysHash SHA-256 of the request's own public-keys blob.
    /// @param accessKey The request's one-time gateway key.
    /// @param payment LINK paid from the pool.
    /// @param expiresAt When the request may be cancelled.
    event AnonymousPredictionRequested(
        bytes32 indexed requestId,
        uint32 indexed modelId,
        bytes32 inputHash,
        string inputUri,
        bytes32 keysHash,
        address accessKey,
        uint256 payment,
        uint40 expiresAt
    );

    /// @notice Governance changed how many anonymous requests one patient may make per epoch.
    event AnonymousRequestsPerEpochChanged(uint16 previousLimit, uint16 newLimit);

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

    /// @notice An expired, unfulfilled request was cancelled and its LINK credited back to its payer.
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

    /// @notice `account` deposited LINK (ERC-677 `transferAndCall` into the router).
    /// @param account Whose deposit was credited (the sender, or the address in the call's data).
    /// @param from Who sent the LINK.
    /// @param amount Juels.
    event LinkDeposited(address indexed account, address indexed from, uint256 amount);

    /// @notice `account` withdrew unspent deposit.
    /// @param account The depositor.
    /// @param to Recipient.
    /// @param amount Juels.
    event DepositWithdrawn(address indexed account, address to, uint256 amount);

    /// @notice Governance set a patient's sponsor budget (replacing the previous one).
    /// @param patient The patient.
    /// @param budget Juels requests for this patient may draw from the pool.
    event SponsorBudgetSet(address indexed patient, uint256 budget);

    /// @notice Governance changed the caps on pending requests.
    /// @param perPatient Pending requests allowed per patient.
    /// @param perRequester Pending requests allowed per requester.
    event PendingCapsChanged(uint16 perPatient, uint16 perRequester);

    /// @notice Governance authorised an ORACLE_ROLE holder to fulfil through the Operator.
    /// @param oracle The oracle's sending account.
    event OracleAuthorised(address indexed oracle);

    /// @notice An oracle can no longer fulfil: the Operator's senders were re-derived without it.
    /// @param oracle The removed account.
    /// @param by Governance, or anyone once the account had lost ORACLE_ROLE.
    event OracleRemoved(address indexed oracle, address by);

    /// @notice Governance withdrew LINK the Operator earned from fulfilments.
    /// @param to Recipient.
    /// @param amount Juels.
    event OperatorLinkWithdrawn(address indexed to, uint256 amount);

    /// @notice Governance closed a request a failed callback had stranded (also emits
    /// PredictionCancelled); the payment went back to its sponsor.
    /// @param requestId The request.
    /// @param refund Juels credited back to the payer.
    event StrandedRequestClosed(bytes32 indexed requestId, uint256 refund);

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
    /// @notice The router's pool (its LINK beyond all deposits) holds less than needed.
    /// @param balance The pool.
    /// @param fee The amount needed (a request's fee, or a withdrawal).
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
    /// @notice Nobody pays for this request: the requester's deposit and the patient's sponsor
    /// budget are both below the fee.
    /// @param patient The patient.
    /// @param requester The caller.
    /// @param fee The fee (juels).
    error NoSponsor(address patient, address requester, uint256 fee);
    /// @notice `account` already has as many pending requests as governance allows.
    /// @param account The patient or the requester.
    /// @param pending Its pending requests.
    /// @param cap The cap.
    error TooManyPending(address account, uint256 pending, uint256 cap);
    /// @notice A deposit withdrawal exceeds the deposit.
    /// @param account The depositor.
    /// @param deposit Its deposit.
    /// @param amount The amount asked for.
    error InsufficientDeposit(address account, uint256 deposit, uint256 amount);
    /// @notice Only the Operator may call the fulfilment callback.
    /// @param caller The caller.
    error OnlyOperator(address caller);
    /// @notice Only the LINK token may call `onTokenTransfer`.
    /// @param caller The caller.
    error OnlyLinkToken(address caller);
    /// @notice A deposit's data must be empty (credit the sender) or one ABI-encoded address.
    /// @param length The data's length in bytes.
    error InvalidDepositData(uint256 length);
    /// @notice An amount does not fit the router's 96-bit accounting.
    /// @param value The amount.
    /// @param max The largest accepted.
    error ValueTooLarge(uint256 value, uint256 max);

    /// @notice The anonymous request names an epoch that is neither the current nor the previous one.
    error EpochNotCurrent(uint32 epoch, uint32 current);
    /// @notice The anonymous request's slot is not below the per-epoch limit.
    error SlotOutOfRange(uint16 slot, uint16 perEpoch);
    /// @notice The proof's scope is not the one for the request's epoch and slot.
    error ScopeMismatch(uint256 scope, uint256 expected);
    /// @notice The proof's message does not commit to this request.
    error MessageMismatch(uint256 message, uint256 expected);
    /// @notice The proof does not show membership of the registered-patients group.
    error InvalidMembershipProof();
    /// @notice This nullifier (one epoch slot of one patient) was already spent.
    error NullifierSpent(uint256 nullifier, bytes32 requestId);
    /// @notice The anonymous request has no access key or no input.
    error InvalidAnonymousRequest();

    /// @notice Request a prediction for `patient` with model `modelId` on the stored input ciphertext.
    /// Paid from the caller's deposit if it covers the fee, else from the patient's sponsor budget
    /// (reverts NoSponsor otherwise); counts against both pending caps until the request ends.
    /// The request id is `requestIdFor(patient, accountOf(patient).requestCount, msg.sender,
    /// modelId, inputHash, keysHash)`.
    /// @param patient Whose key set the input is encrypted under.
    /// @param modelId An active model whose parameter set matches the patient's key set.
    /// @param inputHash SHA-256 (= storage id) of the input ciphertext.
    /// @param inputUri Where the input ciphertext is stored (emitted, not stored).
    /// @return requestId The Chainlink request id.
    function requestPrediction(address patient, uint32 modelId, bytes32 inputHash, string calldata inputUri)
        external
        returns (bytes32 requestId);

    /// @notice Request a prediction as an unnamed member of the registered-patients group. Anyone may
    /// send it (a relayer): the proof, not the sender, authorises it; the pool pays. Each patient
    /// has `anonymousRequestsPerEpoch` slots per epoch, each spendable once (its nullifier).
    /// @return requestId `anonymousRequestIdFor(proof.nullifier)`, known before sending.
    function requestPredictionAnonymous(AnonymousRequest calldata request, ISemaphore.SemaphoreProof calldata proof)
        external
        returns (bytes32 requestId);

    /// @notice Every check `requestPredictionAnonymous` makes, as a view (for gateways and relayers):
    /// reverts with the same errors, else returns the request id.
    function checkAnonymousRequest(AnonymousRequest calldata request, ISemaphore.SemaphoreProof calldata proof)
        external
        view
        returns (bytes32 requestId);

    /// @notice The Semaphore scope of an epoch's slot (names this router and chain).
    function anonymousScope(uint32 epoch, uint16 slot) external view returns (uint256);

    /// @notice The Semaphore message an anonymous request's proof must carry.
    function anonymousMessage(AnonymousRequest calldata request) external view returns (uint256);

    /// @notice The request id an anonymous request spending `nullifier` gets.
    function anonymousRequestIdFor(uint256 nullifier) external view returns (bytes32);

    /// @notice An anonymous request's one-time access key (zero for other requests).
    function accessKeyOf(bytes32 requestId) external view returns (address);

    /// @notice The current rate-limit epoch (`block.timestamp / ANONYMOUS_EPOCH_SECONDS`).
    function anonymousEpoch() external view returns (uint32);

    /// @notice Length of a rate-limit epoch in seconds.
    function ANONYMOUS_EPOCH_SECONDS() external view returns (uint32);

    /// @notice How many anonymous requests one patient may make per epoch.
    function anonymousRequestsPerEpoch() external view returns (uint16);

    /// @notice Governance sets how many anonymous requests one patient may make per epoch.
    function setAnonymousRequestsPerEpoch(uint16 limit) external;

    /// @notice The PrivacyGroups contract whose patients' group authorises anonymous requests.
    function privacyGroups() external view returns (address);

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

    /// @notice Cancel an expired, unfulfilled request; anyone may call. The LINK comes back from
    /// the Operator and is credited to whoever paid (deposit or sponsor budget).
    /// @param requestId The request.
    /// @param payment The payment it was sent with (from PredictionRequested).
    function cancelPrediction(bytes32 requestId, uint256 payment) external;

    /// @notice Close an expired request that is still pending here although the Operator no
    /// longer holds it (a fulfilment whose callback reverted, e.g. undecodable data, consumed its
    /// commitment); governance only. Credits `payment` back to the payer, taken back from the
    /// Operator's earned LINK (or cancelled normally if the Operator still holds the request).
    /// @param requestId The request.
    /// @param payment The payment it was sent with (from PredictionRequested).
    function closeStrandedRequest(bytes32 requestId, uint256 payment) external;

    /// @notice ERC-677 hook: LINK sent with `LinkToken.transferAndCall(router, amount, data)` is
    /// credited as a deposit to the sender, or to `abi.decode(data, (address))` when data is one
    /// word. A plain `transfer` funds the pool instead.
    /// @param sender Who sent the LINK.
    /// @param amount Juels.
    /// @param data Empty, or one ABI-encoded beneficiary address.
    function onTokenTransfer(address sender, uint256 amount, bytes calldata data) external;

    /// @notice Withdraw unspent deposit of the caller.
    /// @param to Recipient.
    /// @param amount Juels.
    function withdrawDeposit(address to, uint256 amount) external;

    /// @notice Set each patient's sponsor budget to `budget` juels; governance only.
    /// @param patients The patients (registered or not yet).
    /// @param budget Juels each may draw from the pool (replaces the previous budget).
    function sponsorPatients(address[] calldata patients, uint256 budget) external;

    /// @notice Set the caps on pending requests; governance only.
    /// @param perPatient Pending requests allowed per patient (0 stops all new requests).
    /// @param perRequester Pending requests allowed per requester.
    function setPendingCaps(uint16 perPatient, uint16 perRequester) external;

    /// @notice Complete the Operator's 2-step ownership transfer to this router; anyone may call
    /// once the Operator's owner has called `transferOwnership(router)`.
    function acceptOperatorOwnership() external;

    /// @notice Let an ORACLE_ROLE holder fulfil through the Operator; governance only. The
    /// Operator's senders are re-derived: ones that lost ORACLE_ROLE are dropped.
    /// @param oracle The oracle's sending account.
    function authoriseOracle(address oracle) external;

    /// @notice Stop an oracle from fulfilling: re-derives the Operator's senders from ORACLE_ROLE
    /// without `oracle`. Governance may call it at any time; anyone may once `oracle` no longer
    /// holds ORACLE_ROLE. Removing an oracle = revoke its ORACLE_ROLE (gateway reads stop) and
    /// call this (fulfilments stop), in either order.
    /// @param oracle The account to remove.
    function removeOracle(address oracle) external;

    /// @notice Withdraw LINK the Operator earned from fulfilments; governance only.
    /// @param to Recipient.
    /// @param amount Juels.
    function withdrawOperatorLink(address to, uint256 amount) external;

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

    /// @notice Withdraw LINK from the pool (never from deposits); governance only.
    /// @param to Recipient.
    /// @param amount Juels.
    function withdrawLink(address to, uint256 amount) external;

    /// @notice Who paid for a request.
    /// @param requestId The request.
    function paymentSourceOf(bytes32 requestId) external view returns (PaymentSource);
    /// @notice The id a request with this content gets (the Chainlink request id).
    /// @param patient The patient.
    /// @param requestCount The patient's `requestCount` before the request.
    /// @param requester Who asks.
    /// @param modelId The model.
    /// @param inputHash The input's SHA-256.
    /// @param keysHash The patient's evaluation-keys hash at request time.
    function requestIdFor(
        address patient,
        uint32 requestCount,
        address requester,
        uint32 modelId,
        bytes32 inputHash,
        bytes32 keysHash
    ) external view returns (bytes32);
    /// @notice What the router holds for `account`.
    /// @param account The account.
    function accountOf(address account) external view returns (AccountState memory);
    /// @notice The caps on pending requests.
    function pendingCaps() external view returns (uint16 perPatient, uint16 perRequester);
    /// @notice The router's LINK beyond all deposits (what sponsor budgets draw on).
    function poolBalance() external view returns (uint256);
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
