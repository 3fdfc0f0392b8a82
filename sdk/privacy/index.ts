/**
 * The SDK's privacy actions (issue 12), browser-safe: joining the patients' group, anonymous
 * prediction requests end to end, private consent and group access, all relayed. Not yet exported
 * from sdk/index.ts (the lead decides, once the bundle-size test has seen snarkjs).
 */
export { joinPatientGroup, type JoinPatientGroupParameters, type JoinPatientGroupReturnType } from "./joinPatientGroup.js";
export {
  requestPredictionAnonymous, proveAnonymousRequest, getAnonymousPredictionResult,
  type AnonymousGateway, type AnonymousGatewayClient, type AnonymousRequestContracts, type AnonymousRequestSecrets,
  type GetAnonymousPredictionResultParameters, type RequestPredictionAnonymousParameters, type RequestPredictionAnonymousReturnType,
} from "./requestPredictionAnonymous.js";
export { anonymousNullifier, findFreeSlot, NoFreeSlotError, type FreeSlot, type SlotRouter } from "./slots.js";
export { anonymousRequestsOf, withAnonymousRequest, ANONYMOUS_REQUESTS_KEY } from "./anonymousSecrets.js";
export { grantConsentPrivate, revokeConsentPrivate, type GrantConsentPrivateParameters, type RevokeConsentPrivateParameters } from "./privateConsent.js";
export { groupAccessHeaders, type GroupAccessHeadersParameters } from "./groupAccess.js";
export { readBlobAsGroupMember, type ReadBlobAsGroupMemberParameters, type ReadBlobAsGroupMemberReturnType } from "./readBlobAsGroupMember.js";
export { readBlobWithPrivateConsent, type ReadBlobWithPrivateConsentParameters } from "./readBlobWithPrivateConsent.js";
export { relay, RelayerError, type RelayedMethod, type RelayParameters, type RelayReturnType } from "./relayer.js";
