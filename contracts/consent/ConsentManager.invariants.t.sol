// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "forge-std/Test.sol";

import {IdentityRegistry} from "../identity/IdentityRegistry.sol";
import {Category} from "../libraries/Category.sol";
import {Purpose} from "../libraries/Purpose.sol";
import {ConsentManager} from "./ConsentManager.sol";

/// Drives ConsentManager with random grants, revocations, signed grants and signed revocations
/// (submitted at once or held back by a relayer, in any order) and time, and keeps an independent
/// model: a plain table of live grants, cleared entry by entry on revoke-all, and a count of the
/// consent changes each patient made (every one consumes a nonce).
contract ConsentHandler is Test {
    uint256 internal constant PATIENTS = 3;
    uint256 internal constant GRANTEES = 4;

    struct Expected {
        uint32 categories;
        uint40 validFrom;
        uint40 validUntil;
        bool live;
        /// The smallest nonce of a signed revocation that ends this grant (kept across revoke-all).
        uint256 revocableFrom;
    }

    ConsentManager public immutable consent;
    uint256[PATIENTS] public patientKeys = [uint256(0xA1), 0xA2, 0xA3];
    address[GRANTEES] public grantees = [address(0xB1), address(0xB2), address(0xB3), address(0xB4)];
    mapping(address patient => mapping(address grantee => mapping(uint8 purpose => Expected))) public expected;
    struct Held {
        address grantee;
        uint8 purpose;
        uint32 categories;
        uint40 validUntil;
        uint256 deadline;
        uint256 nonceAtSigning;
        bytes signature;
    }

    struct HeldRevocation {
        address grantee;
        uint8 purpose;
        uint256 nonce;
        bool held;
    }

    /// Consent changes per patient (direct grants and revocations, signed grants, signed revocations
    /// landing at the current nonce): each consumes one nonce.
    mapping(address patient => uint256) public changesBy;
    uint256 public changes;
    /// One signed grant per patient that a relayer holds back.
    mapping(address patient => Held) private held;
    /// One signed revocation per patient that a relayer holds back.
    mapping(address patient => HeldRevocation) private heldRevocation;
    /// Set if a signature made before a revoke-all ever created a grant.
    bool public staleSignatureAccepted;
    /// Set if a grant signed before a later consent change of its patient was accepted after it.
    bool public heldGrantOverrodeNewerChange;
    /// Set if a held signed revocation was refused although no grant newer than it stood, or
    /// accepted although one did.
    bool public revocationOutcomeWrong;

    constructor(ConsentManager consent_) {
        consent = consent_;
    }

    function patient(uint256 i) public view returns (address) {
        return vm.addr(patientKeys[i % PATIENTS]);
    }

    function grant(uint256 p, uint256 g, uint8 purpose, uint32 categories, uint40 fromOffset, uint40 duration) external {
        address pat = patient(p);
        address grantee = grantees[g % GRANTEES];
        purpose = uint8(bound(purpose, 1, Purpose.MAX));
        categories = uint32(bound(categories, 1, type(uint32).max));
        uint40 validFrom = uint40(block.timestamp) + uint40(bound(fromOffset, 0, 3 days));
        uint40 validUntil = validFrom + uint40(bound(duration, 1, 10 days));
        vm.prank(pat);
        consent.grantConsent(grantee, purpose, categories, validFrom, validUntil);
        _consume(pat);
        expected[pat][grantee][purpose] = Expected(categories, validFrom, validUntil, true, _modelNonce(pat));
    }

    function grantBySig(uint256 p, uint256 g, uint8 purpose, uint32 categories, uint40 duration) external {
        uint256 key = patientKeys[p % PATIENTS];
        address pat = vm.addr(key);
        address grantee = grantees[g % GRANTEES];
        purpose = uint8(bound(purpose, 1, Purpose.MAX));
        categories = uint32(bound(categories, 1, type(uint32).max));
        uint40 validUntil = uint40(block.timestamp) + uint40(bound(duration, 1, 10 days));
        bytes memory signature = _sign(key, grantee, purpose, categories, validUntil);
        uint256 nonce = _modelNonce(pat);
        consent.grantConsentBySig(pat, grantee, purpose, categories, 0, validUntil, block.timestamp, signature);
        _consume(pat);
        expected[pat][grantee][purpose] = Expected(categories, 0, validUntil, true, nonce);
    }

    /// The patient signs now; a relayer submits later (or never).
    function holdSignedGrant(uint256 p, uint256 g, uint8 purpose, uint32 categories, uint40 duration) external {
        uint256 key = patientKeys[p % PATIENTS];
        address pat = vm.addr(key);
        address grantee = grantees[g % GRANTEES];
        purpose = uint8(bound(purpose, 1, Purpose.MAX));
        categories = uint32(bound(categories, 1, type(uint32).max));
        uint40 validUntil = uint40(block.timestamp) + uint40(bound(duration, 1, 10 days));
        uint256 deadline = block.timestamp + 10 days;
        bytes memory signature = _signUntil(key, grantee, purpose, categories, validUntil, deadline);
        held[pat] = Held(grantee, purpose, categories, validUntil, deadline, _modelNonce(pat), signature);
    }

    /// The relayer submits the held signature: it may fail (nonce used, period over), never revert here.
    function submitHeld(uint256 p) external {
        address pat = patient(p);
        Held memory h = held[pat];
        if (h.signature.length == 0) return;
        delete held[pat];
        try consent.grantConsentBySig(pat, h.grantee, h.purpose, h.categories, 0, h.validUntil, h.deadline, h.signature) {
            if (h.nonceAtSigning >> 128 != consent.epochOf(pat)) staleSignatureAccepted = true;
            if (h.nonceAtSigning != _modelNonce(pat)) heldGrantOverrodeNewerChange = true;
            _consume(pat);
            expected[pat][h.grantee][h.purpose] = Expected(h.categories, 0, h.validUntil, true, h.nonceAtSigning);
        } catch {}
    }

    /// The patient signs a revocation now (at the nonce it reads); a relayer submits it later (or
    /// never), after any number of other changes, including a grant the grantee held back for the
    /// same nonce.
    function holdSignedRevocation(uint256 p, uint256 g, uint8 purpose) external {
        address pat = patient(p);
        purpose = uint8(bound(purpose, 1, Purpose.MAX));
        heldRevocation[pat] = HeldRevocation(grantees[g % GRANTEES], purpose, consent.nonces(pat), true);
    }

    /// The relayer submits the held revocation: it must land unless a grant made after it was
    /// signed stands for that grantee and purpose.
    function submitHeldRevocation(uint256 p) external {
        uint256 key = patientKeys[p % PATIENTS];
        address pat = vm.addr(key);
        HeldRevocation memory h = heldRevocation[pat];
        if (!h.held) return;
        delete heldRevocation[pat];
        bool newerGrantStands = expected[pat][h.grantee][h.purpose].revocableFrom > h.nonce;
        // Signed with the nonce read when it was held; the deadline (not under test) is now.
        bytes32 structHash =
            keccak256(abi.encode(consent.REVOKE_TYPEHASH(), pat, h.grantee, h.purpose, h.nonce, block.timestamp));
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(key, keccak256(abi.encodePacked("\x19\x01", consent.DOMAIN_SEPARATOR(), structHash)));
        try consent.revokeConsentBySig(pat, h.grantee, h.purpose, h.nonce, block.timestamp, abi.encodePacked(r, s, v)) {
            if (newerGrantStands) revocationOutcomeWrong = true;
            if (h.nonce == _modelNonce(pat)) _consume(pat);
            delete expected[pat][h.grantee][h.purpose];
        } catch {
            if (!newerGrantStands) revocationOutcomeWrong = true;
        }
    }

    function _consume(address pat) private {
        ++changesBy[pat];
        ++changes;
    }

    /// The model's view of `nonces(pat)`.
    function _modelNonce(address pat) private view returns (uint256) {
        return (uint256(consent.epochOf(pat)) << 128) + changesBy[pat];
    }

    function _sign(uint256 key, address grantee, uint8 purpose, uint32 categories, uint40 validUntil)
        private
        view
        returns (bytes memory)
    {
        return _signUntil(key, grantee, purpose, categories, validUntil, block.timestamp);
    }

    function _signUntil(
        uint256 key,
        address grantee,
        uint8 purpose,
        uint32 categories,
        uint40 validUntil,
        uint256 deadline
    ) private view returns (bytes memory) {
        address pat = vm.addr(key);
        bytes32 structHash = keccak256(
            abi.encode(
                consent.GRANT_TYPEHASH(), pat, grantee, purpose, categories, 0, validUntil, consent.nonces(pat), deadline
            )
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", consent.DOMAIN_SEPARATOR(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function revoke(uint256 p, uint256 g, uint8 purpose) external {
        address pat = patient(p);
        address grantee = grantees[g % GRANTEES];
        purpose = uint8(bound(purpose, 1, Purpose.MAX));
        vm.prank(pat);
        consent.revokeConsent(grantee, purpose);
        _consume(pat);
        delete expected[pat][grantee][purpose];
    }

    function revokeAll(uint256 p) external {
        address pat = patient(p);
        vm.prank(pat);
        consent.revokeAllConsents();
        for (uint256 g = 0; g < GRANTEES; ++g) {
            for (uint8 purpose = 1; purpose <= Purpose.MAX; ++purpose) {
                // The stored grant stays (dead), so a revocation signed before it still loses to it.
                expected[pat][grantees[g]][purpose].live = false;
            }
        }
    }

    function warp(uint32 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 2 days));
    }

    /// What the model says hasAccess must answer now.
    function modelAccess(address pat, address grantee, uint8 category, uint8 purpose) external view returns (bool) {
        Expected memory e = expected[pat][grantee][purpose];
        return e.live && (e.categories & (uint32(1) << category)) != 0 && e.validFrom <= block.timestamp
            && block.timestamp < e.validUntil;
    }
}

/// Kept small so the whole suite runs in seconds on a shared 2-core machine.
/// forge-config: default.invariant.runs = 16
/// forge-config: default.invariant.depth = 32
/// forge-config: default.invariant.fail-on-revert = true
contract ConsentManagerInvariantTest is Test {
    ConsentManager private consent;
    ConsentHandler private handler;

    function setUp() public {
        vm.warp(1_700_000_000);
        IdentityRegistry identity = new IdentityRegistry(0, address(this));
        consent = new ConsentManager(identity);
        handler = new ConsentHandler(consent);
        targetContract(address(handler));
    }

    /// hasAccess agrees with the independent model for every patient, grantee, purpose and a spread
    /// of categories: revoked, expired, not-yet-valid and out-of-scope grants never grant.
    function invariant_hasAccessMatchesModel() public view {
        for (uint256 p = 0; p < 3; ++p) {
            address pat = handler.patient(p);
            for (uint256 g = 0; g < 4; ++g) {
                address grantee = handler.grantees(g);
                for (uint8 purpose = 0; purpose <= Purpose.MAX + 1; ++purpose) {
                    for (uint8 category = 0; category < 32; category += 13) {
                        bool model = purpose >= 1 && purpose <= Purpose.MAX
                            && handler.modelAccess(pat, grantee, category, purpose);
                        assertEq(consent.hasAccess(grantee, pat, category, purpose), model);
                    }
                }
            }
        }
    }

    /// Every consent change consumes a nonce, one by one: a nonce is never reused. The epoch sits in
    /// the upper 128 bits, so revoke-all moves every patient's nonce past anything signed before it.
    function invariant_noncesAdvanceWithEveryConsentChange() public view {
        uint256 total;
        for (uint256 p = 0; p < 3; ++p) {
            address pat = handler.patient(p);
            uint256 epochBase = uint256(consent.epochOf(pat)) << 128;
            assertEq(consent.nonces(pat), epochBase + handler.changesBy(pat));
            total += consent.nonces(pat) - epochBase;
        }
        assertEq(total, handler.changes());
    }

    /// A signature made before a revoke-all never creates a grant afterwards.
    function invariant_revokeAllRetiresHeldSignatures() public view {
        assertFalse(handler.staleSignatureAccepted());
    }

    /// A grant signed before a later direct grant or revocation (or any other change) of the
    /// patient never lands over it.
    function invariant_heldGrantNeverOverridesANewerChange() public view {
        assertFalse(handler.heldGrantOverrodeNewerChange());
    }

    /// A signed revocation lands whatever was submitted before it, unless the patient made a newer
    /// grant for that grantee and purpose; landing, it ends the access (hasAccessMatchesModel).
    function invariant_signedRevocationLandsInAnyOrder() public view {
        assertFalse(handler.revocationOutcomeWrong());
    }

    /// Nobody but the patient has access to data for which no one was ever granted anything.
    function invariant_strangersNeverHaveAccess() public view {
        for (uint256 p = 0; p < 3; ++p) {
            for (uint8 purpose = 0; purpose <= Purpose.MAX; ++purpose) {
                assertFalse(consent.hasAccess(address(0xDEAD), handler.patient(p), Category.LABORATORY, purpose));
                assertFalse(consent.hasAccess(address(0), handler.patient(p), Category.LABORATORY, purpose));
            }
        }
    }
}
