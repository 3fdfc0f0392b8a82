import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/** Hardhat's well-known development account #1: the default oracle sender on development chains. */
export const DEV_ORACLE_SENDER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

/**
 * Chainlink on a development chain: a fresh LinkToken whose owner and minter is the deployer,
 * and an Operator owned by the deployer, with `oracleSenders` (default: development account #1)
 * authorised to fulfil.
 */
export default buildModule("LocalChainlink", (m) => {
  const link = m.contract("LinkToken");
  m.call(link, "grantMintRole", [m.getAccount(0)]);
  const operator = m.contract("Operator", [link, m.getAccount(0)]);
  m.call(operator, "setAuthorizedSenders", [m.getParameter<string[]>("oracleSenders", [DEV_ORACLE_SENDER])]);
  return { link, operator };
});
