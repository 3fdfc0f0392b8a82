// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {LinkTokenInterface} from "@chainlink/contracts/src/v0.8/shared/interfaces/LinkTokenInterface.sol";
import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

import {IdentityGoverned} from "../access/IdentityGoverned.sol";
import {IIdentityRegistry} from "../interfaces/IIdentityRegistry.sol";
import {IOracleQuorum} from "../interfaces/IOracleQuorum.sol";

/// @title OracleQuorum
/// @notice k-of-n oracle quorum in the Chainlink Operator's place: every authorised operator runs
/// its own daemon and key and posts `fulfillOracleRequest2` as usual; each call is a vote on
/// keccak256(data), and the consumer is called once, when k votes agree.
/// @dev Votes live on chain (not as off-chain signatures aggregated by a transmitter) so that each
/// daemon stays independent: no gossip, no leader election, and the unchanged daemon code path.
/// CKKS evaluation is deterministic, so honest operators post byte-identical data.
/// The owner (the PredictionRouter, as with the Operator) sets the operator set; governance (the
/// IdentityRegistry's admin) sets k. Operators cannot change the set (unlike the Operator, where
/// any authorised sender may): one Byzantine operator must not be able to replace the others.
contract OracleQuorum is IOracleQuorum, Ownable2Step, IdentityGoverned {
    /// @dev Per-request votes: one slot, written on every vote.
    struct Round {
        uint128 voted; // bitmap of operator slots that voted
        uint8 votes;
        uint8 leading; // the largest tally of any one hash
        bool finalised;
        bool unreachable; // QuorumUnreachable was emitted
    }

    /// @dev The voters of one (request, hash) pair.
    struct Tally {
        uint128 voters;
        uint8 count;
    }

    /// @dev The operator set and threshold: read once per vote.
    struct Config {
        uint128 active; // bitmap of the slots of authorised operators
        uint8 n;
        uint8 k; // governance's threshold; the effective one is min(k, n) (see _threshold)
        uint8 slotsUsed; // lifetime slots handed out
    }

    struct OperatorStats {
        uint32 disagreements;
        uint32 misses;
    }

    uint256 public constant EXPIRYTIME = 5 minutes;
    /// @notice Most operators authorised at once.
    uint256 public constant MAX_OPERATORS = 32;
    /// @notice Distinct addresses that can ever be operators: each keeps its bitmap slot for good,
    /// so a pending request's bitmap never confuses a newcomer with a removed voter.
    uint256 public constant MAX_SLOTS = 128;
    uint256 private constant MAXIMUM_DATA_VERSION = 255;
    uint256 private constant MINIMUM_CONSUMER_GAS_LIMIT = 400_000;
    uint256 private constant MINIMUM_REQUEST_LENGTH = 4 + 32 * 2;
    uint256 private constant ESCROW_FLOOR = 1;

    LinkTokenInterface private immutable _link;

    Config private _config;
    /// @dev Slot (1-based) of each address that ever was an operator; 0 = never.
    mapping(address operator => uint8 slot) private _slotOf;
    /// @dev The address behind each slot (index slot - 1).
    address[MAX_SLOTS] private _slotOwner;
    address[] private _senders;
    /// @dev While a request is open: its commitment, bytes31 params hash << 8 | data version.
    /// Once final: the winning result hash (overwriting a warm non-zero slot is the cheapest store).
    mapping(bytes32 requestId => bytes32) private _commitments;
    mapping(bytes32 requestId => Round) private _rounds;
    mapping(bytes32 requestId => mapping(bytes32 resultHash => Tally)) private _tallies;
    mapping(address operator => OperatorStats) private _stats;
    /// @dev Payments of open requests, plus one: as in the Chainlink Operator, the slot never
    /// returns to zero, so a request after a quiet spell pays a warm 5k store instead of 20k.
    uint256 private _tokensInEscrow = ESCROW_FLOOR;

    /// @param link The LINK token.
    /// @param owner_ First owner (the deployer, who hands it to the router).
    /// @param identity The IdentityRegistry whose admin governs k.
    /// @param k Initial threshold; the operator set starts empty, so the first
    /// `setAuthorizedSenders` must name at least k operators or k is lowered to its size.
    constructor(address link, address owner_, IIdentityRegistry identity, uint8 k)
        Ownable(owner_)
        IdentityGoverned(identity)
    {
        if (link == address(0)) revert ZeroAddress();
        if (k == 0 || k > MAX_OPERATORS) revert InvalidQuorum(k, MAX_OPERATORS);
        _link = LinkTokenInterface(link);
        _config.k = k;
    }

    // ─── Requests ────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IOracleQuorum
    function onTokenTransfer(address sender, uint256 amount, bytes calldata data) external onlyLink {
        if (data.length < MINIMUM_REQUEST_LENGTH) revert RequestTooShort(data.length);
        bytes4 selector = bytes4(data[:4]);
        if (selector != this.operatorRequest.selector && selector != this.oracleRequest.selector) {
            revert UnsupportedRequestFunction(selector);
        }
        bytes memory payload = data;
        // As the Operator does: the first two arguments are whatever LINK says they are.
        // solhint-disable-next-line no-inline-assembly
        assembly {
            mstore(add(payload, 36), sender)
            mstore(add(payload, 68), amount)
        }
        // solhint-disable-next-line avoid-low-level-calls
        (bool success, bytes memory reason) = address(this).delegatecall(payload);
        if (!success) {
            // solhint-disable-next-line no-inline-assembly
            assembly {
                revert(add(reason, 32), mload(reason))
            }
        }
    }

    /// @inheritdoc IOracleQuorum
    function oracleRequest(
        address sender,
        uint256 payment,
        bytes32 specId,
        address callbackAddress,
        bytes4 callbackFunctionId,
        uint256 nonce,
        uint256 dataVersion,
        bytes calldata data
    ) external onlyLink {
        (bytes32 requestId, uint256 expiration) =
            _open(sender, payment, callbackAddress, callbackFunctionId, nonce, dataVersion);
        emit OracleRequest(
            specId, sender, requestId, payment, sender, callbackFunctionId, expiration, dataVersion, data
        );
    }

    /// @inheritdoc IOracleQuorum
    function operatorRequest(
        address sender,
        uint256 payment,
        bytes32 specId,
        bytes4 callbackFunctionId,
        uint256 nonce,
        uint256 dataVersion,
        bytes calldata data
    ) external onlyLink {
        (bytes32 requestId, uint256 expiration) =
            _open(sender, payment, sender, callbackFunctionId, nonce, dataVersion);
        emit OracleRequest(
            specId, sender, requestId, payment, sender, callbackFunctionId, expiration, dataVersion, data
        );
    }

    // ─── Votes ───────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IOracleQuorum
    function fulfillOracleRequest2(
        bytes32 requestId,
        uint256 payment,
        address callbackAddress,
        bytes4 callbackFunctionId,
        uint256 expiration,
        bytes calldata data
    ) external returns (bool) {
        uint128 bit = _authorisedBit(_config.active, msg.sender);
        if (data.length < 32) revert ResponseTooShort(data.length);
        bytes32 firstWord = bytes32(data[:32]);
        if (firstWord != requestId) revert ResponseIdMismatch(requestId, firstWord);

        Round memory round = _rounds[requestId];
        if (round.voted & bit != 0) revert AlreadyVoted(requestId, msg.sender);
        bytes32 resultHash = keccak256(data);
        if (round.finalised) return _lateVote(requestId, round, bit, resultHash);

        _checkCommitment(requestId, payment, callbackAddress, callbackFunctionId, expiration);
        if (!_count(requestId, round, bit, resultHash)) return true;
        _tokensInEscrow -= payment;
        emit OracleResponse(requestId);
        if (gasleft() < MINIMUM_CONSUMER_GAS_LIMIT) {
            revert InsufficientConsumerGas(gasleft(), MINIMUM_CONSUMER_GAS_LIMIT);
        }
        // The consumer is untrusted: every state change is above, and its failure does not undo
        // the votes (as with the Operator, the oracle's work is done).
        // solhint-disable-next-line avoid-low-level-calls
        (bool success,) = callbackAddress.call(abi.encodePacked(callbackFunctionId, data));
        return success;
    }

    // ─── Cancellation ────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IOracleQuorum
    function cancelOracleRequest(bytes32 requestId, uint256 payment, bytes4 callbackFunc, uint256 expiration)
        external
    {
        Round memory round = _rounds[requestId];
        if (round.finalised) revert RequestFinalised(requestId);
        bytes32 commitment = _commitments[requestId];
        if (commitment == 0) revert UnknownRequest(requestId);
        if (bytes31(commitment) != _paramsHash(payment, msg.sender, callbackFunc, expiration)) {
            revert ParamsMismatch(requestId);
        }
        if (expiration > block.timestamp) revert RequestNotExpired(requestId, expiration);
        delete _commitments[requestId];
        delete _rounds[requestId];
        _tokensInEscrow -= payment;
        emit CancelOracleRequest(requestId);
        _recordMisses(requestId, _config.active & ~round.voted);
        if (!_link.transfer(msg.sender, payment)) revert LinkTransferFailed();
    }

    // ─── Operator set and threshold ──────────────────────────────────────────────────────────────

    /// @inheritdoc IOracleQuorum
    function setAuthorizedSenders(address[] calldata senders) external onlyOwner {
        uint256 n = senders.length;
        if (n == 0 || n > MAX_OPERATORS) revert InvalidOperatorSet(n, MAX_OPERATORS);
        Config memory cfg = _config;
        uint128 active = 0;
        for (uint256 i = 0; i < n; ++i) {
            address sender = senders[i];
            uint8 slot = _slotOf[sender];
            if (slot == 0) {
                if (cfg.slotsUsed == MAX_SLOTS) revert OperatorSlotsExhausted(MAX_SLOTS);
                slot = ++cfg.slotsUsed;
                _slotOf[sender] = slot;
                _slotOwner[slot - 1] = sender;
            }
            uint128 bit = uint128(1) << (slot - 1);
            if (active & bit != 0) revert DuplicateOperator(sender);
            active |= bit;
        }
        uint256 before = _threshold(cfg);
        cfg.active = active;
        cfg.n = uint8(n);
        _config = cfg;
        _senders = senders;
        emit AuthorizedSendersChanged(senders, msg.sender);
        // Removing operators is never blocked: when fewer than k remain, the threshold follows n
        // down, and back up to governance's k as operators return (a rotation through a smaller
        // set does not silently weaken the quorum for good).
        uint256 threshold = _threshold(cfg);
        if (threshold != before) emit QuorumChanged(threshold, n);
    }

    /// @inheritdoc IOracleQuorum
    function setQuorum(uint256 k) external onlyGovernance {
        uint256 n = _config.n;
        if (k == 0 || k > n) revert InvalidQuorum(k, n);
        _config.k = uint8(k);
        emit QuorumChanged(k, n);
    }

    /// @inheritdoc IOracleQuorum
    function withdraw(address recipient, uint256 amount) external onlyOwner {
        uint256 available = _withdrawable();
        if (amount > available) revert InsufficientWithdrawable(amount, available);
        if (!_link.transfer(recipient, amount)) revert LinkTransferFailed();
    }

    // ─── Views ───────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IOracleQuorum
    function getAuthorizedSenders() external view returns (address[] memory) {
        return _senders;
    }

    /// @inheritdoc IOracleQuorum
    function isAuthorizedSender(address sender) public view returns (bool) {
        uint8 slot = _slotOf[sender];
        return slot != 0 && _config.active & (uint128(1) << (slot - 1)) != 0;
    }

    /// @inheritdoc IOracleQuorum
    function withdrawable() external view returns (uint256) {
        return _withdrawable();
    }

    /// @inheritdoc IOracleQuorum
    function getChainlinkToken() external view returns (address) {
        return address(_link);
    }

    /// @inheritdoc IOracleQuorum
    function quorum() external view returns (uint256 k, uint256 n) {
        Config memory cfg = _config;
        return (_threshold(cfg), cfg.n);
    }

    /// @inheritdoc IOracleQuorum
    function requestVotes(bytes32 requestId)
        external
        view
        returns (uint256 votes, uint256 leading, bool finalised, bytes32 finalHash)
    {
        Round memory round = _rounds[requestId];
        return (round.votes, round.leading, round.finalised, round.finalised ? _commitments[requestId] : bytes32(0));
    }

    /// @inheritdoc IOracleQuorum
    function votesFor(bytes32 requestId, bytes32 resultHash) external view returns (uint256) {
        return _tallies[requestId][resultHash].count;
    }

    /// @inheritdoc IOracleQuorum
    function operatorRecord(address operator) external view returns (uint256 disagreements, uint256 misses) {
        OperatorStats memory s = _stats[operator];
        return (s.disagreements, s.misses);
    }

    // ─── Internals ───────────────────────────────────────────────────────────────────────────────

    modifier onlyLink() {
        if (msg.sender != address(_link)) revert OnlyLink(msg.sender);
        _;
    }

    function _open(
        address sender,
        uint256 payment,
        address callbackAddress,
        bytes4 callbackFunctionId,
        uint256 nonce,
        uint256 dataVersion
    ) private returns (bytes32 requestId, uint256 expiration) {
        if (callbackAddress == address(_link)) revert CallbackIsLink();
        if (dataVersion > MAXIMUM_DATA_VERSION) revert DataVersionTooLarge(dataVersion);
        requestId = keccak256(abi.encodePacked(sender, nonce));
        if (_commitments[requestId] != 0) revert DuplicateRequest(requestId);
        expiration = block.timestamp + EXPIRYTIME;
        bytes31 paramsHash = _paramsHash(payment, callbackAddress, callbackFunctionId, expiration);
        _commitments[requestId] = bytes32(paramsHash) | bytes32(dataVersion);
        _tokensInEscrow += payment;
    }

    function _checkCommitment(
        bytes32 requestId,
        uint256 payment,
        address callbackAddress,
        bytes4 callbackFunctionId,
        uint256 expiration
    ) private view {
        bytes32 commitment = _commitments[requestId];
        if (commitment == 0) revert UnknownRequest(requestId);
        if (bytes31(commitment) != _paramsHash(payment, callbackAddress, callbackFunctionId, expiration)) {
            revert ParamsMismatch(requestId);
        }
        uint256 committedVersion = uint8(uint256(commitment));
        if (committedVersion > 2) revert DataVersionMismatch(requestId, committedVersion, 2);
    }

    /// @dev Adds the vote; on reaching k, marks the request final, stores the winning hash and
    /// records the dissenters. Returns whether this vote finalised it.
    function _count(bytes32 requestId, Round memory round, uint128 bit, bytes32 resultHash)
        private
        returns (bool)
    {
        Tally memory tally = _tallies[requestId][resultHash];
        tally.voters |= bit;
        ++tally.count;
        _tallies[requestId][resultHash] = tally;
        round.voted |= bit;
        ++round.votes;
        if (tally.count > round.leading) round.leading = tally.count;
        emit VoteCast(requestId, msg.sender, resultHash, tally.count);

        Config memory cfg = _config;
        if (tally.count < _threshold(cfg)) {
            _checkReachable(requestId, round, cfg);
            _rounds[requestId] = round;
            return false;
        }
        round.finalised = true;
        _rounds[requestId] = round;
        _commitments[requestId] = resultHash;
        emit QuorumReached(requestId, resultHash, tally.count);
        _recordDissent(requestId, round.voted & ~tally.voters, resultHash);
        return true;
    }

    function _lateVote(bytes32 requestId, Round memory round, uint128 bit, bytes32 resultHash)
        private
        returns (bool)
    {
        round.voted |= bit;
        ++round.votes;
        _rounds[requestId] = round;
        emit LateVote(requestId, msg.sender, resultHash);
        bytes32 finalHash = _commitments[requestId];
        if (resultHash != finalHash) _disagreed(requestId, msg.sender, resultHash, finalHash);
        return true;
    }

    /// @dev Emits QuorumUnreachable once, when the leading hash plus every authorised operator
    /// that has not voted yet falls short of k.
    function _checkReachable(bytes32 requestId, Round memory round, Config memory cfg) private {
        if (round.unreachable) return;
        uint256 remaining = _popcount(cfg.active & ~round.voted);
        uint256 threshold = _threshold(cfg);
        if (round.leading + remaining >= threshold) return;
        round.unreachable = true;
        emit QuorumUnreachable(requestId, round.leading, remaining, threshold);
    }

    /// @dev Each voter in `dissenters` voted for some other hash than `finalHash`.
    function _recordDissent(bytes32 requestId, uint128 dissenters, bytes32 finalHash) private {
        for (uint256 slot = 0; dissenters != 0; ++slot) {
            if (dissenters & 1 != 0) {
                // Tallies are kept per hash, not per voter, so the dissenting vote's hash is not
                // known here; the event names it zero (that vote's VoteCast event has it).
                _disagreed(requestId, _slotOwner[slot], bytes32(0), finalHash);
            }
            dissenters >>= 1;
        }
    }

    function _disagreed(bytes32 requestId, address operator, bytes32 voted, bytes32 finalHash) private {
        ++_stats[operator].disagreements;
        emit OperatorDisagreed(requestId, operator, voted, finalHash);
    }

    function _recordMisses(bytes32 requestId, uint128 missing) private {
        for (uint256 slot = 0; missing != 0; ++slot) {
            if (missing & 1 != 0) {
                address operator = _slotOwner[slot];
                ++_stats[operator].misses;
                emit OperatorMissed(requestId, operator);
            }
            missing >>= 1;
        }
    }

    function _authorisedBit(uint128 active, address sender) private view returns (uint128 bit) {
        uint8 slot = _slotOf[sender];
        if (slot != 0) bit = uint128(1) << (slot - 1);
        if (bit == 0 || active & bit == 0) revert NotAuthorizedSender(sender);
    }

    /// @dev The effective threshold: governance's k, capped by the operators authorised now
    /// (before the first operator set, k itself).
    function _threshold(Config memory cfg) private pure returns (uint256) {
        return cfg.n != 0 && cfg.n < cfg.k ? cfg.n : cfg.k;
    }

    function _withdrawable() private view returns (uint256) {
        return _link.balanceOf(address(this)) - (_tokensInEscrow - ESCROW_FLOOR);
    }

    function _paramsHash(uint256 payment, address callbackAddress, bytes4 callbackFunctionId, uint256 expiration)
        private
        pure
        returns (bytes31)
    {
        return bytes31(keccak256(abi.encodePacked(payment, callbackAddress, callbackFunctionId, expiration)));
    }

    function _popcount(uint128 x) private pure returns (uint256 count) {
        for (; x != 0; x &= x - 1) ++count;
    }
}
