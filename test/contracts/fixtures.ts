/**
 * Shared set-up for the contract tests: the whole suite deployed through Ignition on a fresh EDR
 * chain, named accounts, and helpers that sign exactly what the contracts verify.
 */
import type { NetworkConnection } from "hardhat/types/network";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { hexlify, randomBytes, Signature } from "ethers";

import type { OracleQuorum, PredictionRouter } from "../../types/ethers-contracts/index.js";
import { deployMedCipher, OutputKind, sponsorPatients, type MedCipherDeployment } from "../../deploy/local.js";
import { attachOracleQuorum } from "../../deploy/quorum.js";
import { Category, Purpose, categoryBit } from "../../protocol/codes.js";
import {
  ANCHOR_RECORD_TYPES,
  BIND_DEVICE_TYPES,
  GRANT_CONSENT_TYPES,
  REVOKE_CONSENT_TYPES,
  medCipherDomain,
} from "../../protocol/typedData.js";

export { Category, Purpose, categoryBit };

export const PARAM_SET = "0x" + "11".repeat(32);
export const OTHER_PARAM_SET = "0x" + "22".repeat(32);
export const DAY = 86_400n;

/** A fresh random 32-byte value (a blob hash, salt, record id ...). */
export function randomHash(): string {
  return hexlify(randomBytes(32));
}

/** A content-addressed storage URI, the only kind of URI the suite ever puts on chain. */
export function blobUri(hash: string): string {
  return `medcipher://blob/${hash}`;
}

export type Actors = {
  governance: HardhatEthersSigner;
  oracle: HardhatEthersSigner;
  patient: HardhatEthersSigner;
  otherPatient: HardhatEthersSigner;
  provider: HardhatEthersSigner;
  researcher: HardhatEthersSigner;
  vendor: HardhatEthersSigner;
  device: HardhatEthersSigner;
  otherDevice: HardhatEthersSigner;
  relayer: HardhatEthersSigner;
  gateway: HardhatEthersSigner;
  stranger: HardhatEthersSigner;
};

export type Suite = MedCipherDeployment & { actors: Actors; chainId: bigint };

export const DEMO_MODEL = {
  name: "diabetes-logreg",
  version: "1.0.0",
  weightsHash: "0x" + "aa".repeat(32),
  weightsUri: "medcipher://models/diabetes-logreg-1.0.0",
  paramSetId: PARAM_SET,
  encodingSpecHash: "0x" + "bb".repeat(32),
  outputKind: OutputKind.Sigmoid,
  isPrivate: false,
};

/** Deploys the suite with roles admitted and one model registered (id 1). */
export async function deploySuite(connection: NetworkConnection, onChainResults = true): Promise<Suite> {
  const signers = await connection.ethers.getSigners();
  const names = [
    "governance", "oracle", "patient", "otherPatient", "provider", "researcher",
    "vendor", "device", "otherDevice", "relayer", "gateway", "stranger",
  ] as const;
  const actors = Object.fromEntries(
    names.map((name, i) => {
      const signer = signers[i];
      if (!signer) throw new Error(`missing account ${i}`);
      return [name, signer];
    }),
  ) as Actors;
  const suite = await deployMedCipher(connection, {
    governance: actors.governance,
    oracleSenders: [actors.oracle.address],
    onChainResults,
    roles: {
      providers: [actors.provider.address],
      researchers: [actors.researcher.address],
      deviceVendors: [actors.vendor.address],
      gateways: [actors.gateway.address],
    },
    models: [DEMO_MODEL],
  });
  const { chainId } = await connection.ethers.provider.getNetwork();
  return { ...suite, actors, chainId };
}

export async function latest(connection: NetworkConnection): Promise<bigint> {
  return BigInt(await connection.networkHelpers.time.latest());
}

/** Registers `patient` and gives it governance's default sponsor budget for predictions. */
export async function registerPatient(suite: Suite, patient: HardhatEthersSigner, paramSetId = PARAM_SET) {
  const keysHash = randomHash();
  await (await suite.identity.connect(patient).registerPatient(keysHash, paramSetId, blobUri(keysHash), randomHash())).wait();
  await sponsorPatients(suite, [patient.address]);
  return keysHash;
}

/** The device signs BindDevice for `patient`; returns what bindDevice needs. */
export async function signBind(
  suite: Suite,
  device: HardhatEthersSigner,
  patient: string,
  expiresAt: bigint,
  deadline: bigint,
  /** The device address named in the message, when `device` signs for another one. */
  claimed = device.address,
) {
  const nonce = (await suite.identity.deviceOf(claimed)).bindNonce;
  const domain = medCipherDomain("IdentityRegistry", suite.chainId, suite.addresses.IdentityRegistry);
  return device.signTypedData(domain, BIND_DEVICE_TYPES, { device: claimed, patient, expiresAt, nonce, deadline });
}

/** Registers (if needed) and binds `device` to `patient` for `days`. */
export async function bindDevice(
  connection: NetworkConnection,
  suite: Suite,
  device: HardhatEthersSigner,
  patient: HardhatEthersSigner,
  days = 30n,
) {
  if ((await suite.identity.deviceOf(device.address)).vendor === "0x0000000000000000000000000000000000000000") {
    await (await suite.identity.connect(suite.actors.vendor).registerDevice(device.address, randomHash())).wait();
  }
  const now = await latest(connection);
  const expiresAt = now + days * DAY;
  const signature = await signBind(suite, device, patient.address, expiresAt, now + 600n);
  await (await suite.identity.connect(patient).bindDevice(device.address, expiresAt, now + 600n, signature)).wait();
  return expiresAt;
}

export type GrantTerms = {
  patient: string;
  grantee: string;
  purpose: number;
  categories: number;
  validFrom: bigint;
  validUntil: bigint;
  deadline: bigint;
};

export async function signGrant(
  suite: Suite,
  signer: HardhatEthersSigner,
  terms: GrantTerms,
  overrides: { chainId?: bigint; verifyingContract?: string; nonce?: bigint } = {},
): Promise<string> {
  const domain = medCipherDomain(
    "ConsentManager",
    overrides.chainId ?? suite.chainId,
    overrides.verifyingContract ?? suite.addresses.ConsentManager,
  );
  const nonce = overrides.nonce ?? (await suite.consent.nonces(terms.patient));
  return signer.signTypedData(domain, GRANT_CONSENT_TYPES, { ...terms, nonce });
}

export type RevokeTerms = { patient: string; grantee: string; purpose: number; deadline: bigint; nonce?: bigint };

/** Signs a revocation at `terms.nonce`, by default `nonces(patient)` as read now; returns both. */
export async function signRevoke(
  suite: Suite,
  signer: HardhatEthersSigner,
  terms: RevokeTerms,
): Promise<{ signature: string; nonce: bigint }> {
  const domain = medCipherDomain("ConsentManager", suite.chainId, suite.addresses.ConsentManager);
  const nonce = terms.nonce ?? (await suite.consent.nonces(terms.patient));
  const signature = await signer.signTypedData(domain, REVOKE_CONSENT_TYPES, { ...terms, nonce });
  return { signature, nonce };
}

/** Submits a signed revocation through `relayer`. */
export function submitRevoke(suite: Suite, relayer: HardhatEthersSigner, terms: RevokeTerms & { nonce: bigint }, signature: string) {
  return suite.consent
    .connect(relayer)
    .revokeConsentBySig(terms.patient, terms.grantee, terms.purpose, terms.nonce, terms.deadline, signature);
}

export type AnchorTerms = {
  patient: string;
  recordId: string;
  category: number;
  uri: string;
  supersedes: string;
  deadline: bigint;
};

export async function signAnchor(
  suite: Suite,
  device: HardhatEthersSigner,
  terms: AnchorTerms,
  overrides: { chainId?: bigint; verifyingContract?: string } = {},
): Promise<string> {
  const domain = medCipherDomain(
    "RecordRegistry",
    overrides.chainId ?? suite.chainId,
    overrides.verifyingContract ?? suite.addresses.RecordRegistry,
  );
  return device.signTypedData(domain, ANCHOR_RECORD_TYPES, terms);
}

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** Malleated and malformed variants of a valid 65-byte signature. */
export function signatureVariants(signature: string) {
  const sig = Signature.from(signature);
  const r = sig.r;
  const s = BigInt(sig.s);
  const highS = "0x" + (SECP256K1_N - s).toString(16).padStart(64, "0");
  const flippedV = sig.v === 27 ? 28 : 27;
  const vByte = (v: number) => v.toString(16).padStart(2, "0");
  return {
    /** Same point, s' = n - s, v flipped: ecrecover yields the same signer; must be rejected. */
    highS: r + highS.slice(2) + vByte(flippedV),
    /** v flipped only: recovers some other address. */
    flippedV: r + sig.s.slice(2) + vByte(flippedV),
    /** v outside {27, 28}. */
    badV: r + sig.s.slice(2) + vByte(29),
    /** EIP-2098 compact form (64 bytes). */
    compact: sig.compactSerialized,
    /** Truncated. */
    short: signature.slice(0, 2 + 2 * 64),
    /** Random bytes of the right length. */
    garbage: hexlify(randomBytes(65)),
    /** r = s = 0: ecrecover returns address(0). */
    zero: "0x" + "00".repeat(64) + "1b",
  };
}

export type QuorumSuite = Suite & { quorum: OracleQuorum; quorumRouter: PredictionRouter; operators: HardhatEthersSigner[] };

/**
 * The suite plus an OracleQuorum (k of n operators: signers 12 .. 12+n-1, each with ORACLE_ROLE)
 * and a second PredictionRouter that sends its requests there; the patient is registered and
 * sponsored on that router.
 */
export async function deployQuorumSuite(connection: NetworkConnection, n: number, k: number): Promise<QuorumSuite> {
  const suite = await deploySuite(connection, true);
  const { ethers } = connection;
  const signers = await ethers.getSigners();
  const operators = signers.slice(12, 12 + n);
  if (operators.length !== n) throw new Error(`need ${12 + n} accounts`);
  const { suite: attached, quorum } = await attachOracleQuorum(connection, suite, {
    k, operators: operators.map((op) => op.address), routerLink: 10n * 10n ** 18n, onChainResults: true,
  });
  const router = attached.router;
  const keysHash = randomHash();
  await (await suite.identity.connect(suite.actors.patient).registerPatient(keysHash, PARAM_SET, blobUri(keysHash), randomHash())).wait();
  await sponsorPatients({ router }, [suite.actors.patient.address]);
  return { ...suite, quorum, quorumRouter: router, operators };
}
