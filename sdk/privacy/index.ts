/**
 * The SDK's privacy actions (issue 12), browser-safe. SKELETON until the contracts merge: the
 * actions take the contract methods they use as structural types; not yet exported from
 * sdk/index.ts (the lead decides, once the bundle-size test has seen snarkjs).
 */
export { joinPatientGroup, type JoinPatientGroupParameters, type JoinPatientGroupReturnType } from "./joinPatientGroup.js";
export { requestPredictionAnonymous, type RequestPredictionAnonymousParameters, type RequestPredictionAnonymousReturnType } from "./requestPredictionAnonymous.js";
export { grantConsentPrivate, revokeConsentPrivate, type GrantConsentPrivateParameters, type RevokeConsentPrivateParameters } from "./privateConsent.js";
export { groupAccessHeaders, type GroupAccessHeadersParameters } from "./groupAccess.js";
export { readBlobAsGroupMember, type ReadBlobAsGroupMemberParameters, type ReadBlobAsGroupMemberReturnType } from "./readBlobAsGroupMember.js";
export { readBlobWithPrivateConsent, type ReadBlobWithPrivateConsentParameters } from "./readBlobWithPrivateConsent.js";
export { relay, RelayerError, type RelayedMethod } from "./relayer.js";
