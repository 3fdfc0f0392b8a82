// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "forge-std/Test.sol";

import {ConsentManager} from "../consent/ConsentManager.sol";
import {IdentityRegistry} from "../identity/IdentityRegistry.sol";
import {IRecordRegistry} from "../interfaces/IRecordRegistry.sol";
import {RecordRegistry} from "./RecordRegistry.sol";

/// Fuzz tests of device-signed anchoring: only the device bound to the patient can authorise an
/// anchor, each signed anchor lands once, and nothing else recovers to a permission.
contract RecordRegistryFuzzTest is Test {
    uint256 private constant PATIENT_KEY = 0xA11CE;
    uint256 private constant DEVICE_KEY = 0xD0D0;
    bytes32 private constant PARAM_SET = keccak256("params");

    IdentityRegistry private identity;
    RecordRegistry private records;
    address private patient;
    address private device;

    function setUp() public {
        vm.warp(1_700_000_000);
        identity = new IdentityRegistry(0, address(this));
        ConsentManager consent = new ConsentManager(identity);
        records = new RecordRegistry(identity, consent);
        patient = vm.addr(PATIENT_KEY);
        device = vm.addr(DEVICE_KEY);

        identity.grantRole(identity.DEVICE_VENDOR_ROLE(), address(this));
        identity.registerDevice(device, keccak256("wearable"));
        vm.prank(patient);
        identity.registerPatient(keccak256("keys"), PARAM_SET, "medcipher://blob/keys", keccak256("x25519"));
        uint40 expiresAt = uint40(block.timestamp + 30 days);
        bytes32 bindHash = keccak256(
            abi.encode(identity.BIND_DEVICE_TYPEHASH(), device, patient, expiresAt, uint32(0), block.timestamp)
        );
        bytes memory bindSig = _sign(DEVICE_KEY, _digest(_domain(address(identity), "MedCipher IdentityRegistry"), bindHash));
        vm.prank(patient);
        identity.bindDevice(device, expiresAt, block.timestamp, bindSig);
    }

    function testFuzz_boundDeviceAnchorsOnceForItsPatient(bytes32 recordId, uint8 category) public {
        vm.assume(recordId != bytes32(0));
        category = uint8(bound(category, 0, 31));
        bytes memory sig = _signAnchor(DEVICE_KEY, patient, recordId, category);
        records.anchorRecordBySig(patient, recordId, category, "u", bytes32(0), block.timestamp, sig);
        assertEq(records.entryOf(patient, recordId).patient, patient);
        vm.expectRevert(abi.encodeWithSelector(IRecordRegistry.AlreadyAnchored.selector, patient, recordId));
        records.anchorRecordBySig(patient, recordId, category, "u", bytes32(0), block.timestamp, sig);
    }

    function testFuzz_deviceCannotAnchorForAnotherPatient(address other, bytes32 recordId) public {
        vm.assume(other != patient && recordId != bytes32(0));
        bytes memory sig = _signAnchor(DEVICE_KEY, other, recordId, 0);
        vm.expectRevert(abi.encodeWithSelector(IRecordRegistry.NotAuthorisedToAnchor.selector, device, other));
        records.anchorRecordBySig(other, recordId, 0, "u", bytes32(0), block.timestamp, sig);
    }

    function testFuzz_unboundKeysCannotAnchor(uint256 key, bytes32 recordId) public {
        key = bound(key, 1, 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364140);
        vm.assume(key != DEVICE_KEY && recordId != bytes32(0));
        bytes memory sig = _signAnchor(key, patient, recordId, 0);
        vm.expectRevert(abi.encodeWithSelector(IRecordRegistry.NotAuthorisedToAnchor.selector, vm.addr(key), patient));
        records.anchorRecordBySig(patient, recordId, 0, "u", bytes32(0), block.timestamp, sig);
    }

    function testFuzz_arbitrarySignatureBytesNeverAnchor(bytes calldata signature, bytes32 recordId) public {
        vm.assume(recordId != bytes32(0));
        try records.anchorRecordBySig(patient, recordId, 0, "u", bytes32(0), block.timestamp, signature) {
            assertTrue(false, "arbitrary bytes anchored a record");
        } catch {}
        assertEq(uint8(records.entryOf(patient, recordId).kind), uint8(IRecordRegistry.EntryKind.None));
    }

    function testFuzz_expiredBindingStopsTheDevice(uint40 after_, bytes32 recordId) public {
        vm.assume(recordId != bytes32(0));
        vm.warp(block.timestamp + bound(after_, 30 days, 3650 days));
        bytes memory sig = _signAnchor(DEVICE_KEY, patient, recordId, 0);
        vm.expectRevert(abi.encodeWithSelector(IRecordRegistry.NotAuthorisedToAnchor.selector, device, patient));
        records.anchorRecordBySig(patient, recordId, 0, "u", bytes32(0), block.timestamp, sig);
    }

    function testFuzz_amendmentKeepsTheCategory(bytes32 v1, bytes32 v2, uint8 oldCategory, uint8 newCategory) public {
        vm.assume(v1 != bytes32(0) && v2 != bytes32(0) && v1 != v2);
        oldCategory = uint8(bound(oldCategory, 0, 31));
        newCategory = uint8(bound(newCategory, 0, 31));
        vm.startPrank(patient);
        records.anchorRecord(patient, v1, oldCategory, "u", bytes32(0));
        if (oldCategory != newCategory) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IRecordRegistry.AmendmentCategoryMismatch.selector, v1, oldCategory, newCategory
                )
            );
        }
        records.anchorRecord(patient, v2, newCategory, "u", v1);
        vm.stopPrank();
        assertEq(records.supersededBy(patient, v1), oldCategory == newCategory ? v2 : bytes32(0));
    }

    /// Whoever anchors an id first, under whatever patient, the patient's own anchor of that id
    /// still lands, and each patient's entry is their own.
    function testFuzz_copiedIdNeverBlocksThePatient(address squatter, bytes32 id, uint8 category, bool asBatch) public {
        vm.assume(squatter != patient && squatter != address(0) && id != bytes32(0));
        category = uint8(bound(category, 0, 31));
        vm.prank(squatter);
        if (asBatch) records.anchorBatch(squatter, id, 7, category, "u");
        else records.anchorRecord(squatter, id, category, "u", bytes32(0));
        vm.prank(patient);
        records.anchorRecord(patient, id, 0, "u", bytes32(0));
        assertEq(records.entryOf(patient, id).patient, patient);
        assertEq(uint8(records.entryOf(patient, id).kind), uint8(IRecordRegistry.EntryKind.Record));
        assertEq(records.entryOf(squatter, id).patient, squatter);
    }

    function _signAnchor(uint256 key, address forPatient, bytes32 recordId, uint8 category)
        private
        view
        returns (bytes memory)
    {
        bytes32 structHash = keccak256(
            abi.encode(
                records.ANCHOR_RECORD_TYPEHASH(), forPatient, recordId, category, keccak256("u"), bytes32(0), block.timestamp
            )
        );
        return _sign(key, _digest(records.DOMAIN_SEPARATOR(), structHash));
    }

    function _domain(address verifyingContract, string memory name) private view returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256(bytes(name)),
                keccak256("1"),
                block.chainid,
                verifyingContract
            )
        );
    }

    function _digest(bytes32 domainSeparator, bytes32 structHash) private pure returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator, structHash));
    }

    function _sign(uint256 key, bytes32 digest) private pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }
}
