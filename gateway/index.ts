/** The encrypted storage gateway: see docs/gateway.md. */
export { createGateway, type Gateway, type GatewayOptions } from "./server.js";
export { startGatewayService, type GatewayService, type GatewayServiceOptions } from "./service.js";
export { createChainAccessPolicy, type ChainPolicyOptions } from "./chainPolicy.js";
export type { AccessPolicy, GrantReason, ReadAccess, WriteAccess } from "./policy.js";
export type { BlobStore } from "./store/blobStore.js";
export { createDirectoryBlobStore } from "./store/directoryStore.js";
export { createDirectoryMetadataStore, type BlobMeta, type MetadataStore } from "./store/metadata.js";
export { openAuditLog, readAuditLogFile, type AuditLog } from "./audit/auditLog.js";
export { verifyAuditChain, verifyAuditProof, type AuditEntry } from "../protocol/audit/entries.js";
export { createAuditAnchorer, type AuditAnchorer } from "./audit/anchor.js";
export { auditEntryToFhir } from "../protocol/audit/fhir.js";
export { DEFAULT_LIMITS, type GatewayLimits } from "./limits.js";
export * from "./errors.js";
export * from "../protocol/gateway.js";
