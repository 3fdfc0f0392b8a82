import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

import IdentityRegistryModule from "./IdentityRegistry.js";
import { DEV_ORACLE_SENDER } from "./LocalChainlink.js";

/**
 * A k-of-n OracleQuorum in the Chainlink Operator's place (optional: without it the suite keeps the
 * single Operator, which is k = 1). Parameters: `operators` (the n sending accounts, one daemon and
 * key each) and `k` (default 1). The deployer names the operators while it owns the quorum; the
 * router module then takes ownership, so later changes go through `router.authoriseOracle` /
 * `removeOracle` and k through governance's `setQuorum`. Fewer operators than k leave the
 * effective threshold at n until more are authorised.
 */
export default buildModule("OracleQuorum", (m) => {
  const link = m.contractAt("LinkToken", m.getParameter<string>("linkToken"));
  const { identity } = m.useModule(IdentityRegistryModule);
  const quorum = m.contract("OracleQuorum", [link, m.getAccount(0), identity, m.getParameter("k", 1)]);
  m.call(quorum, "setAuthorizedSenders", [m.getParameter<string[]>("operators")]);
  return { link, quorum };
});

/**
 * The quorum on a development chain: a fresh LinkToken (the deployer mints) and the quorum, with
 * `operators` (default: development account #1 alone) and `k` (default 1).
 */
export const LocalOracleQuorumModule = buildModule("LocalOracleQuorum", (m) => {
  const link = m.contract("LinkToken");
  m.call(link, "grantMintRole", [m.getAccount(0)]);
  const { identity } = m.useModule(IdentityRegistryModule);
  const quorum = m.contract("OracleQuorum", [link, m.getAccount(0), identity, m.getParameter("k", 1)]);
  m.call(quorum, "setAuthorizedSenders", [m.getParameter<string[]>("operators", [DEV_ORACLE_SENDER])]);
  return { link, quorum };
});
