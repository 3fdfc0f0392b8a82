import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/**
 * Chainlink on a public network: the existing LINK token (parameter `linkToken`) and an Operator
 * we deploy and own (MedCipher runs its own oracle node). `oracleSenders` are the node accounts
 * allowed to call `fulfillOracleRequest2`.
 */
export default buildModule("Chainlink", (m) => {
  const link = m.contractAt("LinkToken", m.getParameter<string>("linkToken"));
  const operatorOwner = m.getParameter("operatorOwner", m.getAccount(0));
  const operator = m.contract("Operator", [link, operatorOwner]);
  m.call(operator, "setAuthorizedSenders", [m.getParameter<string[]>("oracleSenders", [])]);
  return { link, operator };
});
