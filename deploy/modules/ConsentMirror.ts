import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

import { buildRouter } from "./PredictionRouter.js";

/**
 * A destination chain's ConsentMirror: governed by the destination's IdentityRegistry
 * (`identity`), fed by the destination's CCIP router (`ccipRouter`) with messages from the home
 * chain (`homeChainSelector`) and its ConsentBridge (`homeBridge`) only.
 */
const ConsentMirrorModule = buildModule("ConsentMirror", (m) => {
  const mirror = m.contract("ConsentMirror", [
    m.getParameter<string>("identity"),
    m.getParameter<string>("ccipRouter"),
    m.getParameter<bigint>("homeChainSelector"),
    m.getParameter<string>("homeBridge"),
  ]);
  return { mirror };
});
export default ConsentMirrorModule;

/**
 * A PredictionRouter on the destination chain whose consent is the mirror: its own Operator on
 * the chain's LINK (`linkToken`), `oracleSenders` authorised until the router takes the Operator
 * over, and the destination suite's `identity`, `models` and `groups`. Requests on this chain are
 * then accepted only under consent mirrored from the home chain.
 */
export const MirroredPredictionRouterModule = buildModule("MirroredPredictionRouter", (m) => {
  const { mirror } = m.useModule(ConsentMirrorModule);
  const link = m.contractAt("LinkToken", m.getParameter<string>("linkToken"));
  const operator = m.contract("Operator", [link, m.getAccount(0)]);
  m.call(operator, "setAuthorizedSenders", [m.getParameter<string[]>("oracleSenders")]);
  // As on the home chain: governance holds the Operator through the router, nobody else.
  const { router } = buildRouter(m, link, operator, {
    identity: m.getParameter<string>("identity"),
    consent: mirror,
    models: m.getParameter<string>("models"),
    groups: m.getParameter<string>("groups"),
  });
  return { mirror, router, operator, link };
});
