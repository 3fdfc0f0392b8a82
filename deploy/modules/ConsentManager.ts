import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

import IdentityRegistryModule from "./IdentityRegistry.js";

export default buildModule("ConsentManager", (m) => {
  const { identity } = m.useModule(IdentityRegistryModule);
  const consent = m.contract("ConsentManager", [identity]);
  return { consent };
});
