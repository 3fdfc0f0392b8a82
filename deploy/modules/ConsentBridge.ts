import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

import { DEFAULT_RECEIVE_GAS_LIMIT } from "./ccipNetworks.js";

/**
 * The home chain's ConsentBridge, against a suite already deployed there (parameters `identity`,
 * `consent`, `records`) and the chain's CCIP router and LINK token (`ccipRouter`, `linkToken`;
 * see ccipNetworks.ts). Destinations are allowed afterwards by governance: ConsentBridgeDestination.
 */
export default buildModule("ConsentBridge", (m) => {
  const bridge = m.contract("ConsentBridge", [
    m.getParameter<string>("identity"),
    m.getParameter<string>("consent"),
    m.getParameter<string>("records"),
    m.getParameter<string>("ccipRouter"),
    m.getParameter<string>("linkToken"),
  ]);
  return { bridge };
});

/**
 * Governance allows one destination chain on an existing bridge (`bridge`): its CCIP selector
 * (`destSelector`), its ConsentMirror (`receiver`) and the gas its `ccipReceive` may use
 * (`gasLimit`). Sent from account 0, which must be the home IdentityRegistry's default admin.
 */
export const ConsentBridgeDestinationModule = buildModule("ConsentBridgeDestination", (m) => {
  const bridge = m.contractAt("ConsentBridge", m.getParameter<string>("bridge"));
  m.call(bridge, "setDestination", [
    m.getParameter<bigint>("destSelector"),
    m.getParameter<string>("receiver"),
    m.getParameter("gasLimit", DEFAULT_RECEIVE_GAS_LIMIT),
  ]);
  return { bridge };
});
