/**
 * Two MedCipher suites on one EDR chain joined by Chainlink's CCIP local simulator: the home suite
 * with its ConsentBridge, and a destination suite whose ConsentMirror (fed by the simulator's
 * router) is the consent contract of a PredictionRouter of its own. The simulator's router
 * delivers inside the sending transaction and its `routeMessage` lets anyone hand the mirror a
 * crafted message as the router: the tests use it for replays, late and foreign messages.
 */
import type { NetworkConnection } from "hardhat/types/network";
import { AbiCoder, type BigNumberish } from "ethers";

import type {
  CCIPLocalSimulator,
  ConsentBridge,
  ConsentMirror,
  LinkToken,
  MockCCIPRouter,
  Operator,
  PredictionRouter,
} from "../../types/ethers-contracts/index.js";
import { deployMedCipher, type MedCipherDeployment } from "../../deploy/local.js";
import ConsentBridgeModule, { ConsentBridgeDestinationModule } from "../../deploy/modules/ConsentBridge.js";
import { MirroredPredictionRouterModule } from "../../deploy/modules/ConsentMirror.js";
import { CCIP_NETWORKS, DEFAULT_RECEIVE_GAS_LIMIT } from "../../deploy/modules/ccipNetworks.js";
import { DEMO_MODEL, PARAM_SET, blobUri, deploySuite, randomHash, registerPatient, type Suite } from "./fixtures.js";

/** The simulator's router stamps every message with Sepolia's selector: the home chain here. */
export const HOME_SELECTOR = CCIP_NETWORKS.sepolia.chainSelector;
/** The destination's selector (the simulator accepts any). */
export const DEST_SELECTOR = CCIP_NETWORKS.arbitrumSepolia.chainSelector;

/** ConsentMessages kinds. */
export const Kind = { Consent: 1, Epoch: 2, Record: 3, PrivateConsent: 4 } as const;

export type CrossChain = {
  home: Suite;
  dest: MedCipherDeployment;
  simulator: CCIPLocalSimulator;
  ccipRouter: MockCCIPRouter;
  /** The simulator's LINK (CCIP fees in LINK). */
  ccipLink: LinkToken;
  bridge: ConsentBridge;
  mirror: ConsentMirror;
  /** The destination's PredictionRouter, whose consent is the mirror. */
  destRouter: PredictionRouter;
  destOperator: Operator;
  /** The patient's home key-set hash (registered with the same on the destination). */
  keysHash: string;
};

export async function deployCrossChain(connection: NetworkConnection): Promise<CrossChain> {
  const { ethers, ignition } = connection;
  const home = await deploySuite(connection);
  const { governance, oracle, provider, researcher } = home.actors;
  // A second suite: the destination chain's identity, models and privacy groups.
  const dest = await deployMedCipher(connection, {
    governance,
    oracleSenders: [oracle.address],
    roles: { providers: [provider.address], researchers: [researcher.address] },
    models: [DEMO_MODEL],
  });

  const simulator = await ethers.deployContract("CCIPLocalSimulator");
  const config = await simulator.configuration();
  const ccipRouter = await ethers.getContractAt("MockCCIPRouter", config.sourceRouter_);
  const ccipLink = await ethers.getContractAt("LinkToken", config.linkToken_);

  const { bridge } = await ignition.deploy(ConsentBridgeModule, {
    defaultSender: governance.address,
    parameters: {
      ConsentBridge: {
        identity: home.addresses.IdentityRegistry,
        consent: home.addresses.ConsentManager,
        records: home.addresses.RecordRegistry,
        ccipRouter: config.sourceRouter_,
        linkToken: config.linkToken_,
      },
    },
  });
  const bridgeAddress = await bridge.getAddress();
  const destination = await ignition.deploy(MirroredPredictionRouterModule, {
    defaultSender: governance.address,
    parameters: {
      ConsentMirror: {
        identity: dest.addresses.IdentityRegistry,
        ccipRouter: config.destinationRouter_,
        homeChainSelector: HOME_SELECTOR,
        homeBridge: bridgeAddress,
      },
      MirroredPredictionRouter: {
        linkToken: dest.addresses.LinkToken,
        oracleSenders: [oracle.address],
        identity: dest.addresses.IdentityRegistry,
        models: dest.addresses.ModelRegistry,
        groups: dest.addresses.PrivacyGroups,
        onChainResults: true,
      },
    },
  });
  const mirrorAddress = await destination.mirror.getAddress();
  await ignition.deploy(ConsentBridgeDestinationModule, {
    defaultSender: governance.address,
    parameters: {
      ConsentBridgeDestination: { bridge: bridgeAddress, destSelector: DEST_SELECTOR, receiver: mirrorAddress, gasLimit: DEFAULT_RECEIVE_GAS_LIMIT },
    },
  });

  const destRouter = await ethers.getContractAt("PredictionRouter", await destination.router.getAddress(), governance);
  const destOperator = await ethers.getContractAt("Operator", await destination.operator.getAddress(), governance);
  await (await destRouter.authoriseOracle(oracle.address)).wait();
  await (await dest.link.mint(await destRouter.getAddress(), 100n * 10n ** 18n)).wait();

  // The patient registers on both chains with the same key set, and is sponsored on both.
  const { patient } = home.actors;
  const keysHash = await registerPatient(home, patient);
  await (await dest.identity.connect(patient).registerPatient(keysHash, PARAM_SET, blobUri(keysHash), randomHash())).wait();
  await (await destRouter.sponsorPatients([patient.address], 10n * 10n ** 18n)).wait();

  return {
    home,
    dest,
    simulator,
    ccipRouter,
    ccipLink,
    bridge: await ethers.getContractAt("ConsentBridge", bridgeAddress),
    mirror: await ethers.getContractAt("ConsentMirror", mirrorAddress),
    destRouter,
    destOperator,
    keysHash,
  };
}

const coder = AbiCoder.defaultAbiCoder();

export type ConsentSnapshot = {
  patient: string;
  grantee: string;
  purpose: number;
  categories: BigNumberish;
  validFrom: BigNumberish;
  validUntil: BigNumberish;
  epoch: BigNumberish;
  keysHash: string;
};

const CONSENT_TUPLE = "tuple(address patient,address grantee,uint8 purpose,uint32 categories,uint40 validFrom,uint40 validUntil,uint32 epoch,bytes32 keysHash)";
const PRIVATE_TUPLE = "tuple(bytes32 commitment,tuple(uint40 grantedAt,uint40 revokedAt) state)";

/** The bridge's wire format (ConsentMessages.sol): abi.encode(kind, sequence, body). */
export function encodeMessage(kind: number, sequence: BigNumberish, body: string): string {
  return coder.encode(["uint8", "uint64", "bytes"], [kind, sequence, body]);
}

export function consentBody(s: ConsentSnapshot): string {
  return coder.encode([CONSENT_TUPLE], [s]);
}

export function privateConsentBody(commitment: string, grantedAt: BigNumberish, revokedAt: BigNumberish): string {
  return coder.encode([PRIVATE_TUPLE], [{ commitment, state: { grantedAt, revokedAt } }]);
}

/** A CCIP Any2EVMMessage as the router hands it to `ccipReceive`. */
export function any2Evm(data: string, options: { sender: string; sourceChainSelector?: bigint; messageId?: string }) {
  return {
    messageId: options.messageId ?? randomHash(),
    sourceChainSelector: options.sourceChainSelector ?? HOME_SELECTOR,
    sender: coder.encode(["address"], [options.sender]),
    data,
    destTokenAmounts: [],
  };
}
