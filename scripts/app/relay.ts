/**
 * The local stack's consent relay: POST /relay/consent with a patient's signed EIP-712 grant or
 * revocation (sdk/actions/signConsentGrant.ts, signConsentRevocation.ts) and a funded relayer
 * account submits `grantConsentBySig` / `revokeConsentBySig`, so the patient needs no ETH. The
 * signature is checked here first: a forged or mistyped consent costs no gas and is refused with
 * words. A revert comes back with the contract's error name and arguments (`details.reason`,
 * `details.args`).
 */
import { getAddress, isAddress, isHexString, verifyTypedData, type Signer } from "ethers";

import { connectContracts, type MedCipherAddresses } from "../../protocol/contracts.js";
import { GRANT_CONSENT_TYPES, medCipherDomain, REVOKE_CONSENT_TYPES } from "../../protocol/typedData.js";
import type { SignedConsentGrant } from "../../sdk/actions/signConsentGrant.js";
import type { SignedConsentRevocation } from "../../sdk/actions/signConsentRevocation.js";
import { sendTransaction } from "../../sdk/chain/send.js";
import { ChainError } from "../../sdk/errors.js";
import { AppBadRequestError, RelayRevertedError, RelaySignatureError } from "./errors.js";
import { createSerialQueue } from "./serial.js";

const ROUTE = "POST /relay/consent";

export type RelayReply = { kind: "grant" | "revoke"; transactionHash: string; blockNumber: number };

export type ConsentRelay = { relay(body: unknown): Promise<RelayReply> };

/** A relay request: the signed message; `chainId` and `consentManager` are checked when present. */
type RelayRequest =
  | (Omit<SignedConsentGrant, "chainId" | "consentManager"> & Partial<Pick<SignedConsentGrant, "chainId" | "consentManager">>)
  | (Omit<SignedConsentRevocation, "chainId" | "consentManager"> & Partial<Pick<SignedConsentRevocation, "chainId" | "consentManager">>);

export function createConsentRelay(options: { relayer: Signer; addresses: MedCipherAddresses; chainId: number }): ConsentRelay {
  const consent = connectContracts(options.addresses, options.relayer).consent;
  const domain = medCipherDomain("ConsentManager", options.chainId, options.addresses.ConsentManager);
  const serial = createSerialQueue();

  return {
    async relay(body) {
      const request = parseRelayRequest(body, options);
      const recovered = request.kind === "grant"
        ? verifyTypedData(domain, GRANT_CONSENT_TYPES, grantMessage(request), request.signature)
        : verifyTypedData(domain, REVOKE_CONSENT_TYPES, revocationMessage(request), request.signature);
      if (getAddress(recovered) !== getAddress(request.patient)) throw new RelaySignatureError({ kind: request.kind, patient: request.patient, recovered });
      const action = request.kind === "grant" ? "grantConsentBySig" : "revokeConsentBySig";
      try {
        const receipt = await serial(() => sendTransaction(action, () => request.kind === "grant"
          ? consent.grantConsentBySig(request.patient, request.grantee, request.purpose, request.categories, request.validFrom, request.validUntil, request.deadline, request.signature)
          : consent.revokeConsentBySig(request.patient, request.grantee, request.purpose, BigInt(request.nonce), request.deadline, request.signature)));
        return { kind: request.kind, transactionHash: receipt.hash, blockNumber: receipt.blockNumber };
      } catch (error) {
        // sendTransaction decodes the revert against every contract's errors: name and arguments.
        if (error instanceof ChainError) throw new RelayRevertedError({ kind: request.kind, reason: error.reason, args: error.args }, error);
        throw error;
      }
    },
  };
}

const grantMessage = (g: Extract<RelayRequest, { kind: "grant" }>) => ({
  patient: g.patient, grantee: g.grantee, purpose: g.purpose, categories: g.categories, validFrom: g.validFrom, validUntil: g.validUntil, nonce: BigInt(g.nonce), deadline: g.deadline,
});
const revocationMessage = (r: Extract<RelayRequest, { kind: "revoke" }>) => ({
  patient: r.patient, grantee: r.grantee, purpose: r.purpose, nonce: BigInt(r.nonce), deadline: r.deadline,
});

/** Checks every field a relay request needs, listing all problems at once. */
function parseRelayRequest(body: unknown, expected: { addresses: MedCipherAddresses; chainId: number }): RelayRequest {
  const problems: string[] = [];
  if (typeof body !== "object" || body === null) throw new AppBadRequestError(ROUTE, ["the body must be a signed consent grant or revocation (JSON)"]);
  const value = body as Record<string, unknown>;
  const kind = value.kind;
  if (kind !== "grant" && kind !== "revoke") throw new AppBadRequestError(ROUTE, [`kind must be "grant" or "revoke", got ${JSON.stringify(kind)}`]);
  const address = (name: string) => { if (typeof value[name] !== "string" || !isAddress(value[name])) problems.push(`${name} must be an address`); };
  const integer = (name: string) => { if (!Number.isSafeInteger(value[name]) || (value[name] as number) < 0) problems.push(`${name} must be a non-negative integer`); };
  address("patient");
  address("grantee");
  integer("purpose");
  integer("deadline");
  if (typeof value.nonce !== "string" || !/^\d+$/.test(value.nonce)) problems.push("nonce must be a decimal string");
  if (typeof value.signature !== "string" || !isHexString(value.signature, 65)) problems.push("signature must be a 65-byte 0x-hex signature");
  if (kind === "grant") for (const name of ["categories", "validFrom", "validUntil"]) integer(name);
  if (value.chainId !== undefined && value.chainId !== expected.chainId) problems.push(`signed for chain ${String(value.chainId)}, this stack is chain ${expected.chainId}`);
  if (value.consentManager !== undefined && (typeof value.consentManager !== "string" || !isAddress(value.consentManager) || getAddress(value.consentManager) !== getAddress(expected.addresses.ConsentManager))) {
    problems.push(`signed for ConsentManager ${String(value.consentManager)}, this stack's is ${expected.addresses.ConsentManager}`);
  }
  if (problems.length > 0) throw new AppBadRequestError(ROUTE, problems);
  return value as unknown as RelayRequest;
}
