// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "forge-std/Test.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

import {IdentityRegistry} from "../identity/IdentityRegistry.sol";
import {IConsentManager} from "../interfaces/IConsentManager.sol";
import {Category} from "../libraries/Category.sol";
import {Purpose} from "../libraries/Purpose.sol";
import {ConsentManager} from "./ConsentManager.sol";

/// Fuzz tests of consent semantics and of signed grants.
contract ConsentManagerFuzzTest is Test {
    uint256 private constant PATIENT_KEY = 0xA11CE;
    uint256 private constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    IdentityRegistry private identity;
    ConsentManager private consent;
    address private patient;

    function setUp() public {
        vm.warp(1_700_000_000);
        identity = new IdentityRegistry(0, address(this));
        consent = new ConsentManager(identity);
        patient = vm.addr(PATIENT_KEY);
    }

    // ─── Semantics ─────────────────────────────────────────────────────────────────────────────

    function testFuzz_grantCoversExactlyItsCategoriesPurposeAndPeriod(
        address grantee,
        uint8 purpose,
        uint32 categories,
        uint40 validFrom,
        uint40 duration,
        uint8 askedCategory,
        uint8 askedPurpose,
        uint40 askedAt
    ) public {
        vm.assume(grantee != address(0) && grantee != patient);
        purpose = uint8(bound(purpose, 1, Purpose.MAX));
        categories = uint32(bound(categories, 1, type(uint32).max));
        validFrom = uint40(bound(validFrom, 0, block.timestamp + 365 days));
        duration = uint40(bound(duration, 1, 365 days));
        uint40 validUntil = validFrom + duration;
        vm.assume(validUntil > block.timestamp);
        askedAt = uint40(bound(askedAt, block.timestamp, block.timestamp + 800 days));

        vm.prank(patient);
        consent.grantConsent(grantee, purpose, categories, validFrom, validUntil);
        vm.warp(askedAt);

        bool expected = askedPurpose == purpose && askedCategory <= Category.MAX
            && (categories & (uint32(1) << askedCategory)) != 0 && validFrom <= askedAt && askedAt < validUntil;
        assertEq(consent.hasAccess(grantee, patient, askedCategory, askedPurpose), expected);
    }

    function testFuzz_revokedGrantNeverGrants(address grantee, uint8 purpose, uint32 categories, uint8 category)
        public
    {
        vm.assume(grantee != address(0) && grantee != patient);
        purpose = uint8(bound(purpose, 1, Purpose.MAX));
        categories = uint32(bound(categories, 1, type(uint32).max));
        vm.startPrank(patient);
        consent.grantConsent(grantee, purpose, categories, 0, uint40(block.timestamp + 1 days));
        consent.revokeConsent(grantee, purpose);
        vm.stopPrank();
        assertFalse(consent.hasAccess(grantee, patient, category, purpose));
    }

    function testFuzz_revokeAllEndsEveryGrant(uint8 count, uint8 category, uint8 purpose) public {
        count = uint8(bound(count, 1, 40));
        purpose = uint8(bound(purpose, 1, Purpose.MAX));
        category = uint8(bound(category, 0, Category.MAX));
        vm.startPrank(patient);
        for (uint160 i = 1; i <= count; ++i) {
            consent.grantConsent(address(i), purpose, Category.ALL, 0, uint40(block.timestamp + 1 days));
        }
        consent.revokeAllConsents();
        vm.stopPrank();
        for (uint160 i = 1; i <= count; ++i) {
            assertFalse(consent.hasAccess(address(i), patient, category, purpose));
        }
    }

    function testFuzz_invalidPurposeNeverGrants(address grantee, uint8 category, uint8 purpose) public {
        vm.assume(purpose == 0 || purpose > Purpose.MAX);
        vm.assume(grantee != address(0) && grantee != patient);
        vm.prank(patient);
        consent.grantConsent(grantee, Purpose.TREAT, Category.ALL, 0, uint40(block.timestamp + 1 days));
        assertFalse(consent.hasAccess(grantee, patient, category, purpose));
        assertFalse(consent.hasAccess(patient, patient, category, purpose));
    }

    /// However the provider's role is removed and re-granted during a break-glass window, the
    /// access never answers after the removal; it answers again only after a new break-glass.
    function testFuzz_breakGlassNeverOutlivesABreakInTheRole(uint40 revokeAfter, uint40 regrantAfter, uint40 askAfter)
        public
    {
        address provider = address(0xD0C);
        bytes32 role = identity.PROVIDER_ROLE();
        identity.grantRole(role, provider);
        vm.prank(provider);
        consent.breakGlass(patient, keccak256("unconscious, ER"));
        vm.warp(block.timestamp + bound(revokeAfter, 0, consent.BREAK_GLASS_DURATION() - 1));
        identity.revokeRole(role, provider);
        vm.warp(block.timestamp + bound(regrantAfter, 0, consent.BREAK_GLASS_DURATION()));
        identity.grantRole(role, provider);
        vm.warp(block.timestamp + bound(askAfter, 0, consent.BREAK_GLASS_DURATION()));
        assertFalse(consent.hasAccess(provider, patient, Category.GENOMICS, Purpose.ETREAT));
        vm.prank(provider);
        consent.breakGlass(patient, keccak256("again"));
        assertTrue(consent.hasAccess(provider, patient, Category.GENOMICS, Purpose.ETREAT));
    }

    // ─── Signatures ────────────────────────────────────────────────────────────────────────────

    function testFuzz_signedGrant_worksOnceForThePatientKeyOnly(uint256 otherKey, address grantee, uint32 categories)
        public
    {
        otherKey = bound(otherKey, 1, SECP256K1_N - 1);
        vm.assume(otherKey != PATIENT_KEY);
        vm.assume(grantee != address(0) && grantee != patient);
        categories = uint32(bound(categories, 1, type(uint32).max));
        uint40 until = uint40(block.timestamp + 1 days);
        uint256 deadline = block.timestamp + 1 hours;

        bytes memory forged = _sign(otherKey, grantee, categories, until, deadline, 0);
        vm.expectRevert(abi.encodeWithSelector(IConsentManager.InvalidSigner.selector, vm.addr(otherKey), patient));
        consent.grantConsentBySig(patient, grantee, Purpose.HRESCH, categories, 0, until, deadline, forged);

        bytes memory good = _sign(PATIENT_KEY, grantee, categories, until, deadline, 0);
        consent.grantConsentBySig(patient, grantee, Purpose.HRESCH, categories, 0, until, deadline, good);
        assertEq(consent.nonces(patient), 1);
        assertTrue(consent.hasAccess(grantee, patient, _firstCategory(categories), Purpose.HRESCH));

        vm.expectRevert();
        consent.grantConsentBySig(patient, grantee, Purpose.HRESCH, categories, 0, until, deadline, good);
    }

    function testFuzz_arbitrarySignatureBytesNeverAuthorise(bytes calldata signature, address claimed) public {
        vm.assume(claimed != address(0x1234));
        uint40 until = uint40(block.timestamp + 1 days);
        try consent.grantConsentBySig(
            claimed, address(0x1234), Purpose.TREAT, 1, 0, until, block.timestamp, signature
        ) {
            // Only possible if the bytes are a valid signature of `claimed`: random bytes never are.
            assertTrue(false, "arbitrary bytes authorised a grant");
        } catch {}
        assertFalse(consent.hasAccess(address(0x1234), claimed, 0, Purpose.TREAT));
    }

    function testFuzz_highSAndCompactFormsAreRejected(uint256 key, address grantee) public {
        key = bound(key, 1, SECP256K1_N - 1);
        address signer = vm.addr(key);
        vm.assume(grantee != address(0) && grantee != signer);
        uint40 until = uint40(block.timestamp + 1 days);
        (bytes memory canonical, bytes memory highS, bytes memory compact, bytes32 highSValue) =
            _variants(key, signer, grantee, until);

        vm.expectRevert(abi.encodeWithSelector(ECDSA.ECDSAInvalidSignatureS.selector, highSValue));
        consent.grantConsentBySig(signer, grantee, Purpose.HRESCH, 1, 0, until, block.timestamp, highS);
        vm.expectRevert(abi.encodeWithSelector(ECDSA.ECDSAInvalidSignatureLength.selector, 64));
        consent.grantConsentBySig(signer, grantee, Purpose.HRESCH, 1, 0, until, block.timestamp, compact);

        // The canonical form works.
        consent.grantConsentBySig(signer, grantee, Purpose.HRESCH, 1, 0, until, block.timestamp, canonical);
        assertTrue(consent.hasAccess(grantee, signer, 0, Purpose.HRESCH));
    }

    /// A valid signature of `signer`'s grant, its high-s twin (same signer under ecrecover) and its
    /// EIP-2098 compact form.
    function _variants(uint256 key, address signer, address grantee, uint40 until)
        private
        view
        returns (bytes memory canonical, bytes memory highS, bytes memory compact, bytes32 highSValue)
    {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, _digest(signer, grantee, 1, until, block.timestamp, 0));
        canonical = abi.encodePacked(r, s, v);
        highSValue = bytes32(SECP256K1_N - uint256(s));
        highS = abi.encodePacked(r, highSValue, v == 27 ? uint8(28) : uint8(27));
        compact = abi.encodePacked(r, bytes32(uint256(s) | (uint256(v - 27) << 255)));
    }

    function testFuzz_expiredDeadlineIsRejected(uint256 lateBy) public {
        lateBy = bound(lateBy, 1, 365 days);
        uint256 deadline = block.timestamp;
        bytes memory sig = _sign(PATIENT_KEY, address(0xB0B), 1, uint40(block.timestamp + 400 days), deadline, 0);
        vm.warp(block.timestamp + lateBy);
        vm.expectRevert(abi.encodeWithSelector(IConsentManager.SignatureExpired.selector, deadline));
        consent.grantConsentBySig(patient, address(0xB0B), Purpose.HRESCH, 1, 0, uint40(block.timestamp + 400 days - lateBy), deadline, sig);
    }

    // ─── Helpers ───────────────────────────────────────────────────────────────────────────────

    function _digest(address signer, address grantee, uint32 categories, uint40 until, uint256 deadline, uint256 nonce)
        private
        view
        returns (bytes32)
    {
        bytes32 structHash = keccak256(
            abi.encode(consent.GRANT_TYPEHASH(), signer, grantee, Purpose.HRESCH, categories, 0, until, nonce, deadline)
        );
        return keccak256(abi.encodePacked("\x19\x01", consent.DOMAIN_SEPARATOR(), structHash));
    }

    function _sign(uint256 key, address grantee, uint32 categories, uint40 until, uint256 deadline, uint256 nonce)
        private
        view
        returns (bytes memory)
    {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, _digest(patient, grantee, categories, until, deadline, nonce));
        return abi.encodePacked(r, s, v);
    }

    function _firstCategory(uint32 categories) private pure returns (uint8 c) {
        while ((categories & (uint32(1) << c)) == 0) ++c;
    }
}
