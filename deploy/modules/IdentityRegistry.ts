import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/** The IdentityRegistry: governance (the default admin) and its transfer delay in seconds. */
export default buildModule("IdentityRegistry", (m) => {
  const governance = m.getParameter("governance", m.getAccount(0));
  const adminDelaySeconds = m.getParameter("adminDelaySeconds", 0);
  const identity = m.contract("IdentityRegistry", [adminDelaySeconds, governance]);
  return { identity };
});
