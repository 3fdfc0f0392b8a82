/**
 * Private consent (IConsentManager.PrivateConsent): the chain holds only a commitment to the
 * consent; the patient hands the grantee the opening, which the grantee shows the gateway, which
 * checks it against the chain (ConsentManager.privateConsentAllows) before serving.
 *
 *   consentHash    = EIP-712 struct hash of PrivateConsent (PRIVATE_CONSENT_TYPEHASH below)
 *   revocationHash = keccak256(abi.encode(bytes32 revocationSecret))
 *   commitment     = keccak256(abi.encode(consentHash, revocationHash))
 *
 * The patient signs the typed data under the ConsentManager domain. The revocation secret is
 * derived from the patient's own secret and the consent's salt, so the patient can always revoke
 * (revokeConsentPrivate(consentHash, secret), sent by anyone) without having stored it; the grantee
 * gets only its hash, so the grantee cannot revoke, and the revocation names nobody.
 *
 * What the grantee receives ("grant"): { v: 1, chainId, consentManager, opening, revocationHash,
 * signature } as JSON; `parsePrivateConsentGrant` accepts nothing else and checks the signature.
 */
import { AbiCoder, getAddress, id as keccakUtf8, keccak256, Signature, TypedDataEncoder, verifyTypedData, ZeroAddress, type TypedDataDomain } from "ethers";

import { base64UrlToBytes, bytesToBase64Url, bytesToHexString, bytesToUtf8, utf8ToBytes } from "../core/bytes.js";
import { deriveSecret } from "../core/crypto/derive.js";
import { BaseError } from "../core/errors.js";
import { hexToBytes } from "../core/hex.js";
import { Purpose } from "./codes.js";
import { medCipherDomain } from "./typedData.js";

/** IConsentManager.PrivateConsent. `grantee` is zero for a group consent, `groupId` zero for an individual one. */
export type PrivateConsent = {
  patient: string;
  grantee: string;
  groupId: bigint;
  purpose: number;
  categories: number;
  validFrom: number;
  validUntil: number;
  /** The patient's `epochOf` at signing: revokeAllConsents ends the consent too. */
  epoch: number;
  /** 32 random bytes (0x-hex): without them the commitment could be guessed from the fields. */
  salt: string;
};

/** `ConsentManager.PRIVATE_CONSENT_TYPEHASH`'s type, field by field. */
export const PRIVATE_CONSENT_TYPES = {
  PrivateConsent: [
    { name: "patient", type: "address" },
    { name: "grantee", type: "address" },
    { name: "groupId", type: "uint256" },
    { name: "purpose", type: "uint8" },
    { name: "categories", type: "uint32" },
    { name: "validFrom", type: "uint40" },
    { name: "validUntil", type: "uint40" },
    { name: "epoch", type: "uint32" },
    { name: "salt", type: "bytes32" },
  ],
};

export const PRIVATE_CONSENT_TYPEHASH = keccakUtf8(
  "PrivateConsent(address patient,address grantee,uint256 groupId,uint8 purpose,uint32 categories,uint40 validFrom,uint40 validUntil,uint32 epoch,bytes32 salt)",
);

export const REVOCATION_SECRET_LABEL = "medcipher.consent-revocation.v1";
export const HEADER_PRIVATE_CONSENT = "x-medcipher-private-consent";

const abi = AbiCoder.defaultAbiCoder();
const encoder = TypedDataEncoder.from(PRIVATE_CONSENT_TYPES);

/** A private consent is malformed, or its signature is not the patient's. */
export class PrivateConsentError extends BaseError {
  override name = "PrivateConsentError";
  constructor(code: "PRIVATE_CONSENT_MALFORMED" | "PRIVATE_CONSENT_SIGNATURE", message: string, details?: Record<string, unknown>) {
    super(message, { code, details });
  }
}

export function privateConsentDomain(chainId: bigint | number, consentManager: string): TypedDataDomain {
  return medCipherDomain("ConsentManager", chainId, consentManager);
}

/** The EIP-712 struct hash (ConsentManager.privateConsentHash). */
export function privateConsentHash(consent: PrivateConsent): string {
  return encoder.hash(consent);
}

/** The revocation secret of the consent with `salt`, from the patient's root secret (the signing key). */
export function deriveRevocationSecret(patientSecret: Uint8Array, salt: string): string {
  return `0x${bytesToHexString(deriveSecret(patientSecret, REVOCATION_SECRET_LABEL, hexToBytes(salt, 32)))}`;
}

export function revocationHashOf(revocationSecret: string): string {
  return keccak256(abi.encode(["bytes32"], [revocationSecret]));
}

/** ConsentManager.privateCommitment. */
export function privateCommitment(consentHash: string, revocationHash: string): string {
  return keccak256(abi.encode(["bytes32", "bytes32"], [consentHash, revocationHash]));
}

export function newConsentSalt(): string {
  return `0x${bytesToHexString(globalThis.crypto.getRandomValues(new Uint8Array(32)))}`;
}

/** What the patient hands the grantee (or the group's members), and what they show the gateway. */
export type PrivateConsentGrant = {
  chainId: number;
  consentManager: string;
  opening: PrivateConsent;
  revocationHash: string;
  /** The patient's EIP-712 signature of `opening` (65 bytes, 0x-hex). */
  signature: string;
};

/** A checked grant and what follows from it. */
export type ParsedPrivateConsentGrant = PrivateConsentGrant & { consentHash: string; commitment: string };

/** Throws PRIVATE_CONSENT_MALFORMED unless every field is in range and exactly one of grantee / groupId is set. */
export function validatePrivateConsent(consent: PrivateConsent): void {
  const bad = (reason: string, details?: Record<string, unknown>): never => { throw new PrivateConsentError("PRIVATE_CONSENT_MALFORMED", `Malformed private consent: ${reason}.`, details); };
  if (!isAddress(consent.patient) || consent.patient === ZeroAddress) bad("patient is not a checksummed non-zero address");
  if (!isAddress(consent.grantee)) bad("grantee is not a checksummed address");
  if (typeof consent.groupId !== "bigint" || consent.groupId < 0n || consent.groupId >= 2n ** 256n) bad("groupId is not a uint256");
  const isGroup = consent.groupId !== 0n;
  if (isGroup === (consent.grantee !== ZeroAddress)) bad("exactly one of grantee (an individual) and groupId (a group) must be set");
  if (consent.grantee.toLowerCase() === consent.patient.toLowerCase()) bad("the grantee is the patient");
  if (!Object.values(Purpose).includes(consent.purpose as never) || consent.purpose === Purpose.NONE) bad("unknown purpose", { purpose: consent.purpose });
  if (!isUint(consent.categories, 32) || consent.categories === 0) bad("categories is not a non-zero uint32 bitmask");
  if (!isUint(consent.validFrom, 40) || !isUint(consent.validUntil, 40) || consent.validUntil <= consent.validFrom) bad("validUntil is not after validFrom (uint40 seconds)");
  if (!isUint(consent.epoch, 32)) bad("epoch is not a uint32");
  if (typeof consent.salt !== "string" || !/^0x[0-9a-f]{64}$/.test(consent.salt) || /^0x0{64}$/.test(consent.salt)) bad("salt is not 32 non-zero bytes in lower-case hex");
}

export type SignPrivateConsentParameters = {
  /** An ethers Signer (Wallet or BrowserProvider signer) of the patient. */
  signer: { getAddress(): Promise<string>; signTypedData(domain: TypedDataDomain, types: typeof PRIVATE_CONSENT_TYPES, value: PrivateConsent): Promise<string> };
  /** The patient's root secret (the signing key), for the revocation secret. */
  patientSecret: Uint8Array;
  chainId: number;
  consentManager: string;
  consent: Omit<PrivateConsent, "salt" | "patient"> & { salt?: string };
};

/**
 * The patient's side: signs the consent and returns the grant to hand over, the commitment to
 * publish (grantConsentPrivate, through a relayer) and the revocation secret (derivable again
 * from the patient's secret and the salt).
 */
export async function signPrivateConsent(parameters: SignPrivateConsentParameters): Promise<{ grant: ParsedPrivateConsentGrant; revocationSecret: string }> {
  const patient = getAddress(await parameters.signer.getAddress());
  const opening: PrivateConsent = { ...parameters.consent, patient, grantee: getAddress(parameters.consent.grantee), salt: parameters.consent.salt ?? newConsentSalt() };
  validatePrivateConsent(opening);
  const signature = await parameters.signer.signTypedData(privateConsentDomain(parameters.chainId, parameters.consentManager), PRIVATE_CONSENT_TYPES, opening);
  const revocationSecret = deriveRevocationSecret(parameters.patientSecret, opening.salt);
  const revocationHash = revocationHashOf(revocationSecret);
  const consentHash = privateConsentHash(opening);
  const grant = { chainId: parameters.chainId, consentManager: getAddress(parameters.consentManager), opening, revocationHash, signature, consentHash, commitment: privateCommitment(consentHash, revocationHash) };
  return { grant, revocationSecret };
}

/** The grant as JSON text (groupId as a decimal string). */
export function serializePrivateConsentGrant(grant: PrivateConsentGrant): string {
  const { opening } = grant;
  return JSON.stringify({
    v: 1, chainId: grant.chainId, consentManager: grant.consentManager,
    opening: { ...opening, groupId: opening.groupId.toString() },
    revocationHash: grant.revocationHash, signature: grant.signature,
  });
}

/** For the `x-medcipher-private-consent` header. */
export function encodePrivateConsentHeader(grant: PrivateConsentGrant): string {
  return bytesToBase64Url(utf8ToBytes(serializePrivateConsentGrant(grant)));
}

export function decodePrivateConsentHeader(header: string): ParsedPrivateConsentGrant {
  let text: string;
  try {
    text = bytesToUtf8(base64UrlToBytes(header));
  } catch {
    throw new PrivateConsentError("PRIVATE_CONSENT_MALFORMED", "The private consent header is not base64url UTF-8.");
  }
  return parsePrivateConsentGrant(text);
}

const GRANT_KEYS = ["v", "chainId", "consentManager", "opening", "revocationHash", "signature"];
const OPENING_KEYS = PRIVATE_CONSENT_TYPES.PrivateConsent.map((field) => field.name);

/**
 * Parses and checks a grant: exact keys, valid fields, a canonical (low-s, 65-byte) signature that
 * recovers to `opening.patient`. Whether it is published, unrevoked, in period and at the
 * patient's epoch is the chain's answer (privateConsentAllows).
 */
export function parsePrivateConsentGrant(text: string): ParsedPrivateConsentGrant {
  const bad = (reason: string): never => { throw new PrivateConsentError("PRIVATE_CONSENT_MALFORMED", `Malformed private consent grant: ${reason}.`); };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return bad("not JSON");
  }
  const top = exactKeys(json, GRANT_KEYS) ?? bad(`keys are not ${GRANT_KEYS.join(",")}`);
  if (top.v !== 1) bad("unknown version");
  if (!isUint(top.chainId, 53) || top.chainId === 0) bad("chainId");
  if (!isAddress(top.consentManager)) bad("consentManager is not a checksummed address");
  if (typeof top.revocationHash !== "string" || !/^0x[0-9a-f]{64}$/.test(top.revocationHash)) bad("revocationHash is not 32 bytes of lower-case hex");
  if (typeof top.signature !== "string" || !/^0x[0-9a-f]{130}$/.test(top.signature)) bad("signature is not 65 bytes of lower-case hex");
  const raw = exactKeys(top.opening, OPENING_KEYS) ?? bad(`opening keys are not ${OPENING_KEYS.join(",")}`);
  if (typeof raw.groupId !== "string" || !/^(0|[1-9][0-9]{0,77})$/.test(raw.groupId)) bad("groupId is not a decimal string");
  const opening = { ...raw, groupId: BigInt(raw.groupId as string) } as PrivateConsent;
  validatePrivateConsent(opening);
  const grant: PrivateConsentGrant = { chainId: top.chainId as number, consentManager: top.consentManager as string, opening, revocationHash: top.revocationHash as string, signature: top.signature as string };
  checkPatientSignature(grant);
  const consentHash = privateConsentHash(opening);
  return { ...grant, consentHash, commitment: privateCommitment(consentHash, grant.revocationHash) };
}

/** Throws PRIVATE_CONSENT_SIGNATURE unless the grant's signature is the patient's, canonical (low-s, as OpenZeppelin's ECDSA requires). */
export function checkPatientSignature(grant: PrivateConsentGrant): void {
  let recovered: string;
  try {
    const signature = Signature.from(grant.signature);
    if (signature.serialized !== grant.signature.toLowerCase()) throw new Error("not canonical");
    recovered = verifyTypedData(privateConsentDomain(grant.chainId, grant.consentManager), PRIVATE_CONSENT_TYPES, grant.opening, signature);
  } catch (error) {
    throw new PrivateConsentError("PRIVATE_CONSENT_SIGNATURE", "The private consent's signature is not a canonical ECDSA signature.", { reason: String((error as Error).message ?? error) });
  }
  if (recovered !== grant.opening.patient) {
    throw new PrivateConsentError("PRIVATE_CONSENT_SIGNATURE", "The private consent is not signed by its patient.", { recovered, patient: grant.opening.patient });
  }
}

function isAddress(value: unknown): value is string {
  if (typeof value !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(value)) return false;
  try {
    return getAddress(value) === value;
  } catch {
    return false;
  }
}

function isUint(value: unknown, bits: number): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 && value < 2 ** bits;
}

function exactKeys(value: unknown, keys: readonly string[]): Record<string, unknown> | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const actual = Object.keys(value).sort();
  const wanted = [...keys].sort();
  return actual.length === wanted.length && actual.every((key, i) => key === wanted[i]) ? (value as Record<string, unknown>) : undefined;
}
