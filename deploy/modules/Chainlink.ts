import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/**
 * Chainlink on a public network: the existing LINK token (parameter `linkToken`) and an Operator
 * we deploy and own (MedCipher runs its own oracle node). Authorising the node's sending accounts
 * (`Operator.setAuthorizedSenders`) is left to the operator owner once the node exists.
 */
export default buildModule("Chainlink", (m) => {
  const link = m.contractAt("LinkToken", m.getParameter<string>("linkToken"));
  const operatorOwner = m.getParameter("operatorOwner", m.getAccount(0));
  const operator = m.contract("Operator", [link, operatorOwner]);
  return { link, operator };
});
