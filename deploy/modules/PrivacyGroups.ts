import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

import IdentityRegistryModule from "./IdentityRegistry.js";

/**
 * How long (seconds) a group root replaced by a join still verifies proofs: a proof made just
 * before another patient joined must still be good when it is mined. Removals end old roots at
 * once (PrivacyGroups.verifyMembership).
 */
export const DEFAULT_ROOT_WINDOW = 3_600n;

/**
 * Semaphore v4 as published (@semaphore-protocol/contracts 4.14.2): its Poseidon library, the
 * Groth16 verifier for depths 1–32, and the groups contract. On a chain where Semaphore is
 * already deployed this still deploys MedCipher's own copy, so no group depends on a contract
 * whose upgrade path MedCipher's governance does not hold (Semaphore itself is not upgradeable).
 */
export const SemaphoreModule = buildModule("Semaphore", (m) => {
  const poseidon = m.library("PoseidonT3");
  const verifier = m.contract("SemaphoreVerifier");
  const semaphore = m.contract("Semaphore", [verifier], { libraries: { PoseidonT3: poseidon } });
  return { semaphore, verifier, poseidon };
});

export default buildModule("PrivacyGroups", (m) => {
  const { identity } = m.useModule(IdentityRegistryModule);
  const { semaphore } = m.useModule(SemaphoreModule);
  const groups = m.contract("PrivacyGroups", [identity, semaphore, m.getParameter("rootWindow", DEFAULT_ROOT_WINDOW)]);
  return { groups, semaphore };
});
