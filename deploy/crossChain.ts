/**
 * The cross-chain pair on one Hardhat connection, joined by Chainlink's CCIP local simulator: the
 * home suite's ConsentBridge and, on a destination suite, a ConsentMirror that is the consent
 * contract of a PredictionRouter of its own (docs/crosschain.md). Everything goes through the
 * same Ignition modules a real deployment uses; only the simulator stands in for CCIP. Its router
 * delivers inside the sending transaction on the same chain and charges no fee unless told to.
 *
 * Used by the tests (test/contracts/crosschainFixture.ts) and the demo's cross-chain step.
 */
import type { NetworkConnection } from "hardhat/types/network";
import type { Signer } from "ethers";

import type {
  CCIPLocalSimulator,
  ConsentBridge,
  ConsentMirror,
  LinkToken,
  MockCCIPRouter,
  Operator,
  PredictionRouter,
} from "../types/ethers-contracts/index.js";
import type { MedCipherAddresses, MedCipherDeployment } from "./local.js";
import ConsentBridgeModule, { ConsentBridgeDestinationModule } from "./modules/ConsentBridge.js";
import { MirroredPredictionRouterModule } from "./modules/ConsentMirror.js";
import { CCIP_NETWORKS, DEFAULT_RECEIVE_GAS_LIMIT } from "./modules/ccipNetworks.js";

/** The simulator's router stamps every message with Sepolia's selector: the home chain here. */
export const HOME_SELECTOR = CCIP_NETWORKS.sepolia.chainSelector;
/** The destination's selector (the simulator accepts any). */
export const DEST_SELECTOR = CCIP_NETWORKS.arbitrumSepolia.chainSelector;

export type CrossChainOptions = {
  /** The home suite's contracts the bridge reads. */
  home: Pick<MedCipherAddresses, "IdentityRegistry" | "ConsentManager" | "RecordRegistry">;
  /** The destination suite (identity, models, privacy groups, its LINK). */
  dest: MedCipherDeployment;
  /** Governance of both suites: deploys, allows the destination, authorises the oracle. */
  governance: Signer;
  /** Oracle nodes allowed to fulfil on the destination's Operator. */
  oracleSenders: string[];
  /** LINK minted to the destination router for sponsored requests (default 100 LINK). */
  routerLink?: bigint;
  /** The destination router keeps results on-chain (default true). */
  onChainResults?: boolean;
};

export type CrossChainDeployment = {
  simulator: CCIPLocalSimulator;
  ccipRouter: MockCCIPRouter;
  /** The simulator's LINK (CCIP fees in LINK). */
  ccipLink: LinkToken;
  bridge: ConsentBridge;
  mirror: ConsentMirror;
  /** The destination's PredictionRouter, whose consent is the mirror. */
  destRouter: PredictionRouter;
  destOperator: Operator;
};

export async function deployCrossChainPair(connection: NetworkConnection, options: CrossChainOptions): Promise<CrossChainDeployment> {
  const { ethers, ignition } = connection;
  const { dest, governance, oracleSenders } = options;
  const governanceAddress = await governance.getAddress();

  const simulator = await ethers.deployContract("CCIPLocalSimulator");
  const config = await simulator.configuration();
  const ccipRouter = await ethers.getContractAt("MockCCIPRouter", config.sourceRouter_);
  const ccipLink = await ethers.getContractAt("LinkToken", config.linkToken_);

  const { bridge } = await ignition.deploy(ConsentBridgeModule, {
    defaultSender: governanceAddress,
    parameters: {
      ConsentBridge: {
        identity: options.home.IdentityRegistry,
        consent: options.home.ConsentManager,
        records: options.home.RecordRegistry,
        ccipRouter: config.sourceRouter_,
        linkToken: config.linkToken_,
      },
    },
  });
  const bridgeAddress = await bridge.getAddress();
  const destination = await ignition.deploy(MirroredPredictionRouterModule, {
    defaultSender: governanceAddress,
    parameters: {
      ConsentMirror: {
        identity: dest.addresses.IdentityRegistry,
        ccipRouter: config.destinationRouter_,
        homeChainSelector: HOME_SELECTOR,
        homeBridge: bridgeAddress,
      },
      MirroredPredictionRouter: {
        linkToken: dest.addresses.LinkToken,
        oracleSenders,
        identity: dest.addresses.IdentityRegistry,
        models: dest.addresses.ModelRegistry,
        groups: dest.addresses.PrivacyGroups,
        onChainResults: options.onChainResults ?? true,
      },
    },
  });
  const mirrorAddress = await destination.mirror.getAddress();
  await ignition.deploy(ConsentBridgeDestinationModule, {
    defaultSender: governanceAddress,
    parameters: {
      ConsentBridgeDestination: { bridge: bridgeAddress, destSelector: DEST_SELECTOR, receiver: mirrorAddress, gasLimit: DEFAULT_RECEIVE_GAS_LIMIT },
    },
  });

  const destRouter = await ethers.getContractAt("PredictionRouter", await destination.router.getAddress(), governance);
  const destOperator = await ethers.getContractAt("Operator", await destination.operator.getAddress(), governance);
  for (const oracle of oracleSenders) await (await destRouter.authoriseOracle(oracle)).wait();
  await (await dest.link.mint(await destRouter.getAddress(), options.routerLink ?? 100n * 10n ** 18n)).wait();

  return {
    simulator,
    ccipRouter,
    ccipLink,
    bridge: await ethers.getContractAt("ConsentBridge", bridgeAddress),
    mirror: await ethers.getContractAt("ConsentMirror", mirrorAddress),
    destRouter,
    destOperator,
  };
}

/**
 * The addresses a destination's gateway, oracle daemon and SDK clients take: the destination
 * suite's, with the mirror as the consent contract, and the mirrored router and its Operator in
 * place of the suite's own. The gateway decides reads and clinicians' input uploads with the
 * mirror's hasAccess / hasRecordAccess / privateConsentAllows (ConsentManager's signatures), and
 * releases a request's input and keys to an oracle only for a pending request of this router.
 */
export async function destinationAddresses(
  dest: Pick<MedCipherDeployment, "addresses">,
  pair: Pick<CrossChainDeployment, "mirror" | "destRouter" | "destOperator">,
): Promise<MedCipherAddresses> {
  return {
    ...dest.addresses,
    ConsentManager: await pair.mirror.getAddress(),
    PredictionRouter: await pair.destRouter.getAddress(),
    Operator: await pair.destOperator.getAddress(),
  };
}
