import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import type { IgnitionModule, NamedArtifactContractAtFuture, NamedArtifactContractDeploymentFuture } from "@nomicfoundation/ignition-core";

import AuditLogAnchorModule from "./AuditLogAnchor.js";
import ConsentManagerModule from "./ConsentManager.js";
import IdentityRegistryModule from "./IdentityRegistry.js";
import ModelRegistryModule from "./ModelRegistry.js";
import PrivacyGroupsModule from "./PrivacyGroups.js";
import PredictionRouterModule, {
  LocalPredictionRouterModule,
  LocalQuorumPredictionRouterModule,
  QuorumPredictionRouterModule,
} from "./PredictionRouter.js";
import RecordRegistryModule from "./RecordRegistry.js";

/** What every router module returns; `Oracle` is the contract requests go to. */
type RouterResult<Oracle extends "Operator" | "OracleQuorum"> = {
  router: NamedArtifactContractDeploymentFuture<"PredictionRouter">;
  link: NamedArtifactContractAtFuture<"LinkToken"> | NamedArtifactContractDeploymentFuture<"LinkToken">;
  operator: NamedArtifactContractDeploymentFuture<Oracle>;
};

/**
 * The suite around one of the router modules: every MedCipher module is this, and they differ only
 * in where the router sends requests (Operator or OracleQuorum) and whether LINK is ours to mint
 * (development chains fund the router with `routerLink` juels, default 100 LINK).
 */
function suiteModule<Oracle extends "Operator" | "OracleQuorum", Quorum extends boolean>(id: string, routerModule: IgnitionModule<string, string, RouterResult<Oracle>>, options: { fundRouter: boolean; quorum: Quorum }) {
  return buildModule(id, (m) => {
    const { identity } = m.useModule(IdentityRegistryModule);
    const { consent } = m.useModule(ConsentManagerModule);
    const { records } = m.useModule(RecordRegistryModule);
    const { models } = m.useModule(ModelRegistryModule);
    const { audit } = m.useModule(AuditLogAnchorModule);
    const { groups, semaphore } = m.useModule(PrivacyGroupsModule);
    const { router, link, operator } = m.useModule(routerModule);
    if (options.fundRouter) m.call(link, "mint", [router, m.getParameter("routerLink", 100n * 10n ** 18n)], { id: "FundRouter" });
    const suite = { identity, consent, records, models, audit, groups, semaphore, router, link, operator };
    return (options.quorum ? { ...suite, quorum: operator } : suite) as Quorum extends true ? typeof suite & { quorum: typeof operator } : typeof suite;
  });
}

/**
 * The whole suite on a public network (Sepolia): existing LINK, our own Operator.
 * Fund the router with LINK afterwards (`LinkToken.transfer(router, amount)`).
 */
export default suiteModule("MedCipher", PredictionRouterModule, { fundRouter: false, quorum: false });

/**
 * The whole suite on a development chain: deploys LinkToken and Operator, authorises the oracle
 * senders and mints `routerLink` juels (default 100 LINK) to the router.
 */
export const MedCipherLocalModule = suiteModule("MedCipherLocal", LocalPredictionRouterModule, { fundRouter: true, quorum: false });

/**
 * The whole suite on a public network with a k-of-n OracleQuorum in the Operator's place
 * (parameters `OracleQuorum.operators`, `OracleQuorum.k`). `operator` is the quorum: the router's
 * oracle contract, a drop-in for the Operator.
 */
export const MedCipherQuorumModule = suiteModule("MedCipherQuorum", QuorumPredictionRouterModule, { fundRouter: false, quorum: true });

/** The whole suite on a development chain with a k-of-n OracleQuorum (`LocalOracleQuorum.operators`, `.k`). */
export const MedCipherLocalQuorumModule = suiteModule("MedCipherLocalQuorum", LocalQuorumPredictionRouterModule, { fundRouter: true, quorum: true });
