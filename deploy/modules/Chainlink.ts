import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/**
 * Chainlink on a public network: the existing LINK token (parameter `linkToken`) and an Operator
 * we deploy (MedCipher runs its own oracle node). The deployer owns it only until the router
 * module hands it to the router; governance then authorises the node's sending account with
 * `identity.grantRole(ORACLE_ROLE, node)` + `router.authoriseOracle(node)`.
 */
export default buildModule("Chainlink", (m) => {
  const link = m.contractAt("LinkToken", m.getParameter<string>("linkToken"));
  const operator = m.contract("Operator", [link, m.getAccount(0)]);
  return { link, operator };
});
