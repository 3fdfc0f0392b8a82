// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IGoverned} from "./IGoverned.sol";

/// @title IConsentManager
/// @notice Purpose-bound, scoped, time-limited, revocable consent from a patient to a grantee, and
/// time-limited, loudly logged break-glass access for providers. One view, `hasAccess`, answers
/// "may X access Y's data of category C for purpose P now?" for every other component.
/// @dev Purposes and categories: see `contracts/libraries/Purpose.sol` and `Category.sol` and docs/contracts.md.
/// A grant is live while `validFrom <= block.timestamp < validUntil` and its epoch equals the
/// patient's current epoch; `revokeAllConsents` bumps the epoch, ending every grant in O(1).
interface IConsentManager is IGoverned {
    /// @notice A category-scoped grant; one per (patient, grantee, purpose), a new grant replaces it.
    /// @param categories Bitmask of covered categories (`1 << code`).
    /// @param validFrom First second of validity.
    /// @param validUntil End of validity (exclusive).
    /// @param epoch The patient's epoch when granted.
    /// @param revocableFrom Lower half of the smallest nonce a signed revocation must carry to end
    /// this grant (the upper half is `epoch`): the grant's own nonce when it was signed, the nonce
    /// after it when the patient granted directly. So a revocation ends every grant signed no later
    /// than itself, and never one the patient made after signing it.
    // 4 + 5 + 5 + 4 + 8 = 26 bytes: one slot.
    struct Grant {
        uint32 categories;
        uint40 validFrom;
        uint40 validUntil;
        uint32 epoch;
        uint64 revocableFrom;
    }

    /// @notice A record-scoped grant; one per (patient, grantee, purpose, recordId).
    /// @param validFrom First second of validity.
    /// @param validUntil End of validity (exclusive).
    /// @param epoch The patient's epoch when granted.
    /// @notice The opening of a private consent: what the patient hands the grantee off-chain, with
    /// the patient's EIP-712 signature over it (`PrivateConsent(...)` typed data). The chain holds
    /// only `privateCommitment(privateConsentHash(opening), revocationHash)` and its state.
    /// @param patient Who consents.
    /// @param grantee The grantee's address; zero when the consent is to a group.
    /// @param groupId The IPrivacyGroups consent group consented to; zero for an individual grantee.
    /// @param purpose One purpose (Purpose library).
    /// @param categories Category bitmask.
    /// @param validFrom Start (unix seconds).
    /// @param validUntil End (unix seconds).
    /// @param epoch The patient's `epochOf` at signing: `revokeAllConsents` ends it too.
    /// @param salt 32 random bytes: without them the commitment could be guessed from the fields.
    struct PrivateConsent {
        address patient;
        address grantee;
        uint256 groupId;
        uint8 purpose;
        uint32 categories;
        uint40 validFrom;
        uint40 validUntil;
        uint32 epoch;
        bytes32 salt;
    }

    /// @notice On-chain state of a private consent commitment (one slot).
    struct PrivateConsentState {
        uint40 grantedAt;
        uint40 revokedAt;
    }

    struct RecordGrant {
        uint40 validFrom;
        uint40 validUntil;
        uint32 epoch;
    }

    /// @notice A category-scoped grant was created or replaced.
    /// @param patient The patient.
    /// @param grantee Who may access.
    /// @param purpose Purpose code.
    /// @param categories Bitmask of covered categories.
    /// @param validFrom First second of validity.
    /// @param validUntil End of validity (exclusive).
    /// @param epoch The patient's epoch the grant belongs to.
    /// @param submitter The transaction sender (the patient, or a relayer of a signed grant).
    event ConsentGranted(
        address indexed patient,
        address indexed grantee,
        uint8 indexed purpose,
        uint32 categories,
        uint40 validFrom,
        uint40 validUntil,
        uint32 epoch,
        address submitter
    );

    /// @notice A record-scoped grant was created or replaced.
    /// @param patient The patient.
    /// @param grantee Who may access.
    /// @param purpose Purpose code.
    /// @param recordId The record (or batch root) covered.
    /// @param validFrom First second of validity.
    /// @param validUntil End of validity (exclusive).
    /// @param epoch The patient's epoch the grant belongs to.
    event RecordConsentGranted(
        address indexed patient,
        address indexed grantee,
        uint8 indexed purpose,
        bytes32 recordId,
        uint40 validFrom,
        uint40 validUntil,
        uint32 epoch
    );

    /// @notice A category-scoped grant was revoked.
    /// @param patient The patient.
    /// @param grantee The former grantee.
    /// @param purpose Purpose code.
    /// @param submitter The transaction sender (the patient, or a relayer of a signed revocation).
    event ConsentRevoked(address indexed patient, address indexed grantee, uint8 indexed purpose, address submitter);

    /// @notice A record-scoped grant was revoked.
    /// @param patient The patient.
    /// @param grantee The former grantee.
    /// @param purpose Purpose code.
    /// @param recordId The record.
    event RecordConsentRevoked(
        address indexed patient, address indexed grantee, uint8 indexed purpose, bytes32 recordId
    );

    /// @notice Every grant and break-glass access of the patient ended at once.
    /// @param patient The patient.
    /// @param newEpoch The patient's new epoch; only grants made from now on are live.
    event AllConsentsRevoked(address indexed patient, uint32 newEpoch);

    /// @notice EMERGENCY ACCESS: a provider broke the glass on a patient's records.
    /// @param patient The patient.
    /// @param provider The provider.
    /// @param validUntil End of the emergency access (exclusive).
    /// @param reasonHash Commitment to the documented justification (kept off-chain).
    /// @param epoch The patient's epoch the access belongs to.
    event BreakGlassAccessed(
        address indexed patient, address indexed provider, uint40 validUntil, bytes32 reasonHash, uint32 epoch
    );

    /// @notice A break-glass access was ended early.
    /// @param patient The patient.
    /// @param provider The provider.
    /// @param by Who ended it (the patient or the provider).
    event BreakGlassEnded(address indexed patient, address indexed provider, address by);

    /// @notice The patient ended a provider's break-glass access: that provider may not break the
    /// glass on this patient again before `refusedUntil`.
    /// @param patient The patient.
    /// @param provider The provider.
    /// @param refusedUntil First second the provider may break the glass again.
    event BreakGlassRefusedUntil(address indexed patient, address indexed provider, uint40 refusedUntil);

    /// @notice A private consent commitment was published. Names nobody: whoever sent it (usually a
    /// relayer) is not the patient.
    event PrivateConsentGranted(bytes32 indexed commitment);

    /// @notice A private consent was revoked by whoever knew its revocation secret.
    event PrivateConsentRevoked(bytes32 indexed commitment);

    /// @notice The commitment was already published (by this grant or an identical copy of it).
    error PrivateConsentExists(bytes32 commitment);
    /// @notice No private consent has this commitment.
    error UnknownPrivateConsent(bytes32 commitment);
    /// @notice The private consent was already revoked.
    error PrivateConsentAlreadyRevoked(bytes32 commitment);
    /// @notice The commitment is zero.
    error InvalidCommitment();

    /// @notice Grantee is zero or the patient themself.
    /// @param grantee The grantee given.
    error InvalidGrantee(address grantee);
    /// @notice Purpose code 0 or unknown.
    /// @param purpose The code given.
    error InvalidPurpose(uint8 purpose);
    /// @notice A category scope of 0, or an empty record list.
    error EmptyScope();
    /// @notice `validUntil` is not after both `validFrom` and now.
    /// @param validFrom Requested start.
    /// @param validUntil Requested end.
    error InvalidPeriod(uint40 validFrom, uint40 validUntil);
    /// @notice The signature is past its deadline.
    /// @param deadline The deadline.
    error SignatureExpired(uint256 deadline);
    /// @notice The signature does not recover to the patient.
    /// @param recovered The recovered signer.
    /// @param patient The patient who should have signed.
    error InvalidSigner(address recovered, address patient);
    /// @notice No live break-glass access to end.
    /// @param patient The patient.
    /// @param provider The provider.
    error NoBreakGlass(address patient, address provider);
    /// @notice Break-glass access needs a non-zero justification commitment.
    error MissingReason();
    /// @notice The caller may not end this break-glass access.
    /// @param caller The caller.
    error NotBreakGlassParty(address caller);
    /// @notice The patient ended this provider's break-glass access; the cool-down is not over.
    /// @param patient The patient.
    /// @param provider The provider.
    /// @param refusedUntil First second the provider may break the glass again.
    error BreakGlassRefused(address patient, address provider, uint40 refusedUntil);
    /// @notice The grant for (grantee, purpose) was made after the revocation was signed (a
    /// direct grant after it, or a signed grant at a later nonce): the newer decision stands.
    /// @param patient The patient.
    /// @param grantee The grantee.
    /// @param purpose Purpose code.
    /// @param nonce The revocation's nonce.
    /// @param grantRevocableFrom The smallest nonce that would end the grant.
    error RevocationSuperseded(
        address patient, address grantee, uint8 purpose, uint256 nonce, uint256 grantRevocableFrom
    );

    /// @notice Publishes a private consent commitment. Anyone may send it: the commitment is worth
    /// nothing without the opening and the patient's signature, which the grantee shows off-chain;
    /// a copy sent ahead of it in the mempool publishes the identical commitment.
    function grantConsentPrivate(bytes32 commitment) external;

    /// @notice Revokes the private consent committed as `privateCommitment(consentHash,
    /// keccak256(abi.encode(revocationSecret)))`. Anyone holding the secret (the patient, or a
    /// relayer it gave it to) may send it; it reveals neither the patient nor the grantee.
    function revokeConsentPrivate(bytes32 consentHash, bytes32 revocationSecret) external;

    /// @notice Whether the opening is a live private consent for `category` under `purpose`:
    /// published and not revoked, signed by `opening.patient`, within its period, at the patient's
    /// current epoch. Who presents it (the grantee, or a member of the group) is the caller's check.
    /// @param opening The consent's fields.
    /// @param revocationHash keccak256 of the revocation secret (part of the opening given out).
    /// @param patientSignature The patient's EIP-712 signature of `opening`.
    function privateConsentAllows(
        PrivateConsent calldata opening,
        bytes32 revocationHash,
        bytes calldata patientSignature,
        uint8 category,
        uint8 purpose
    ) external view returns (bool allowed);

    /// @notice EIP-712 struct hash of an opening (what the patient signs, inside the domain).
    function privateConsentHash(PrivateConsent calldata opening) external pure returns (bytes32);

    /// @notice The on-chain commitment: keccak256(abi.encode(consentHash, revocationHash)).
    function privateCommitment(bytes32 consentHash, bytes32 revocationHash) external pure returns (bytes32);

    /// @notice A private consent commitment's state.
    function privateConsentState(bytes32 commitment) external view returns (PrivateConsentState memory);

    /// @notice Grant `grantee` access to the caller's data of `categories` for `purpose`.
    /// Replaces any earlier category grant of the same (grantee, purpose). Consumes the caller's
    /// nonce, so a grant signed before this call can no longer be submitted over it.
    /// @param grantee Who may access.
    /// @param purpose Purpose code.
    /// @param categories Bitmask of categories (non-zero).
    /// @param validFrom First second of validity (may be in the past: valid now).
    /// @param validUntil End of validity (exclusive, in the future).
    function grantConsent(address grantee, uint8 purpose, uint32 categories, uint40 validFrom, uint40 validUntil)
        external;

    /// @notice Grant on the patient's behalf with their EIP-712 signature (a relayer pays the gas).
    /// Signed type: `GrantConsent(address patient,address grantee,uint8 purpose,uint32 categories,`
    /// `uint40 validFrom,uint40 validUntil,uint256 nonce,uint256 deadline)`, `nonce` = `nonces(patient)`.
    /// @param patient The patient who signed.
    /// @param grantee Who may access.
    /// @param purpose Purpose code.
    /// @param categories Bitmask of categories.
    /// @param validFrom First second of validity.
    /// @param validUntil End of validity (exclusive).
    /// @param deadline Last second the signature is accepted.
    /// @param signature 65-byte ECDSA signature (r, s, v), low-s.
    function grantConsentBySig(
        address patient,
        address grantee,
        uint8 purpose,
        uint32 categories,
        uint40 validFrom,
        uint40 validUntil,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Grant access to specific records (or batch roots) of the caller.
    /// @param grantee Who may access.
    /// @param purpose Purpose code.
    /// @param recordIds The records (non-empty).
    /// @param validFrom First second of validity.
    /// @param validUntil End of validity (exclusive).
    function grantRecordConsent(
        address grantee,
        uint8 purpose,
        bytes32[] calldata recordIds,
        uint40 validFrom,
        uint40 validUntil
    ) external;

    /// @notice Revoke the caller's category grant to `grantee` for `purpose` (O(1)). Consumes the
    /// caller's nonce, so a grant signed before this call can no longer bring the access back.
    /// Record-scoped grants to the same grantee and purpose stay (see `revokeRecordConsent`).
    /// @param grantee The grantee.
    /// @param purpose Purpose code.
    function revokeConsent(address grantee, uint8 purpose) external;

    /// @notice Revoke on the patient's behalf with their EIP-712 signature, whatever the order in
    /// which it and other signatures land. Signed type:
    /// `RevokeConsent(address patient,address grantee,uint8 purpose,uint256 nonce,uint256 deadline)`,
    /// `nonce` = `nonces(patient)` as read when signing. Accepted for any nonce up to the current
    /// one; it ends the grant for (grantee, purpose) unless that grant was made after it was signed
    /// (`RevocationSuperseded`), so a grant signed at the same or an earlier nonce — e.g. one the
    /// grantee held back and submitted first — is ended. Landing at the current nonce it consumes
    /// it, so such a held grant cannot be submitted afterwards. Replaying it changes nothing.
    /// @param patient The patient who signed.
    /// @param grantee The grantee.
    /// @param purpose Purpose code.
    /// @param nonce The nonce signed (at most `nonces(patient)`, else `InvalidAccountNonce`).
    /// @param deadline Last second the signature is accepted.
    /// @param signature 65-byte ECDSA signature.
    function revokeConsentBySig(
        address patient,
        address grantee,
        uint8 purpose,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Revoke record-scoped grants of the caller.
    /// @param grantee The grantee.
    /// @param purpose Purpose code.
    /// @param recordIds The records.
    function revokeRecordConsent(address grantee, uint8 purpose, bytes32[] calldata recordIds) external;

    /// @notice End every grant and break-glass access of the caller, whatever their number (O(1)).
    /// Also retires every signed grant or revocation not yet submitted: `nonces(caller)` jumps to
    /// the new epoch's range (the epoch is the nonce's upper 128 bits).
    function revokeAllConsents() external;

    /// @notice Break the glass: a PROVIDER_ROLE holder takes emergency (ETREAT) access to every
    /// category of `patient` for `BREAK_GLASS_DURATION` seconds. Loudly logged. The access lasts
    /// only while the provider holds the role without a break since this call: removing the role
    /// ends it, and re-granting the role does not bring it back (a new call, a new event, does).
    /// @param patient The patient.
    /// @param reasonHash Commitment to the documented justification.
    /// @return validUntil End of the access (exclusive).
    function breakGlass(address patient, bytes32 reasonHash) external returns (uint40 validUntil);

    /// @notice End a break-glass access early; by the patient or the provider. Ended by the
    /// patient, the provider may not break the glass on this patient again for
    /// `BREAK_GLASS_COOLDOWN` seconds (`BreakGlassRefused`); other providers still may.
    /// @param patient The patient.
    /// @param provider The provider.
    function endBreakGlass(address patient, address provider) external;

    /// @notice May `grantee` access `patient`'s data of `category` for `purpose` right now?
    /// True when grantee == patient (for a valid purpose), when a live category grant covers the
    /// category, or — for ETREAT only — when the grantee holds live break-glass access.
    /// @param grantee Who wants access.
    /// @param patient Whose data.
    /// @param category Category code (0-31).
    /// @param purpose Purpose code.
    /// @return allowed The answer.
    function hasAccess(address grantee, address patient, uint8 category, uint8 purpose)
        external
        view
        returns (bool allowed);

    /// @notice Record-scoped variant: `hasAccess` for the record's category, or a live
    /// record-scoped grant for `recordId`. RecordRegistry.canAccessRecord fills in patient and category.
    /// @param grantee Who wants access.
    /// @param patient The record's patient.
    /// @param recordId The record (or batch root).
    /// @param category The record's category code.
    /// @param purpose Purpose code.
    /// @return allowed The answer.
    function hasRecordAccess(address grantee, address patient, bytes32 recordId, uint8 category, uint8 purpose)
        external
        view
        returns (bool allowed);

    /// @notice The stored category grant (may be stale: check epoch and period, or use hasAccess).
    /// @param patient The patient.
    /// @param grantee The grantee.
    /// @param purpose Purpose code.
    /// @return grant The grant.
    function grantOf(address patient, address grantee, uint8 purpose) external view returns (Grant memory grant);

    /// @notice The stored record-scoped grant.
    /// @param patient The patient.
    /// @param grantee The grantee.
    /// @param purpose Purpose code.
    /// @param recordId The record.
    /// @return grant The grant.
    function recordGrantOf(address patient, address grantee, uint8 purpose, bytes32 recordId)
        external
        view
        returns (RecordGrant memory grant);

    /// @notice The patient's current consent epoch (starts at 0).
    /// @param patient The patient.
    /// @return epoch The epoch.
    function epochOf(address patient) external view returns (uint32 epoch);

    /// @notice A provider's break-glass access to a patient.
    /// @param patient The patient.
    /// @param provider The provider.
    /// @return validUntil End of access (0 if none).
    /// @return epoch Epoch it belongs to.
    function breakGlassOf(address patient, address provider) external view returns (uint40 validUntil, uint32 epoch);

    /// @notice The next nonce of `owner` for signed grants and revocations:
    /// `(epochOf(owner) << 128) + consent changes so far`. Every direct grant or revocation, every
    /// signed grant and every signed revocation landing at the current nonce consumes one.
    /// @param owner The patient.
    /// @return nonce The nonce.
    function nonces(address owner) external view returns (uint256 nonce);

    /// @notice The EIP-712 domain separator (name "MedCipher ConsentManager", version "1").
    function DOMAIN_SEPARATOR() external view returns (bytes32);

    /// @notice Until when the patient refuses a provider's break-glass (0 if never refused).
    /// @param patient The patient.
    /// @param provider The provider.
    /// @return refusedUntil First second the provider may break the glass again.
    function breakGlassRefusedUntil(address patient, address provider) external view returns (uint40 refusedUntil);

    /// @notice Duration of a break-glass access, in seconds.
    function BREAK_GLASS_DURATION() external view returns (uint40);

    /// @notice How long a provider whose break-glass the patient ended may not break it again, in seconds.
    function BREAK_GLASS_COOLDOWN() external view returns (uint40);
}
