import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

import IdentityRegistryModule from "./IdentityRegistry.js";

export default buildModule("AuditLogAnchor", (m) => {
  const { identity } = m.useModule(IdentityRegistryModule);
  const audit = m.contract("AuditLogAnchor", [identity]);
  return { audit };
});
