/**
 * EIP-712 domains and types of every message the MedCipher contracts verify, for signers
 * (patients' wallets, devices) and relayers: the SDK actions, the contract tests and the gas bench
 * all sign with these. Each types object must match its contract's TYPEHASH string field by field
 * (order, names, Solidity types); the contract tests sign with these and fail if one drifts.
 *
 * Off-chain signatures live elsewhere: device readings in sdk/readings/deviceSignature.ts, the
 * gateway's requests in gateway/protocol.ts.
 */
import type { TypedDataDomain, TypedDataField } from "ethers";

/** The `EIP712(name, "1")` constructor arguments of each contract. */
export const DOMAIN_NAMES = {
  IdentityRegistry: "MedCipher IdentityRegistry",
  ConsentManager: "MedCipher ConsentManager",
  RecordRegistry: "MedCipher RecordRegistry",
} as const;

export type SigningContract = keyof typeof DOMAIN_NAMES;

export function medCipherDomain(contract: SigningContract, chainId: bigint | number, verifyingContract: string): TypedDataDomain {
  return { name: DOMAIN_NAMES[contract], version: "1", chainId, verifyingContract };
}

/** `IdentityRegistry.BIND_DEVICE_TYPEHASH`; signed by the device, nonce = `deviceOf(device).bindNonce`. */
export const BIND_DEVICE_TYPES: Record<string, TypedDataField[]> = {
  BindDevice: [
    { name: "device", type: "address" },
    { name: "patient", type: "address" },
    { name: "expiresAt", type: "uint40" },
    { name: "nonce", type: "uint32" },
    { name: "deadline", type: "uint256" },
  ],
};

/** `IdentityRegistry.BIND_DEVICE_PQ_TYPEHASH`: BindDevice that also commits to the device's ML-DSA-65 key (keccak256). */
export const BIND_DEVICE_PQ_TYPES: Record<string, TypedDataField[]> = {
  BindDevicePq: [
    { name: "device", type: "address" },
    { name: "patient", type: "address" },
    { name: "expiresAt", type: "uint40" },
    { name: "pqKeyHash", type: "bytes32" },
    { name: "nonce", type: "uint32" },
    { name: "deadline", type: "uint256" },
  ],
};

/** `ConsentManager.GRANT_TYPEHASH`; signed by the patient, nonce = `nonces(patient)` (exactly: every consent change moves it). */
export const GRANT_CONSENT_TYPES: Record<string, TypedDataField[]> = {
  GrantConsent: [
    { name: "patient", type: "address" },
    { name: "grantee", type: "address" },
    { name: "purpose", type: "uint8" },
    { name: "categories", type: "uint32" },
    { name: "validFrom", type: "uint40" },
    { name: "validUntil", type: "uint40" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

/**
 * `ConsentManager.REVOKE_TYPEHASH`; nonce = `nonces(patient)` as read, passed to
 * `revokeConsentBySig` with the signature. Accepted for any nonce up to the current one, so it
 * lands whatever other signature of the patient lands first.
 */
export const REVOKE_CONSENT_TYPES: Record<string, TypedDataField[]> = {
  RevokeConsent: [
    { name: "patient", type: "address" },
    { name: "grantee", type: "address" },
    { name: "purpose", type: "uint8" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

/** `RecordRegistry.ANCHOR_RECORD_TYPEHASH`; signed by a bound device, no nonce (an id anchors once per patient). */
export const ANCHOR_RECORD_TYPES: Record<string, TypedDataField[]> = {
  AnchorRecord: [
    { name: "patient", type: "address" },
    { name: "recordId", type: "bytes32" },
    { name: "category", type: "uint8" },
    { name: "uri", type: "string" },
    { name: "supersedes", type: "bytes32" },
    { name: "deadline", type: "uint256" },
  ],
};

/** `RecordRegistry.ANCHOR_BATCH_TYPEHASH`; signed by a bound device, no nonce (a root anchors once per patient). */
export const ANCHOR_BATCH_TYPES: Record<string, TypedDataField[]> = {
  AnchorBatch: [
    { name: "patient", type: "address" },
    { name: "root", type: "bytes32" },
    { name: "count", type: "uint32" },
    { name: "category", type: "uint8" },
    { name: "uri", type: "string" },
    { name: "deadline", type: "uint256" },
  ],
};
