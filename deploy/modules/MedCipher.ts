import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

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

/**
 * The whole suite on a public network (Sepolia): existing LINK, our own Operator.
 * Fund the router with LINK afterwards (`LinkToken.transfer(router, amount)`).
 */
export default buildModule("MedCipher", (m) => {
  const { identity } = m.useModule(IdentityRegistryModule);
  const { consent } = m.useModule(ConsentManagerModule);
  const { records } = m.useModule(RecordRegistryModule);
  const { models } = m.useModule(ModelRegistryModule);
  const { audit } = m.useModule(AuditLogAnchorModule);
  const { groups, semaphore } = m.useModule(PrivacyGroupsModule);
  const { router, link, operator } = m.useModule(PredictionRouterModule);
  return { identity, consent, records, models, audit, groups, semaphore, router, link, operator };
});

/**
 * The whole suite on a development chain: deploys LinkToken and Operator, authorises the oracle
 * senders and mints `routerLink` juels (default 100 LINK) to the router.
 */
export const MedCipherLocalModule = buildModule("MedCipherLocal", (m) => {
  const { identity } = m.useModule(IdentityRegistryModule);
  const { consent } = m.useModule(ConsentManagerModule);
  const { records } = m.useModule(RecordRegistryModule);
  const { models } = m.useModule(ModelRegistryModule);
  const { audit } = m.useModule(AuditLogAnchorModule);
  const { groups, semaphore } = m.useModule(PrivacyGroupsModule);
  const { router, link, operator } = m.useModule(LocalPredictionRouterModule);
  m.call(link, "mint", [router, m.getParameter("routerLink", 100n * 10n ** 18n)], { id: "FundRouter" });
  return { identity, consent, records, models, audit, groups, semaphore, router, link, operator };
});

/**
 * The whole suite on a public network with a k-of-n OracleQuorum in the Operator's place
 * (parameters `OracleQuorum.operators`, `OracleQuorum.k`). `operator` is the quorum: the router's
 * oracle contract, a drop-in for the Operator.
 */
export const MedCipherQuorumModule = buildModule("MedCipherQuorum", (m) => {
  const { identity } = m.useModule(IdentityRegistryModule);
  const { consent } = m.useModule(ConsentManagerModule);
  const { records } = m.useModule(RecordRegistryModule);
  const { models } = m.useModule(ModelRegistryModule);
  const { audit } = m.useModule(AuditLogAnchorModule);
  const { groups, semaphore } = m.useModule(PrivacyGroupsModule);
  const { router, link, operator } = m.useModule(QuorumPredictionRouterModule);
  return { identity, consent, records, models, audit, groups, semaphore, router, link, operator, quorum: operator };
});

/** The whole suite on a development chain with a k-of-n OracleQuorum (`LocalOracleQuorum.operators`, `.k`). */
export const MedCipherLocalQuorumModule = buildModule("MedCipherLocalQuorum", (m) => {
  const { identity } = m.useModule(IdentityRegistryModule);
  const { consent } = m.useModule(ConsentManagerModule);
  const { records } = m.useModule(RecordRegistryModule);
  const { models } = m.useModule(ModelRegistryModule);
  const { audit } = m.useModule(AuditLogAnchorModule);
  const { groups, semaphore } = m.useModule(PrivacyGroupsModule);
  const { router, link, operator } = m.useModule(LocalQuorumPredictionRouterModule);
  m.call(link, "mint", [router, m.getParameter("routerLink", 100n * 10n ** 18n)], { id: "FundRouter" });
  return { identity, consent, records, models, audit, groups, semaphore, router, link, operator, quorum: operator };
});
