// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "forge-std/Test.sol";

import {IdentityRegistry} from "../identity/IdentityRegistry.sol";
import {IAuditLogAnchor} from "../interfaces/IAuditLogAnchor.sol";
import {AuditLogAnchor} from "./AuditLogAnchor.sol";

/// The anchored tree size only grows, and by a bounded amount per anchor: a gateway key (buggy or
/// stolen) cannot anchor entryCount = 2^64 - 1, which would claim entries nobody can check and
/// end that gateway's anchoring for good (no larger count would exist).
contract AuditLogAnchorTest is Test {
    IdentityRegistry private identity;
    AuditLogAnchor private anchor;
    address private gateway = address(0x6A7E);
    uint64 private constant MAX_GROWTH = 2 ** 32;

    function setUp() public {
        identity = new IdentityRegistry(0, address(this));
        anchor = new AuditLogAnchor(identity);
        identity.grantRole(identity.GATEWAY_ROLE(), gateway);
    }

    function test_anchorHead_refusesTheLargestCount() public {
        vm.prank(gateway);
        vm.expectRevert(
            abi.encodeWithSelector(IAuditLogAnchor.EntryCountGrowthTooLarge.selector, 0, type(uint64).max, MAX_GROWTH)
        );
        anchor.anchorHead(keccak256("root"), type(uint64).max);
    }

    function test_anchorHead_boundsGrowthPerAnchor() public {
        vm.startPrank(gateway);
        anchor.anchorHead(keccak256("a"), MAX_GROWTH);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAuditLogAnchor.EntryCountGrowthTooLarge.selector, MAX_GROWTH, 2 * MAX_GROWTH + 1, MAX_GROWTH
            )
        );
        anchor.anchorHead(keccak256("b"), 2 * MAX_GROWTH + 1);
        anchor.anchorHead(keccak256("b"), 2 * MAX_GROWTH);
        vm.stopPrank();
        assertEq(anchor.latestHead(gateway).entryCount, 2 * MAX_GROWTH);
        assertEq(anchor.MAX_ENTRIES_PER_ANCHOR(), MAX_GROWTH);
    }

    function testFuzz_anchorHead_sizeOnlyGrowsWithinTheBound(uint64 first, uint64 second) public {
        first = uint64(bound(first, 1, MAX_GROWTH));
        vm.startPrank(gateway);
        anchor.anchorHead(keccak256("a"), first);
        if (second <= first) {
            vm.expectRevert(abi.encodeWithSelector(IAuditLogAnchor.EntryCountNotIncreasing.selector, first, second));
        } else if (second - first > MAX_GROWTH) {
            vm.expectRevert(
                abi.encodeWithSelector(IAuditLogAnchor.EntryCountGrowthTooLarge.selector, first, second, MAX_GROWTH)
            );
        }
        anchor.anchorHead(keccak256("b"), second);
        vm.stopPrank();
        uint64 expected = first;
        if (second > first && second - first <= MAX_GROWTH) expected = second;
        assertEq(anchor.latestHead(gateway).entryCount, expected);
    }
}
