/**
 * EIP-712 domains and types of the MedCipher contracts, for signers (patients' wallets, devices)
 * and relayers. Field order and types match the contracts' TYPEHASH strings exactly.
 */
import type { TypedDataDomain, TypedDataField } from "ethers";

export const DOMAIN_NAMES = {
  IdentityRegistry: "MedCipher IdentityRegistry",
  ConsentManager: "MedCipher ConsentManager",
  RecordRegistry: "MedCipher RecordRegistry",
} as const;

export function medCipherDomain(
  contract: keyof typeof DOMAIN_NAMES,
  chainId: bigint | number,
  verifyingContract: string,
): TypedDataDomain {
  return { name: DOMAIN_NAMES[contract], version: "1", chainId, verifyingContract };
}

export const BIND_DEVICE_TYPES: Record<string, TypedDataField[]> = {
  BindDevice: [
    { name: "device", type: "address" },
    { name: "patient", type: "address" },
    { name: "expiresAt", type: "uint40" },
    { name: "nonce", type: "uint32" },
    { name: "deadline", type: "uint256" },
  ],
};

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

export const REVOKE_CONSENT_TYPES: Record<string, TypedDataField[]> = {
  RevokeConsent: [
    { name: "patient", type: "address" },
    { name: "grantee", type: "address" },
    { name: "purpose", type: "uint8" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

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
