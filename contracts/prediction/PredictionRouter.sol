// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {LinkTokenInterface} from "@chainlink/contracts/src/v0.8/shared/interfaces/LinkTokenInterface.sol";
import {ISemaphore} from "@semaphore-protocol/contracts/interfaces/ISemaphore.sol";

import {IdentityGoverned} from "../access/IdentityGoverned.sol";
import {IConsentManager} from "../interfaces/IConsentManager.sol";
import {IIdentityRegistry} from "../interfaces/IIdentityRegistry.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {IPredictionRouter} from "../interfaces/IPredictionRouter.sol";
import {IPrivacyGroups} from "../interfaces/IPrivacyGroups.sol";
import {IChainlinkOperator} from "../interfaces/external/IChainlinkOperator.sol";
import {Category} from "../libraries/Category.sol";
import {PredictionCodes} from "../libraries/PredictionCodes.sol";
import {Purpose} from "../libraries/Purpose.sol";

/// @title PredictionRouter
/// @notice Encrypted prediction requests and fulfilments through a Chainlink Operator it owns.
/// See {IPredictionRouter}.
/// @dev The router talks to the Operator directly instead of through ChainlinkClient: it needs to
/// choose each request's nonce (ChainlinkClient uses a counter, so the same request id named
/// another request after a reorg re-ordered two requests), and it tracks pending requests in its
/// own request records (ChainlinkClient's second mapping cost a fresh slot per request).
contract PredictionRouter is IPredictionRouter, IdentityGoverned {
    /// @dev Chainlink's `operatorRequest` argument version (ChainlinkClient's OPERATOR_ARGS_VERSION).
    uint256 private constant OPERATOR_ARGS_VERSION = 2;
    /// @dev Defaults for the pending caps until governance sets its own (`setPendingCaps`).
    uint16 private constant DEFAULT_MAX_PENDING_PER_PATIENT = 32;
    uint16 private constant DEFAULT_MAX_PENDING_PER_REQUESTER = 128;
    uint16 private constant DEFAULT_ANONYMOUS_REQUESTS_PER_EPOCH = 4;
    /// @inheritdoc IPredictionRouter
    uint32 public constant ANONYMOUS_EPOCH_SECONDS = 1 days;
    /// @dev Domain label of anonymous requests' Semaphore scope and message (versioned).
    string private constant ANONYMOUS_DOMAIN = "medcipher.predict.v1";

    /// @dev Four slots; the first is packed (20 + 4 + 1 + 1 + 4 + 2 bytes). `requester` is written
    /// only when it differs from the patient, so the patient's own request costs two slots.
    /// An anonymous request (`payer` AnonymousPool) has no patient: `patient` holds its access key
    /// instead (saving a slot), and the views report patient zero.
    /// `expiresAt` is stored as uint32 (good until 2106) to make room for `payer`.
    struct StoredRequest {
        address patient;
        uint32 modelId;
        RequestStatus status;
        PaymentSource payer;
        uint32 expiresAt;
        uint16 failureCode;
        bytes32 inputHash;
        bytes32 resultHash;
        address requester;
    }

    /// @dev One slot, read once per request.
    struct Settings {
        uint96 fee;
        uint96 totalDeposits;
        uint16 maxPendingPerPatient;
        uint16 maxPendingPerRequester;
        uint16 anonymousPerEpoch;
    }

    IConsentManager private immutable _consent;
    IModelRegistry private immutable _models;
    IPrivacyGroups private immutable _groups;
    uint256 private immutable _patientGroupId;
    LinkTokenInterface private immutable _link;
    IChainlinkOperator private immutable _operator;
    bool private immutable _onChainResults;
    uint256 private immutable _expirySeconds;

    bytes32 private _jobId;
    Settings private _settings;
    mapping(bytes32 requestId => StoredRequest) private _requests;
    mapping(address account => AccountState) private _accounts;

    /// @param identity_ The IdentityRegistry (patients' key sets, governance, ORACLE_ROLE).
    /// @param consent_ The ConsentManager (TREATDS consent of grantees).
    /// @param models_ The ModelRegistry.
    /// @param groups_ The PrivacyGroups whose patients' group authorises anonymous requests.
    /// @param link The LINK token.
    /// @param operator_ The Chainlink Operator requests go to; its owner transfers ownership to
    /// this router afterwards (`acceptOperatorOwnership`).
    /// @param jobId_ The Chainlink job (spec) id.
    /// @param fee_ LINK (juels) paid per request.
    /// @param onChainResults_ Whether fulfilments may post the result ciphertext in calldata.
    constructor(
        IIdentityRegistry identity_,
        IConsentManager consent_,
        IModelRegistry models_,
        IPrivacyGroups groups_,
        address link,
        address operator_,
        bytes32 jobId_,
        uint256 fee_,
        bool onChainResults_
    ) IdentityGoverned(identity_) {
        if (
            address(consent_) == address(0) || address(models_) == address(0) || address(groups_) == address(0)
                || link == address(0) || operator_ == address(0)
        ) revert ZeroAddress();
        _checkSameIdentity(consent_);
        _checkSameIdentity(models_);
        _checkSameIdentity(groups_);
        _consent = consent_;
        _models = models_;
        _groups = groups_;
        _patientGroupId = groups_.patientGroupId();
        _link = LinkTokenInterface(link);
        _operator = IChainlinkOperator(operator_);
        _expirySeconds = IChainlinkOperator(operator_).EXPIRYTIME();
        _onChainResults = onChainResults_;
        _jobId = jobId_;
        _settings = Settings({
            fee: _toUint96(fee_),
            totalDeposits: 0,
            maxPendingPerPatient: DEFAULT_MAX_PENDING_PER_PATIENT,
            maxPendingPerRequester: DEFAULT_MAX_PENDING_PER_REQUESTER,
            anonymousPerEpoch: DEFAULT_ANONYMOUS_REQUESTS_PER_EPOCH
        });
    }

    // ─── Requests ──────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IPredictionRouter
    function requestPrediction(address patient, uint32 modelId, bytes32 inputHash, string calldata inputUri)
        external
        returns (bytes32 requestId)
    {
        if (inputHash == bytes32(0) || bytes(inputUri).length == 0) revert InvalidInput();
        bytes32 keysHash = _checkRequest(patient, modelId);
        Settings memory settings = _settings;
        uint256 nonce;
        (requestId, nonce) = _record(patient, modelId, inputHash, keysHash, settings);
        uint40 expiresAt = uint40(block.timestamp + _expirySeconds);
        emit PredictionRequested(
            requestId, patient, modelId, msg.sender, inputHash, inputUri, keysHash, settings.fee, expiresAt
        );
        _send(nonce, settings.fee);
    }

    /// @inheritdoc IPredictionRouter
    function requestPredictionAnonymous(AnonymousRequest calldata request, ISemaphore.SemaphoreProof calldata proof)
        external
        returns (bytes32 requestId)
    {
        Settings memory settings = _settings;
        uint256 nonce;
        (requestId, nonce) = _checkAnonymous(request, proof, settings.anonymousPerEpoch);
        // The pool pays; the per-epoch slots bound what one patient can draw from it.
        uint256 pool = _pool(settings.totalDeposits);
        if (pool < settings.fee) revert InsufficientLink(pool, settings.fee);
        StoredRequest storage r = _requests[requestId];
        r.patient = request.accessKey;
        r.modelId = request.modelId;
        r.status = RequestStatus.Pending;
        r.payer = PaymentSource.AnonymousPool;
        uint40 expiresAt = uint40(block.timestamp + _expirySeconds);
        r.expiresAt = uint32(expiresAt);
        r.inputHash = request.inputHash;
        emit AnonymousPredictionRequested(
            requestId,
            request.modelId,
            request.inputHash,
            request.inputUri,
            request.keysHash,
            request.accessKey,
            settings.fee,
            expiresAt
        );
        _send(nonce, settings.fee);
    }

    /// @inheritdoc IPredictionRouter
    function checkAnonymousRequest(AnonymousRequest calldata request, ISemaphore.SemaphoreProof calldata proof)
        external
        view
        returns (bytes32 requestId)
    {
        (requestId,) = _checkAnonymous(request, proof, _settings.anonymousPerEpoch);
    }

    /// @inheritdoc IPredictionRouter
    function fulfilPrediction(
        bytes32 requestId,
        uint16 failureCode,
        bytes32 resultHash,
        string calldata resultUri,
        bytes calldata resultCiphertext
    ) external {
        if (msg.sender != address(_operator)) revert OnlyOperator(msg.sender);
        StoredRequest storage r = _requests[requestId];
        RequestStatus status = r.status;
        if (status != RequestStatus.Pending) revert RequestNotPending(requestId, status);
        bool isAnonymous = r.payer == PaymentSource.AnonymousPool;
        address patient = isAnonymous ? address(0) : r.patient;
        address requester = r.requester;
        if (!isAnonymous) _release(patient, requester);
        if (failureCode != 0) return _fail(r, requestId, patient, failureCode);

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
        uint32 expiresAt = _close(requestId, payment);
        // The Operator checks `payment` against its commitment and reverts this whole call if
        // it differs, so the refund credited by _close is exactly what comes back.
        _operator.cancelOracleRequest(requestId, payment, this.fulfilPrediction.selector, expiresAt);
    }

    /// @inheritdoc IPredictionRouter
    function closeStrandedRequest(bytes32 requestId, uint256 payment) external onlyGovernance {
        uint32 expiresAt = _close(requestId, payment);
        emit StrandedRequestClosed(requestId, payment);
        // A stranded request's commitment was consumed by a fulfilment whose callback reverted,
        // so the Operator refuses the cancel; the payment went to the Operator's earned balance,
        // which this router owns, and comes back from there.
        try _operator.cancelOracleRequest(requestId, payment, this.fulfilPrediction.selector, expiresAt) {
            return; // the Operator still held it: an ordinary cancel
        } catch {
            _operator.withdraw(address(this), payment);
        }
    }

    // ─── Paying for requests ───────────────────────────────────────────────────────────────────

    /// @inheritdoc IPredictionRouter
    function onTokenTransfer(address sender, uint256 amount, bytes calldata data) external {
        if (msg.sender != address(_link)) revert OnlyLinkToken(msg.sender);
        address account = sender;
        if (data.length == 32) account = abi.decode(data, (address));
        else if (data.length != 0) revert InvalidDepositData(data.length);
        if (account == address(0)) revert ZeroAddress();
        AccountState storage a = _accounts[account];
        a.deposit = _toUint96(a.deposit + amount);
        _settings.totalDeposits = _toUint96(_settings.totalDeposits + amount);
        emit LinkDeposited(account, sender, amount);
    }

    /// @inheritdoc IPredictionRouter
    function withdrawDeposit(address to, uint256 amount) external {
        if (to == address(0)) revert ZeroAddress();
        AccountState storage a = _accounts[msg.sender];
        uint96 deposit = a.deposit;
        if (amount > deposit) revert InsufficientDeposit(msg.sender, deposit, amount);
        a.deposit = uint96(deposit - amount);
        _settings.totalDeposits -= uint96(amount);
        emit DepositWithdrawn(msg.sender, to, amount);
        if (!_link.transfer(to, amount)) revert LinkTransferFailed();
    }

    // ─── Governance ────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IPredictionRouter
    function setFee(uint256 newFee) external onlyGovernance {
        uint256 previousFee = _settings.fee;
        _settings.fee = _toUint96(newFee);
        emit FeeChanged(previousFee, newFee);
    }

    /// @inheritdoc IPredictionRouter
    function setJobId(bytes32 newJobId) external onlyGovernance {
        bytes32 previousJobId = _jobId;
        _jobId = newJobId;
        emit JobIdChanged(previousJobId, newJobId);
    }

    /// @inheritdoc IPredictionRouter
    function setPendingCaps(uint16 perPatient, uint16 perRequester) external onlyGovernance {
        _settings.maxPendingPerPatient = perPatient;
        _settings.maxPendingPerRequester = perRequester;
        emit PendingCapsChanged(perPatient, perRequester);
    }

    /// @inheritdoc IPredictionRouter
    function setAnonymousRequestsPerEpoch(uint16 limit) external onlyGovernance {
        uint16 previous = _settings.anonymousPerEpoch;
        _settings.anonymousPerEpoch = limit;
        emit AnonymousRequestsPerEpochChanged(previous, limit);
    }

    /// @inheritdoc IPredictionRouter
    function sponsorPatients(address[] calldata patients, uint256 budget) external onlyGovernance {
        uint96 budget96 = _toUint96(budget);
        for (uint256 i = 0; i < patients.length; ++i) {
            address patient = patients[i];
            if (patient == address(0)) revert ZeroAddress();
            _accounts[patient].sponsorBudget = budget96;
            emit SponsorBudgetSet(patient, budget);
        }
    }

    /// @inheritdoc IPredictionRouter
    function withdrawLink(address to, uint256 amount) external onlyGovernance {
        if (to == address(0)) revert ZeroAddress();
        uint256 pool = _pool(_settings.totalDeposits);
        if (amount > pool) revert InsufficientLink(pool, amount);
        emit LinkWithdrawn(to, amount);
        if (!_link.transfer(to, amount)) revert LinkTransferFailed();
    }

    // ─── Governance of the Operator and its oracles ────────────────────────────────────────────

    /// @inheritdoc IPredictionRouter
    function acceptOperatorOwnership() external {
        _operator.acceptOwnership();
    }

    /// @inheritdoc IPredictionRouter
    function authoriseOracle(address oracle) external onlyGovernance {
        bytes32 oracleRole = _identity.ORACLE_ROLE();
        _checkRole(oracleRole, oracle);
        address[] memory kept = _sendersHoldingRole(oracleRole, oracle);
        address[] memory senders = new address[](kept.length + 1);
        for (uint256 i = 0; i < kept.length; ++i) senders[i] = kept[i];
        senders[kept.length] = oracle;
        _operator.setAuthorizedSenders(senders);
        emit OracleAuthorised(oracle);
    }

    /// @inheritdoc IPredictionRouter
    function removeOracle(address oracle) external {
        bytes32 oracleRole = _identity.ORACLE_ROLE();
        // Anyone may finish a removal governance started by revoking the role.
        if (_identity.hasRole(oracleRole, oracle)) _checkGovernance(msg.sender);
        address[] memory senders = _sendersHoldingRole(oracleRole, oracle);
        if (senders.length == 0) {
            // The Operator needs at least one sender; the router never fulfils, so naming it
            // authorises nobody.
            senders = new address[](1);
            senders[0] = address(this);
        }
        _operator.setAuthorizedSenders(senders);
        emit OracleRemoved(oracle, msg.sender);
    }

    /// @inheritdoc IPredictionRouter
    function withdrawOperatorLink(address to, uint256 amount) external onlyGovernance {
        if (to == address(0)) revert ZeroAddress();
        emit OperatorLinkWithdrawn(to, amount);
        _operator.withdraw(to, amount);
    }

    // ─── Views ─────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IPredictionRouter
    function getRequest(bytes32 requestId) external view returns (PredictionRequest memory request) {
        StoredRequest storage r = _requests[requestId];
        bool isAnonymous = r.payer == PaymentSource.AnonymousPool;
        request = PredictionRequest({
            patient: isAnonymous ? address(0) : r.patient,
            modelId: r.modelId,
            status: r.status,
            expiresAt: r.expiresAt,
            failureCode: r.failureCode,
            requester: isAnonymous ? address(0) : (r.requester == address(0) ? r.patient : r.requester),
            inputHash: r.inputHash,
            resultHash: r.resultHash
        });
    }

    /// @inheritdoc IPredictionRouter
    function paymentSourceOf(bytes32 requestId) external view returns (PaymentSource) {
        return _requests[requestId].payer;
    }

    /// @inheritdoc IPredictionRouter
    function requestIdFor(
        address patient,
        uint32 requestCount,
        address requester,
        uint32 modelId,
        bytes32 inputHash,
        bytes32 keysHash
    ) external view returns (bytes32) {
        return _requestId(_nonce(patient, requestCount, requester, modelId, inputHash, keysHash));
    }

    /// @inheritdoc IPredictionRouter
    function anonymousScope(uint32 epoch, uint16 slot) external view returns (uint256) {
        return _anonymousScope(epoch, slot);
    }

    /// @inheritdoc IPredictionRouter
    function anonymousMessage(AnonymousRequest calldata request) external view returns (uint256) {
        return _anonymousMessage(request);
    }

    /// @inheritdoc IPredictionRouter
    function anonymousRequestIdFor(uint256 nullifier) external view returns (bytes32) {
        return _requestId(_anonymousNonce(nullifier));
    }

    /// @inheritdoc IPredictionRouter
    function accessKeyOf(bytes32 requestId) external view returns (address) {
        StoredRequest storage r = _requests[requestId];
        return r.payer == PaymentSource.AnonymousPool ? r.patient : address(0);
    }

    /// @inheritdoc IPredictionRouter
    function anonymousEpoch() external view returns (uint32) {
        return uint32(block.timestamp / ANONYMOUS_EPOCH_SECONDS);
    }

    /// @inheritdoc IPredictionRouter
    function anonymousRequestsPerEpoch() external view returns (uint16) {
        return _settings.anonymousPerEpoch;
    }

    /// @inheritdoc IPredictionRouter
    function privacyGroups() external view returns (address) {
        return address(_groups);
    }

    /// @inheritdoc IPredictionRouter
    function accountOf(address account) external view returns (AccountState memory) {
        return _accounts[account];
    }

    /// @inheritdoc IPredictionRouter
    function pendingCaps() external view returns (uint16 perPatient, uint16 perRequester) {
        return (_settings.maxPendingPerPatient, _settings.maxPendingPerRequester);
    }

    /// @inheritdoc IPredictionRouter
    function poolBalance() external view returns (uint256) {
        return _pool(_settings.totalDeposits);
    }

    /// @inheritdoc IPredictionRouter
    function fee() external view returns (uint256) {
        return _settings.fee;
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
        return address(_operator);
    }

    /// @inheritdoc IPredictionRouter
    function linkToken() external view returns (address) {
        return address(_link);
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

    /// @dev Every check of an anonymous request, cheapest first; the proof (~270k gas) last.
    function _checkAnonymous(
        AnonymousRequest calldata request,
        ISemaphore.SemaphoreProof calldata proof,
        uint16 perEpoch
    ) private view returns (bytes32 requestId, uint256 nonce) {
        if (
            request.accessKey == address(0) || request.inputHash == bytes32(0) || request.keysHash == bytes32(0)
                || bytes(request.inputUri).length == 0
        ) revert InvalidAnonymousRequest();
        uint32 current = uint32(block.timestamp / ANONYMOUS_EPOCH_SECONDS);
        // The previous epoch too: a proof made just before midnight is still good when mined after.
        // Each epoch has its own scopes, so the per-epoch limit holds either way.
        if (request.epoch != current && uint256(request.epoch) + 1 != current) {
            revert EpochNotCurrent(request.epoch, current);
        }
        if (request.slot >= perEpoch) revert SlotOutOfRange(request.slot, perEpoch);
        uint256 scope = _anonymousScope(request.epoch, request.slot);
        if (proof.scope != scope) revert ScopeMismatch(proof.scope, scope);
        uint256 message = _anonymousMessage(request);
        if (proof.message != message) revert MessageMismatch(proof.message, message);
        // The request record is the nullifier's record: its id derives from the nullifier alone.
        nonce = _anonymousNonce(proof.nullifier);
        requestId = _requestId(nonce);
        if (_requests[requestId].status != RequestStatus.None) revert NullifierSpent(proof.nullifier, requestId);
        (bool active,) = _models.modelStatus(request.modelId);
        if (!active) revert ModelNotActive(request.modelId);
        if (!_groups.verifyMembership(_patientGroupId, proof)) revert InvalidMembershipProof();
    }

    /// @dev Names this router and chain, so a proof's nullifier is spent here and nowhere else.
    /// Shifted into the SNARK field like Semaphore's own hashes.
    function _anonymousScope(uint32 epoch, uint16 slot) private view returns (uint256) {
        return uint256(keccak256(abi.encode(ANONYMOUS_DOMAIN, block.chainid, address(this), epoch, slot))) >> 8;
    }

    function _anonymousMessage(AnonymousRequest calldata r) private view returns (uint256) {
        return uint256(
            keccak256(
                abi.encode(
                    ANONYMOUS_DOMAIN,
                    block.chainid,
                    address(this),
                    r.modelId,
                    r.epoch,
                    r.slot,
                    r.accessKey,
                    r.inputHash,
                    r.keysHash,
                    r.inputUri
                )
            )
        ) >> 8;
    }

    function _anonymousNonce(uint256 nullifier) private pure returns (uint256) {
        return uint256(keccak256(abi.encode("medcipher.anonymous", nullifier)));
    }

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

    /// @dev Effects of a request, all written before any LINK moves (checks-effects-interactions):
    /// the content-derived id, the pending caps, the payment from its sponsor, the record.
    function _record(address patient, uint32 modelId, bytes32 inputHash, bytes32 keysHash, Settings memory settings)
        private
        returns (bytes32 requestId, uint256 nonce)
    {
        AccountState storage p = _accounts[patient];
        uint32 requestCount = p.requestCount;
        nonce = _nonce(patient, requestCount, msg.sender, modelId, inputHash, keysHash);
        requestId = _requestId(nonce);
        p.requestCount = requestCount + 1;

        uint16 pending = p.pendingAsPatient;
        if (pending >= settings.maxPendingPerPatient) {
            revert TooManyPending(patient, pending, settings.maxPendingPerPatient);
        }
        p.pendingAsPatient = pending + 1;
        AccountState storage q = msg.sender == patient ? p : _accounts[msg.sender];
        pending = q.pendingAsRequester;
        if (pending >= settings.maxPendingPerRequester) {
            revert TooManyPending(msg.sender, pending, settings.maxPendingPerRequester);
        }
        q.pendingAsRequester = pending + 1;

        StoredRequest storage r = _requests[requestId];
        r.patient = patient;
        r.modelId = modelId;
        r.status = RequestStatus.Pending;
        r.payer = _charge(p, q, patient, settings);
        // The Operator commits to exactly this expiration (same block, same constant).
        r.expiresAt = uint32(block.timestamp + _expirySeconds);
        r.inputHash = inputHash;
        if (msg.sender != patient) r.requester = msg.sender;
    }

    /// @dev The requester's own deposit pays first; else the patient's governance-granted budget,
    /// backed by the router's pool (its LINK beyond all deposits). Nobody else pays.
    function _charge(AccountState storage p, AccountState storage q, address patient, Settings memory settings)
        private
        returns (PaymentSource)
    {
        uint96 payment = settings.fee;
        uint96 deposit = q.deposit;
        if (deposit >= payment) {
            q.deposit = deposit - payment;
            _settings.totalDeposits = settings.totalDeposits - payment;
            return PaymentSource.RequesterDeposit;
        }
        uint96 budget = p.sponsorBudget;
        if (budget < payment) revert NoSponsor(patient, msg.sender, payment);
        uint256 pool = _pool(settings.totalDeposits);
        if (pool < payment) revert InsufficientLink(pool, payment);
        p.sponsorBudget = budget - payment;
        return PaymentSource.SponsorBudget;
    }

    /// @dev Pays the Operator and opens the Chainlink request; the id is keccak256(router, nonce).
    function _send(uint256 nonce, uint256 payment) private {
        bytes memory request = abi.encodeCall(
            IChainlinkOperator.operatorRequest,
            (address(0), 0, _jobId, this.fulfilPrediction.selector, nonce, OPERATOR_ARGS_VERSION, "")
        );
        if (!_link.transferAndCall(address(_operator), payment, request)) revert LinkTransferFailed();
    }

    /// @dev Ends a pending, expired request as Cancelled and credits `payment` back to whoever paid.
    function _close(bytes32 requestId, uint256 payment) private returns (uint32 expiresAt) {
        StoredRequest storage r = _requests[requestId];
        RequestStatus status = r.status;
        if (status != RequestStatus.Pending) revert RequestNotPending(requestId, status);
        expiresAt = r.expiresAt;
        if (block.timestamp < expiresAt) revert RequestNotExpired(requestId, expiresAt);
        r.status = RequestStatus.Cancelled;
        PaymentSource payer = r.payer;
        if (payer == PaymentSource.AnonymousPool) {
            // The refund returns to the router's balance, which is the pool.
            emit PredictionCancelled(requestId, address(0), msg.sender);
            return expiresAt;
        }
        address patient = r.patient;
        address requester = r.requester;
        _release(patient, requester);
        uint96 refund = _toUint96(payment);
        if (payer == PaymentSource.SponsorBudget) {
            AccountState storage p = _accounts[patient];
            p.sponsorBudget = _toUint96(p.sponsorBudget + refund);
        } else {
            AccountState storage q = _accounts[requester == address(0) ? patient : requester];
            q.deposit = _toUint96(q.deposit + refund);
            _settings.totalDeposits = _toUint96(_settings.totalDeposits + refund);
        }
        emit PredictionCancelled(requestId, patient, msg.sender);
    }

    /// @dev A request stopped being pending: it no longer counts against either cap.
    function _release(address patient, address requester) private {
        AccountState storage p = _accounts[patient];
        AccountState storage q = requester == address(0) ? p : _accounts[requester];
        unchecked {
            --p.pendingAsPatient;
            --q.pendingAsRequester;
        }
    }

    /// @dev Only the router (as `sender`) can open ids in its own namespace at the Operator, and
    /// the per-patient count keeps identical requests apart, so ids never repeat. Any other
    /// request (another input, model, key set, requester or position in the patient's sequence)
    /// has another id: a fulfilment signed for one request cannot land on a different one.
    function _nonce(
        address patient,
        uint32 requestCount,
        address requester,
        uint32 modelId,
        bytes32 inputHash,
        bytes32 keysHash
    ) private pure returns (uint256) {
        return uint256(keccak256(abi.encode(patient, requestCount, requester, modelId, inputHash, keysHash)));
    }

    function _requestId(uint256 nonce) private view returns (bytes32) {
        return keccak256(abi.encodePacked(address(this), nonce));
    }

    /// @dev The router's LINK that no deposit claims: what sponsor budgets and governance draw on.
    function _pool(uint96 totalDeposits) private view returns (uint256) {
        uint256 balance = _link.balanceOf(address(this));
        return balance > totalDeposits ? balance - totalDeposits : 0;
    }

    function _mayRequest(address requester, address patient) private view returns (bool) {
        return _consent.hasAccess(requester, patient, Category.PREDICTION, Purpose.TREATDS);
    }

    /// @dev The Operator's authorised senders that still hold ORACLE_ROLE, without `except` and
    /// without the router's own placeholder: an oracle can set the Operator's senders itself
    /// while authorised, so every change re-derives the list from the role.
    function _sendersHoldingRole(bytes32 oracleRole, address except) private view returns (address[] memory kept) {
        address[] memory current = _operator.getAuthorizedSenders();
        address[] memory candidates = new address[](current.length);
        uint256 n = 0;
        for (uint256 i = 0; i < current.length; ++i) {
            address sender = current[i];
            if (sender == except || sender == address(this) || !_identity.hasRole(oracleRole, sender)) continue;
            candidates[n] = sender;
            ++n;
        }
        kept = new address[](n);
        for (uint256 i = 0; i < n; ++i) {
            kept[i] = candidates[i];
        }
    }

    function _fail(StoredRequest storage r, bytes32 requestId, address patient, uint16 code) private {
        r.status = RequestStatus.Failed;
        r.failureCode = code;
        emit PredictionFailed(requestId, patient, code);
    }

    function _toUint96(uint256 value) private pure returns (uint96) {
        if (value > type(uint96).max) revert ValueTooLarge(value, type(uint96).max);
        return uint96(value);
    }
}
