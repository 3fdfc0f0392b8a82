// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

import {IdentityGoverned} from "../access/IdentityGoverned.sol";
import {IConsentManager} from "../interfaces/IConsentManager.sol";
import {IIdentityRegistry} from "../interfaces/IIdentityRegistry.sol";
import {Category} from "../libraries/Category.sol";
import {Purpose} from "../libraries/Purpose.sol";

/// @title ConsentManager
/// @notice Purpose-bound, scoped, expiring, revocable consent and break-glass access.
/// See {IConsentManager}.
contract ConsentManager is IConsentManager, IdentityGoverned, EIP712, Nonces {
    /// @notice EIP-712 type hash of a signed grant.
    bytes32 public constant GRANT_TYPEHASH = keccak256(
        "GrantConsent(address patient,address grantee,uint8 purpose,uint32 categories,"
        "uint40 validFrom,uint40 validUntil,uint256 nonce,uint256 deadline)"
    );
    /// @notice EIP-712 type hash of a signed revocation.
    bytes32 public constant REVOKE_TYPEHASH =
        keccak256("RevokeConsent(address patient,address grantee,uint8 purpose,uint256 nonce,uint256 deadline)");
    /// @notice EIP-712 type hash of a private consent's opening (what the patient signs off-chain).
    bytes32 public constant PRIVATE_CONSENT_TYPEHASH = keccak256(
        "PrivateConsent(address patient,address grantee,uint256 groupId,uint8 purpose,uint32 categories,"
        "uint40 validFrom,uint40 validUntil,uint32 epoch,bytes32 salt)"
    );
    /// @inheritdoc IConsentManager
    uint40 public constant BREAK_GLASS_DURATION = 4 hours;
    /// @inheritdoc IConsentManager
    uint40 public constant BREAK_GLASS_COOLDOWN = 24 hours;

    struct BreakGlass {
        uint40 validUntil;
        uint32 epoch;
        // Set when the patient ends the access: the provider may not break the glass again before.
        uint40 refusedUntil;
        // The provider's PROVIDER_ROLE holding (IdentityRegistry.roleHolding) it broke the glass under.
        uint32 roleHolding;
    }

    mapping(address patient => mapping(address grantee => mapping(uint8 purpose => Grant))) private _grants;
    mapping(address patient => mapping(address grantee => mapping(uint8 purpose => mapping(bytes32 => RecordGrant))))
        private _recordGrants;
    mapping(address patient => mapping(address provider => BreakGlass)) private _breakGlass;
    mapping(address patient => uint32) private _epochs;
    mapping(bytes32 commitment => PrivateConsentState) private _privateConsents;

    /// @param identity_ The IdentityRegistry (PROVIDER_ROLE for break-glass).
    constructor(IIdentityRegistry identity_) IdentityGoverned(identity_) EIP712("MedCipher ConsentManager", "1") {}

    // ─── Grants ────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IConsentManager
    function grantConsent(address grantee, uint8 purpose, uint32 categories, uint40 validFrom, uint40 validUntil)
        external
    {
        // A direct change consumes a nonce, so a grant or revocation signed before it is older
        // and can no longer override it; a signed revocation made from now on still ends it.
        uint256 nextNonce = _useNonce(msg.sender) + 1;
        _grant(msg.sender, grantee, purpose, categories, validFrom, validUntil, nextNonce);
    }

    /// @inheritdoc IConsentManager
    function grantConsentBySig(
        address patient,
        address grantee,
        uint8 purpose,
        uint32 categories,
        uint40 validFrom,
        uint40 validUntil,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _checkDeadline(deadline);
        (bytes32 structHash, uint256 nonce) =
            _grantStructHash(patient, grantee, purpose, categories, validFrom, validUntil, deadline);
        _checkSigner(structHash, signature, patient);
        // A revocation signed at this same nonce ends the grant: the patient may have signed it
        // after the grant, and the tie goes to removing access.
        _grant(patient, grantee, purpose, categories, validFrom, validUntil, nonce);
    }

    /// @inheritdoc IConsentManager
    function grantRecordConsent(
        address grantee,
        uint8 purpose,
        bytes32[] calldata recordIds,
        uint40 validFrom,
        uint40 validUntil
    ) external {
        _checkTerms(msg.sender, grantee, purpose, validFrom, validUntil);
        if (recordIds.length == 0) revert EmptyScope();
        uint32 epoch = _epochs[msg.sender];
        mapping(bytes32 => RecordGrant) storage grants = _recordGrants[msg.sender][grantee][purpose];
        for (uint256 i = 0; i < recordIds.length; ++i) {
            bytes32 recordId = recordIds[i];
            if (recordId == bytes32(0)) revert EmptyScope();
            grants[recordId] = RecordGrant(validFrom, validUntil, epoch);
            emit RecordConsentGranted(msg.sender, grantee, purpose, recordId, validFrom, validUntil, epoch);
        }
    }

    // ─── Revocation ────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IConsentManager
    function revokeConsent(address grantee, uint8 purpose) external {
        // Consumes a nonce like every direct change: a grant signed before it cannot bring access
        // back. The counter alone: the epoch half is not needed here (saves a cold read).
        Nonces._useNonce(msg.sender);
        _revoke(msg.sender, grantee, purpose);
    }

    /// @inheritdoc IConsentManager
    function revokeConsentBySig(
        address patient,
        address grantee,
        uint8 purpose,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _checkDeadline(deadline);
        bytes32 structHash = keccak256(abi.encode(REVOKE_TYPEHASH, patient, grantee, purpose, nonce, deadline));
        _checkSigner(structHash, signature, patient);
        uint256 current = nonces(patient);
        if (nonce > current) revert InvalidAccountNonce(patient, current);
        uint256 grantRevocableFrom = _revocableFrom(_grants[patient][grantee][purpose]);
        if (grantRevocableFrom > nonce) {
            revert RevocationSuperseded(patient, grantee, purpose, nonce, grantRevocableFrom);
        }
        // Landing at the current nonce, the revocation consumes it: a grant signed for that nonce
        // (held back by a relayer or the grantee) can no longer be submitted. Landing later, it
        // still ends the grant in the slot, which was signed no later than the revocation.
        if (nonce == current) _useNonce(patient);
        _revoke(patient, grantee, purpose);
    }

    /// @inheritdoc IConsentManager
    function revokeRecordConsent(address grantee, uint8 purpose, bytes32[] calldata recordIds) external {
        mapping(bytes32 => RecordGrant) storage grants = _recordGrants[msg.sender][grantee][purpose];
        for (uint256 i = 0; i < recordIds.length; ++i) {
            delete grants[recordIds[i]];
            emit RecordConsentRevoked(msg.sender, grantee, purpose, recordIds[i]);
        }
    }

    /// @inheritdoc IConsentManager
    function revokeAllConsents() external {
        uint32 newEpoch = _epochs[msg.sender] + 1;
        _epochs[msg.sender] = newEpoch;
        emit AllConsentsRevoked(msg.sender, newEpoch);
    }

    // ─── Private consent ───────────────────────────────────────────────────────────────────────

    /// @inheritdoc IConsentManager
    function grantConsentPrivate(bytes32 commitment) external {
        if (commitment == bytes32(0)) revert InvalidCommitment();
        PrivateConsentState storage state = _privateConsents[commitment];
        if (state.grantedAt != 0) revert PrivateConsentExists(commitment);
        state.grantedAt = uint40(block.timestamp);
        emit PrivateConsentGranted(commitment);
    }

    /// @inheritdoc IConsentManager
    function revokeConsentPrivate(bytes32 consentHash, bytes32 revocationSecret) external {
        bytes32 commitment = _privateCommitment(consentHash, keccak256(abi.encode(revocationSecret)));
        PrivateConsentState storage state = _privateConsents[commitment];
        if (state.grantedAt == 0) revert UnknownPrivateConsent(commitment);
        if (state.revokedAt != 0) revert PrivateConsentAlreadyRevoked(commitment);
        state.revokedAt = uint40(block.timestamp);
        emit PrivateConsentRevoked(commitment);
    }

    // ─── Break-glass ───────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IConsentManager
    function breakGlass(address patient, bytes32 reasonHash) external returns (uint40 validUntil) {
        bytes32 providerRole = _identity.PROVIDER_ROLE();
        uint32 holding = _identity.roleHolding(providerRole, msg.sender);
        if (holding == 0) revert MissingRole(msg.sender, providerRole);
        if (patient == address(0) || patient == msg.sender) revert InvalidGrantee(patient);
        if (reasonHash == bytes32(0)) revert MissingReason();
        uint40 refusedUntil = _breakGlass[patient][msg.sender].refusedUntil;
        if (block.timestamp < refusedUntil) revert BreakGlassRefused(patient, msg.sender, refusedUntil);
        validUntil = uint40(block.timestamp) + BREAK_GLASS_DURATION;
        uint32 epoch = _epochs[patient];
        _breakGlass[patient][msg.sender] = BreakGlass(validUntil, epoch, 0, holding);
        emit BreakGlassAccessed(patient, msg.sender, validUntil, reasonHash, epoch);
    }

    /// @inheritdoc IConsentManager
    function endBreakGlass(address patient, address provider) external {
        if (msg.sender != patient && msg.sender != provider) revert NotBreakGlassParty(msg.sender);
        if (!_breakGlassLive(patient, provider)) revert NoBreakGlass(patient, provider);
        if (msg.sender == patient) {
            // The patient's "stop": the provider cannot renew at once.
            uint40 refusedUntil = uint40(block.timestamp) + BREAK_GLASS_COOLDOWN;
            _breakGlass[patient][provider] = BreakGlass(0, 0, refusedUntil, 0);
            emit BreakGlassEnded(patient, provider, msg.sender);
            emit BreakGlassRefusedUntil(patient, provider, refusedUntil);
        } else {
            delete _breakGlass[patient][provider];
            emit BreakGlassEnded(patient, provider, msg.sender);
        }
    }

    // ─── Views ─────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IConsentManager
    function hasAccess(address grantee, address patient, uint8 category, uint8 purpose) public view returns (bool) {
        if (!Purpose.isValid(purpose) || category > Category.MAX || patient == address(0)) return false;
        if (grantee == patient) return true;
        if (
            purpose == Purpose.ETREAT && _breakGlassLive(patient, grantee)
                && _sameProviderHolding(patient, grantee)
        ) return true;
        Grant memory g = _grants[patient][grantee][purpose];
        return g.epoch == _epochs[patient] && _inPeriod(g.validFrom, g.validUntil)
            && (g.categories & Category.bit(category)) != 0;
    }

    /// @inheritdoc IConsentManager
    function hasRecordAccess(address grantee, address patient, bytes32 recordId, uint8 category, uint8 purpose)
        external
        view
        returns (bool)
    {
        if (hasAccess(grantee, patient, category, purpose)) return true;
        if (!Purpose.isValid(purpose)) return false;
        RecordGrant memory g = _recordGrants[patient][grantee][purpose][recordId];
        return g.epoch == _epochs[patient] && _inPeriod(g.validFrom, g.validUntil);
    }

    /// @inheritdoc IConsentManager
    function privateConsentAllows(
        PrivateConsent calldata opening,
        bytes32 revocationHash,
        bytes calldata patientSignature,
        uint8 category,
        uint8 purpose
    ) external view returns (bool) {
        if (!Purpose.isValid(purpose) || opening.purpose != purpose || category > Category.MAX) return false;
        if (opening.patient == address(0)) return false;
        if ((opening.categories & Category.bit(category)) == 0) return false;
        if (opening.epoch != _epochs[opening.patient]) return false;
        if (!_inPeriod(opening.validFrom, opening.validUntil)) return false;
        bytes32 consentHash = _privateConsentHash(opening);
        PrivateConsentState memory state = _privateConsents[_privateCommitment(consentHash, revocationHash)];
        if (state.grantedAt == 0 || state.revokedAt != 0) return false;
        // SignatureChecker: a patient who is a contract wallet signs through ERC-1271.
        return SignatureChecker.isValidSignatureNowCalldata(
            opening.patient, _hashTypedDataV4(consentHash), patientSignature
        );
    }

    /// @inheritdoc IConsentManager
    function privateConsentHash(PrivateConsent calldata opening) external pure returns (bytes32) {
        return _privateConsentHash(opening);
    }

    /// @inheritdoc IConsentManager
    function privateCommitment(bytes32 consentHash, bytes32 revocationHash) external pure returns (bytes32) {
        return _privateCommitment(consentHash, revocationHash);
    }

    /// @inheritdoc IConsentManager
    function privateConsentState(bytes32 commitment) external view returns (PrivateConsentState memory) {
        return _privateConsents[commitment];
    }

    /// @inheritdoc IConsentManager
    function grantOf(address patient, address grantee, uint8 purpose) external view returns (Grant memory) {
        return _grants[patient][grantee][purpose];
    }

    /// @inheritdoc IConsentManager
    function recordGrantOf(address patient, address grantee, uint8 purpose, bytes32 recordId)
        external
        view
        returns (RecordGrant memory)
    {
        return _recordGrants[patient][grantee][purpose][recordId];
    }

    /// @inheritdoc IConsentManager
    function epochOf(address patient) external view returns (uint32) {
        return _epochs[patient];
    }

    /// @inheritdoc IConsentManager
    function breakGlassOf(address patient, address provider) external view returns (uint40, uint32) {
        BreakGlass memory bg = _breakGlass[patient][provider];
        return (bg.validUntil, bg.epoch);
    }

    /// @inheritdoc IConsentManager
    function breakGlassRefusedUntil(address patient, address provider) external view returns (uint40) {
        return _breakGlass[patient][provider].refusedUntil;
    }

    /// @inheritdoc IConsentManager
    /// @dev The patient's epoch sits above bit 128, so `revokeAllConsents` retires every signature
    /// made before it (whatever nonce it was made for) along with the grants.
    function nonces(address owner) public view override(IConsentManager, Nonces) returns (uint256) {
        return _epochNonceBase(owner) + super.nonces(owner);
    }

    /// @inheritdoc IConsentManager
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ─── Internal ──────────────────────────────────────────────────────────────────────────────

    function _grant(
        address patient,
        address grantee,
        uint8 purpose,
        uint32 categories,
        uint40 validFrom,
        uint40 validUntil,
        uint256 revocableFrom
    ) private {
        _checkTerms(patient, grantee, purpose, validFrom, validUntil);
        if (categories == 0) revert EmptyScope();
        uint32 epoch = _epochs[patient];
        // The nonce's lower half: a nonce moves by one per transaction, so 64 bits never run out.
        _grants[patient][grantee][purpose] =
            Grant(categories, validFrom, validUntil, epoch, uint64(uint128(revocableFrom)));
        emit ConsentGranted(patient, grantee, purpose, categories, validFrom, validUntil, epoch, msg.sender);
    }

    /// @dev Split out of grantConsentBySig to keep the stack shallow; consumes the patient's nonce
    /// and returns it.
    function _grantStructHash(
        address patient,
        address grantee,
        uint8 purpose,
        uint32 categories,
        uint40 validFrom,
        uint40 validUntil,
        uint256 deadline
    ) private returns (bytes32 structHash, uint256 nonce) {
        nonce = _useNonce(patient);
        structHash = keccak256(
            bytes.concat(
                abi.encode(GRANT_TYPEHASH, patient, grantee, purpose, categories),
                abi.encode(validFrom, validUntil, nonce, deadline)
            )
        );
    }

    /// @dev The smallest full nonce (epoch in the upper half) a signed revocation must carry to end
    /// `g`; 0 for an empty slot.
    function _revocableFrom(Grant storage g) private view returns (uint256) {
        return (uint256(g.epoch) << 128) | g.revocableFrom;
    }

    /// @dev Consumes the patient's nonce as seen in the current epoch; see {nonces}.
    function _useNonce(address owner) internal override returns (uint256) {
        return _epochNonceBase(owner) + super._useNonce(owner);
    }

    function _epochNonceBase(address owner) private view returns (uint256) {
        return uint256(_epochs[owner]) << 128;
    }

    function _revoke(address patient, address grantee, uint8 purpose) private {
        delete _grants[patient][grantee][purpose];
        emit ConsentRevoked(patient, grantee, purpose, msg.sender);
    }

    function _checkTerms(address patient, address grantee, uint8 purpose, uint40 validFrom, uint40 validUntil)
        private
        view
    {
        if (grantee == address(0) || grantee == patient) revert InvalidGrantee(grantee);
        if (!Purpose.isValid(purpose)) revert InvalidPurpose(purpose);
        if (validUntil <= validFrom || validUntil <= block.timestamp) revert InvalidPeriod(validFrom, validUntil);
    }

    function _checkDeadline(uint256 deadline) private view {
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
    }

    /// @dev OpenZeppelin's ECDSA rejects malformed, high-s and non-65-byte signatures and never
    /// returns address(0), so a bad signature can never match any patient.
    function _checkSigner(bytes32 structHash, bytes calldata signature, address patient) private view {
        address signer = ECDSA.recoverCalldata(_hashTypedDataV4(structHash), signature);
        if (signer != patient) revert InvalidSigner(signer, patient);
    }

    function _breakGlassLive(address patient, address provider) private view returns (bool) {
        BreakGlass memory bg = _breakGlass[patient][provider];
        return bg.epoch == _epochs[patient] && block.timestamp < bg.validUntil;
    }

    /// @dev The provider still holds PROVIDER_ROLE under the holding it broke the glass with:
    /// losing the role ends the access for good, a re-grant (a new holding) does not bring it back.
    function _sameProviderHolding(address patient, address provider) private view returns (bool) {
        uint32 holding = _identity.roleHolding(_identity.PROVIDER_ROLE(), provider);
        return holding != 0 && holding == _breakGlass[patient][provider].roleHolding;
    }

    function _privateConsentHash(PrivateConsent calldata o) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                PRIVATE_CONSENT_TYPEHASH,
                o.patient,
                o.grantee,
                o.groupId,
                o.purpose,
                o.categories,
                o.validFrom,
                o.validUntil,
                o.epoch,
                o.salt
            )
        );
    }

    function _privateCommitment(bytes32 consentHash, bytes32 revocationHash) private pure returns (bytes32) {
        return keccak256(abi.encode(consentHash, revocationHash));
    }

    function _inPeriod(uint40 validFrom, uint40 validUntil) private view returns (bool) {
        return validFrom <= block.timestamp && block.timestamp < validUntil;
    }
}
