import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

import ConsentManagerModule from "./ConsentManager.js";
import IdentityRegistryModule from "./IdentityRegistry.js";

export default buildModule("RecordRegistry", (m) => {
  const { identity } = m.useModule(IdentityRegistryModule);
  const { consent } = m.useModule(ConsentManagerModule);
  const records = m.contract("RecordRegistry", [identity, consent]);
  return { records };
});
