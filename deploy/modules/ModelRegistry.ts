import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

import IdentityRegistryModule from "./IdentityRegistry.js";

export default buildModule("ModelRegistry", (m) => {
  const { identity } = m.useModule(IdentityRegistryModule);
  const models = m.contract("ModelRegistry", [identity]);
  return { models };
});
