// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "forge-std/Test.sol";

import {ConsentManager} from "../consent/ConsentManager.sol";
import {IdentityRegistry} from "../identity/IdentityRegistry.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {IPredictionRouter} from "../interfaces/IPredictionRouter.sol";
import {IPrivacyGroups} from "../interfaces/IPrivacyGroups.sol";
import {ModelRegistry} from "../models/ModelRegistry.sol";
import {PredictionRouter} from "./PredictionRouter.sol";

/// A stand-in Operator: only the constant the router reads at construction.
/// @dev What the router's constructor reads from its PrivacyGroups; these tests make no anonymous
/// requests (those need Semaphore proofs: test/contracts/anonymous.test.ts).
contract GroupsStub {
    address public immutable identityRegistry;

    constructor(address identity) {
        identityRegistry = identity;
    }

    function patientGroupId() external pure returns (uint256) {
        return 0;
    }
}

contract ExpiryOnlyOperator {
    uint256 public constant EXPIRYTIME = 5 minutes;
}

/// A LINK stand-in that, when the router pays the Operator, looks at what the router has already
/// written: with checks-effects-interactions the request is stored before any LINK moves.
contract ProbeLink {
    PredictionRouter public router;
    IPredictionRouter.RequestStatus public statusSeen;
    uint16 public pendingSeen;
    address public patientSeen;

    function setRouter(PredictionRouter router_, address patient) external {
        router = router_;
        patientSeen = patient;
    }

    function balanceOf(address) external pure returns (uint256) {
        return 1e24;
    }

    function transferAndCall(address, uint256, bytes calldata data) external returns (bool) {
        // operatorRequest(sender, payment, specId, callbackFunctionId, nonce, dataVersion, data)
        (,,,, uint256 nonce,,) = abi.decode(data[4:], (address, uint256, bytes32, bytes4, uint256, uint256, bytes));
        bytes32 requestId = keccak256(abi.encodePacked(address(router), nonce));
        statusSeen = router.getRequest(requestId).status;
        pendingSeen = router.accountOf(patientSeen).pendingAsPatient;
        return true;
    }
}

contract PredictionRouterTest is Test {
    bytes32 private constant PARAM_SET = keccak256("param-set");

    IdentityRegistry private identity;
    PredictionRouter private router;
    ProbeLink private link;
    uint32 private modelId;

    function setUp() public {
        identity = new IdentityRegistry(0, address(this));
        ConsentManager consent = new ConsentManager(identity);
        ModelRegistry models = new ModelRegistry(identity);
        link = new ProbeLink();
        router = new PredictionRouter(
            identity,
            consent,
            models,
            IPrivacyGroups(address(new GroupsStub(address(identity)))),
            address(link), address(new ExpiryOnlyOperator()), bytes32("job"), 1e17, false
        );
        link.setRouter(router, address(this));
        modelId = models.registerModel(
            IModelRegistry.ModelSpec({
                name: "m",
                version: "1",
                weightsHash: keccak256("w"),
                weightsUri: "u",
                paramSetId: PARAM_SET,
                encodingSpecHash: keccak256("e"),
                outputKind: IModelRegistry.OutputKind.Sigmoid,
                isPrivate: false
            })
        );
        identity.registerPatient(keccak256("keys"), PARAM_SET, "keys-uri", keccak256("x25519"));
        address[] memory patients = new address[](1);
        patients[0] = address(this);
        router.sponsorPatients(patients, 1e18);
    }

    function test_requestPrediction_storesTheRequestBeforeLinkMoves() public {
        bytes32 requestId = router.requestPrediction(address(this), modelId, keccak256("input"), "input-uri");
        assertEq(uint8(link.statusSeen()), uint8(IPredictionRouter.RequestStatus.Pending));
        assertEq(link.pendingSeen(), 1);
        assertEq(uint8(router.getRequest(requestId).status), uint8(IPredictionRouter.RequestStatus.Pending));
    }

    function testFuzz_requestIdDependsOnEveryPartOfTheContent(bytes32 inputHash, bytes32 otherInput) public view {
        bytes32 keys = keccak256("keys");
        vm.assume(inputHash != otherInput);
        // The fuzzer draws from the contract's storage too, so it does offer the key-set hash.
        vm.assume(otherInput != keys);
        bytes32 id = router.requestIdFor(address(this), 0, address(this), modelId, inputHash, keys);
        assertTrue(id != router.requestIdFor(address(this), 0, address(this), modelId, otherInput, keys));
        assertTrue(id != router.requestIdFor(address(this), 1, address(this), modelId, inputHash, keys));
        assertTrue(id != router.requestIdFor(address(this), 0, address(1), modelId, inputHash, keys));
        assertTrue(id != router.requestIdFor(address(this), 0, address(this), modelId + 1, inputHash, keys));
        assertTrue(id != router.requestIdFor(address(this), 0, address(this), modelId, inputHash, otherInput));
    }
}
