// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IOracleQuorum
/// @notice A k-of-n drop-in for the Chainlink Operator the PredictionRouter talks to: the same
/// request entry (`onTokenTransfer` → `operatorRequest`/`oracleRequest`), the same `OracleRequest`
/// event, the same `fulfillOracleRequest2` and `cancelOracleRequest`. Each authorised operator's
/// `fulfillOracleRequest2` is a vote on keccak256(data); the consumer's callback runs once, when k
/// votes agree on one hash. Disagreeing and missing operators are counted for governance.
interface IOracleQuorum {
    // ─── Events the Chainlink Operator also emits (same signatures, so decoders work unchanged) ──

    /// @notice A request was opened; oracle daemons serve it.
    event OracleRequest(
        bytes32 indexed specId,
        address requester,
        bytes32 requestId,
        uint256 payment,
        address callbackAddr,
        bytes4 callbackFunctionId,
        uint256 cancelExpiration,
        uint256 dataVersion,
        bytes data
    );

    /// @notice An unfinalised request was cancelled and its payment returned.
    event CancelOracleRequest(bytes32 indexed requestId);

    /// @notice The request was finalised and its callback called.
    event OracleResponse(bytes32 indexed requestId);

    /// @notice The authorised operator set was replaced.
    event AuthorizedSendersChanged(address[] senders, address changedBy);

    // ─── Quorum events ──────────────────────────────────────────────────────────────────────────

    /// @notice `operator` voted for `resultHash` before the request was final.
    /// @param agreeing How many operators have now voted for `resultHash`.
    event VoteCast(bytes32 indexed requestId, address indexed operator, bytes32 resultHash, uint256 agreeing);

    /// @notice `agreeing` ≥ k operators voted for `resultHash`: the callback is called with it.
    event QuorumReached(bytes32 indexed requestId, bytes32 resultHash, uint256 agreeing);

    /// @notice A vote arrived after the request was final (it is recorded, nothing else happens).
    event LateVote(bytes32 indexed requestId, address indexed operator, bytes32 resultHash);

    /// @notice `operator` voted for another hash than the final one; its disagreement counter grew.
    event OperatorDisagreed(bytes32 indexed requestId, address indexed operator, bytes32 voted, bytes32 finalHash);

    /// @notice `operator` was authorised when the request was cancelled and had not voted on it.
    event OperatorMissed(bytes32 indexed requestId, address indexed operator);

    /// @notice Even if every authorised operator that has not voted agreed with the leading hash,
    /// it would not reach k: the request can only expire and be cancelled (unless k is lowered).
    event QuorumUnreachable(bytes32 indexed requestId, uint256 leading, uint256 remaining, uint256 k);

    /// @notice The effective threshold changed: governance set k, or the operator set shrank below
    /// governance's k (the threshold follows n down) or grew back (it returns to governance's k).
    event QuorumChanged(uint256 k, uint256 n);

    // ─── Errors ──────────────────────────────────────────────────────────────────────────────────

    /// @notice Only the LINK token may call `onTokenTransfer` / the request entries.
    error OnlyLink(address caller);
    /// @notice `onTokenTransfer` may only call `operatorRequest` or `oracleRequest`.
    error UnsupportedRequestFunction(bytes4 selector);
    /// @notice The request payload is shorter than a selector and two words.
    error RequestTooShort(uint256 length);
    /// @notice The request id is already in use.
    error DuplicateRequest(bytes32 requestId);
    /// @notice A callback to the LINK token is never made.
    error CallbackIsLink();
    /// @notice The data version does not fit the commitment (Chainlink uses 1 and 2).
    error DataVersionTooLarge(uint256 dataVersion);
    /// @notice `caller` is not an authorised operator.
    error NotAuthorizedSender(address caller);
    /// @notice The request is unknown, or was cancelled.
    error UnknownRequest(bytes32 requestId);
    /// @notice The request parameters do not hash to the request's commitment.
    error ParamsMismatch(bytes32 requestId);
    /// @notice The request was opened with a newer data version than the fulfilment uses.
    error DataVersionMismatch(bytes32 requestId, uint256 committed, uint256 used);
    /// @notice A multi-word response must be at least one word.
    error ResponseTooShort(uint256 length);
    /// @notice A multi-word response's first word must be the request id.
    error ResponseIdMismatch(bytes32 requestId, bytes32 firstWord);
    /// @notice `operator` already voted on `requestId`; a vote counts once.
    error AlreadyVoted(bytes32 requestId, address operator);
    /// @notice Too little gas is left to give the consumer its minimum.
    error InsufficientConsumerGas(uint256 left, uint256 required);
    /// @notice The request is final: it can no longer be cancelled.
    error RequestFinalised(bytes32 requestId);
    /// @notice The request can only be cancelled at or after `expiration`.
    error RequestNotExpired(bytes32 requestId, uint256 expiration);
    /// @notice More LINK was asked for than is earned (escrow is not withdrawable).
    error InsufficientWithdrawable(uint256 requested, uint256 available);
    /// @notice A LINK transfer returned false.
    error LinkTransferFailed();
    /// @notice The operator set is empty, has a duplicate, or exceeds `max` members.
    error InvalidOperatorSet(uint256 size, uint256 max);
    /// @notice Every lifetime operator slot is taken (an address keeps its slot for good).
    error OperatorSlotsExhausted(uint256 slots);
    /// @notice `account` appears twice in the operator set.
    error DuplicateOperator(address account);
    /// @notice k must be in 1..n.
    error InvalidQuorum(uint256 k, uint256 n);

    // ─── Chainlink Operator surface ─────────────────────────────────────────────────────────────

    /// @notice Seconds from request to cancel expiration (5 minutes, as the Chainlink Operator).
    function EXPIRYTIME() external view returns (uint256);

    /// @notice LINK `transferAndCall` entry; forwards to `operatorRequest`/`oracleRequest`.
    function onTokenTransfer(address sender, uint256 amount, bytes calldata data) external;

    /// @notice Version-1 request entry (callback address given explicitly).
    function oracleRequest(
        address sender,
        uint256 payment,
        bytes32 specId,
        address callbackAddress,
        bytes4 callbackFunctionId,
        uint256 nonce,
        uint256 dataVersion,
        bytes calldata data
    ) external;

    /// @notice Version-2 request entry; the callback address is the requester.
    function operatorRequest(
        address sender,
        uint256 payment,
        bytes32 specId,
        bytes4 callbackFunctionId,
        uint256 nonce,
        uint256 dataVersion,
        bytes calldata data
    ) external;

    /// @notice One operator's vote; returns the callback's success when this vote finalises the
    /// request, and true otherwise (the vote was counted).
    function fulfillOracleRequest2(
        bytes32 requestId,
        uint256 payment,
        address callbackAddress,
        bytes4 callbackFunctionId,
        uint256 expiration,
        bytes calldata data
    ) external returns (bool);

    /// @notice The requester takes back an expired, unfinalised request's payment.
    function cancelOracleRequest(bytes32 requestId, uint256 payment, bytes4 callbackFunc, uint256 expiration)
        external;

    /// @notice Replaces the operator set (owner only). Members keep their slots; removal is never
    /// blocked: the effective threshold is min(governance's k, n), so it follows n down and back.
    function setAuthorizedSenders(address[] calldata senders) external;

    /// @notice The operator set.
    function getAuthorizedSenders() external view returns (address[] memory);

    /// @notice Whether `sender` is an authorised operator.
    function isAuthorizedSender(address sender) external view returns (bool);

    /// @notice Sends earned (not escrowed) LINK; owner only.
    function withdraw(address recipient, uint256 amount) external;

    /// @notice LINK earned by finalised requests and not yet withdrawn.
    function withdrawable() external view returns (uint256);

    /// @notice The LINK token.
    function getChainlinkToken() external view returns (address);

    // ─── Quorum surface ──────────────────────────────────────────────────────────────────────────

    /// @notice Sets k (governance only); 1 ≤ k ≤ n.
    function setQuorum(uint256 k) external;

    /// @notice The effective threshold k = min(governance's k, n) and the operator count n.
    function quorum() external view returns (uint256 k, uint256 n);

    /// @notice A request's vote state.
    /// @return votes Votes cast so far (including late ones).
    /// @return leading The largest number of votes any one hash has.
    /// @return finalised Whether k votes agreed.
    /// @return finalHash The hash that won (zero until final).
    function requestVotes(bytes32 requestId)
        external
        view
        returns (uint256 votes, uint256 leading, bool finalised, bytes32 finalHash);

    /// @notice How many operators voted `resultHash` on `requestId`.
    function votesFor(bytes32 requestId, bytes32 resultHash) external view returns (uint256);

    /// @notice An operator's governance counters.
    /// @return disagreements Votes for another hash than the final one.
    /// @return misses Cancelled requests it was authorised for and never voted on.
    function operatorRecord(address operator) external view returns (uint256 disagreements, uint256 misses);
}
