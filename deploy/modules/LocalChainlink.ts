import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/**
 * Chainlink on a development chain: a fresh LinkToken whose owner and minter is the deployer,
 * and an Operator owned by the deployer, with `oracleSenders` authorised to fulfil.
 */
export default buildModule("LocalChainlink", (m) => {
  const link = m.contract("LinkToken");
  m.call(link, "grantMintRole", [m.getAccount(0)]);
  const operator = m.contract("Operator", [link, m.getAccount(0)]);
  m.call(operator, "setAuthorizedSenders", [m.getParameter<string[]>("oracleSenders", [])]);
  return { link, operator };
});
