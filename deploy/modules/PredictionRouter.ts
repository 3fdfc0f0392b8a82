import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import type {
  ArgumentType,
  IgnitionModuleBuilder,
  NamedArtifactContractAtFuture,
  NamedArtifactContractDeploymentFuture,
} from "@nomicfoundation/ignition-core";

import ChainlinkModule from "./Chainlink.js";
import ConsentManagerModule from "./ConsentManager.js";
import IdentityRegistryModule from "./IdentityRegistry.js";
import LocalChainlinkModule from "./LocalChainlink.js";
import ModelRegistryModule from "./ModelRegistry.js";
import OracleQuorumModule, { LocalOracleQuorumModule } from "./OracleQuorum.js";
import PrivacyGroupsModule from "./PrivacyGroups.js";

/** keccak256("medcipher-predict-v1"): the default Chainlink job id the oracle daemon serves. */
export const DEFAULT_JOB_ID = "0xd66b076c2aef3fc316ead184a01d5883c5f7fff63bfb7020bb0ed3c04e81582b";
/** 0.1 LINK per request. */
export const DEFAULT_FEE = 10n ** 17n;

/** Whichever oracle contract the router requests through: the Chainlink Operator or an OracleQuorum. */
type OracleContract = NamedArtifactContractDeploymentFuture<"Operator"> | NamedArtifactContractDeploymentFuture<"OracleQuorum">;

/** The contracts a router is built on: this suite's modules, or (another chain's router) addresses and other futures. */
export type RouterDependencies = { identity: ArgumentType; consent: ArgumentType; models: ArgumentType; groups: ArgumentType };

function suiteDependencies(m: IgnitionModuleBuilder): RouterDependencies {
  const { identity } = m.useModule(IdentityRegistryModule);
  const { consent } = m.useModule(ConsentManagerModule);
  const { models } = m.useModule(ModelRegistryModule);
  const { groups } = m.useModule(PrivacyGroupsModule);
  return { identity, consent, models, groups };
}

/**
 * A PredictionRouter requesting through `operator`, which it then owns (router parameters
 * `jobId`, `fee`, `onChainResults`). `operator`'s deployer must still own it.
 */
export function buildRouter<Oracle extends OracleContract>(
  m: IgnitionModuleBuilder,
  link: NamedArtifactContractAtFuture<"LinkToken"> | NamedArtifactContractDeploymentFuture<"LinkToken">,
  operator: Oracle,
  { identity, consent, models, groups }: RouterDependencies = suiteDependencies(m),
) {
  const router = m.contract("PredictionRouter", [
    identity,
    consent,
    models,
    groups,
    link,
    operator,
    m.getParameter("jobId", DEFAULT_JOB_ID),
    m.getParameter("fee", DEFAULT_FEE),
    m.getParameter("onChainResults", false),
  ]);
  // Governance owns the Operator through the router: nobody keeps `ownerForward` (which could
  // post any result) or `setAuthorizedSenders` outside `router.authoriseOracle` / `removeOracle`.
  // The Operator's deployer (account 0, its first owner) hands it over in two steps.
  const transfer = m.call(operator, "transferOwnership", [router], { id: "OperatorToRouter" });
  m.call(router, "acceptOperatorOwnership", [], { id: "RouterOwnsOperator", after: [transfer] });
  return { router, link, operator };
}

/** The router against an existing LINK token and our Operator (public networks). */
export default buildModule("PredictionRouter", (m) => {
  const { link, operator } = m.useModule(ChainlinkModule);
  return buildRouter(m, link, operator);
});

/** The router against a freshly deployed LinkToken and Operator (development chains). */
export const LocalPredictionRouterModule = buildModule("LocalPredictionRouter", (m) => {
  const { link, operator } = m.useModule(LocalChainlinkModule);
  return buildRouter(m, link, operator);
});

/** The router against an existing LINK token and a k-of-n OracleQuorum (public networks). */
export const QuorumPredictionRouterModule = buildModule("QuorumPredictionRouter", (m) => {
  const { link, quorum } = m.useModule(OracleQuorumModule);
  return buildRouter(m, link, quorum);
});

/** The router against a fresh LinkToken and a k-of-n OracleQuorum (development chains). */
export const LocalQuorumPredictionRouterModule = buildModule("LocalQuorumPredictionRouter", (m) => {
  const { link, quorum } = m.useModule(LocalOracleQuorumModule);
  return buildRouter(m, link, quorum);
});
