/**
 * The runs the chain observer (observer.ts) is pointed at: several patients, clinicians, devices,
 * consents and prediction requests on a fresh embedded chain, once in today's public forms (the
 * control) and once in the private forms of issue 12. Each returns the deployment and the truth
 * (who really asked, who consented to whom), so a caller can check the observer's links.
 *
 * Key sets are real (SEAL, ckks-2048-v1): a keysHash on-chain is the SHA-256 of an actual
 * public-keys blob. Inputs are not encrypted and requests are not fulfilled: the observer reads
 * only the chain, where an input is a hash and a URI.
 */
import type { NetworkConnection } from "hardhat/types/network";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { Contract, Wallet, encodeBytes32String, hexlify, keccak256, randomBytes, type InterfaceAbi, type TransactionReceipt } from "ethers";

import { Group } from "@semaphore-protocol/group";
import { Identity } from "@semaphore-protocol/identity";
import { generateProof } from "@semaphore-protocol/proof";

import { sha256Hex } from "../../core/hash.js";
import { deployMedCipher, sponsorPatients, type MedCipherDeployment } from "../../deploy/local.js";
import { modelRegistration } from "../../deploy/models.js";
import { FheClient, loadModel } from "../../fhe/index.js";
import { consentManagerAbi, predictionRouterAbi, privacyGroupsAbi } from "../../protocol/abi/generated.js";
import { PRIVATE_CONSENT_TYPES } from "../../protocol/privateConsent.js";
import { Category, Purpose, categoryBit } from "../../protocol/codes.js";
import { BIND_DEVICE_TYPES, GRANT_CONSENT_TYPES, medCipherDomain } from "../../protocol/typedData.js";

export const PARAM_SET = "ckks-2048-v1";
const DAY = 86_400n;

export type WorldActors = {
  governance: HardhatEthersSigner;
  oracle: HardhatEthersSigner;
  vendor: HardhatEthersSigner;
  relayer: HardhatEthersSigner;
  patients: HardhatEthersSigner[];
  clinicians: HardhatEthersSigner[];
  devices: HardhatEthersSigner[];
  researchers: HardhatEthersSigner[];
};

/** What really happened, for checking the observer's links. */
export type WorldTruth = {
  /** Request id → the patient it is for. */
  requests: Map<string, string>;
  consents: { patient: string; grantee: string; commitment?: string }[];
  bindings: { device: string; patient: string }[];
  /** Researcher accesses proven off-chain (by eth_call, as the gateway does): they leave no chain trace. */
  groupAccesses: number;
};

export type World = {
  suite: MedCipherDeployment;
  actors: WorldActors;
  chainId: bigint;
  /** Contract name → address: the deployment's, plus Semaphore's when the private forms are there. */
  addresses: Record<string, string>;
  truth: WorldTruth;
};

export async function actorsOf(connection: NetworkConnection): Promise<WorldActors> {
  const s = await connection.ethers.getSigners();
  if (s.length < 16) throw new Error(`the privacy world needs 16 accounts, the network has ${s.length}`);
  return {
    governance: s[0]!,
    oracle: s[1]!,
    vendor: s[2]!,
    relayer: s[3]!,
    patients: s.slice(4, 8),
    clinicians: s.slice(8, 10),
    devices: s.slice(10, 13),
    researchers: s.slice(13, 16),
  };
}

/** Deploys the suite with the two shipped models, roles for the actors, and registers every patient with a real key set. */
export async function setUpWorld(connection: NetworkConnection): Promise<Omit<World, "truth">> {
  const actors = await actorsOf(connection);
  const suite = await deployMedCipher(connection, {
    governance: actors.governance,
    oracleSenders: [actors.oracle.address],
    roles: {
      providers: actors.clinicians.map((c) => c.address),
      researchers: actors.researchers.map((r) => r.address),
      deviceVendors: [actors.vendor.address],
    },
    models: [modelRegistration(loadModel("maternal-risk-v1")), modelRegistration(loadModel("heart-disease-lr-v1"))],
  });
  const { chainId } = await connection.ethers.provider.getNetwork();
  for (const patient of actors.patients) {
    const keys = await freshKeysHash();
    await (await suite.identity.connect(patient).registerPatient(keys, encodeBytes32String(PARAM_SET), `medcipher://blob/${keys.slice(2)}`, hexlify(randomBytes(32)))).wait();
  }
  await sponsorPatients(suite, actors.patients.map((p) => p.address));
  return { suite, actors, chainId, addresses: { ...suite.addresses } };
}

/** SHA-256 of a freshly generated key set's public-keys blob (what the chain sees of a key set). */
export async function freshKeysHash(): Promise<string> {
  const client = await FheClient.generate(PARAM_SET);
  try {
    return sha256Hex(client.evaluationKeys());
  } finally {
    client.dispose();
  }
}

const randomHash = () => hexlify(randomBytes(32));
const blobUri = (hash: string) => `medcipher://blob/${hash.slice(2)}`;

async function latest(connection: NetworkConnection): Promise<bigint> {
  return BigInt(await connection.networkHelpers.time.latest());
}

/** Vendor registers each device; device i is bound to patient i (device-signed, patient-sent). */
async function bindDevices(connection: NetworkConnection, world: Omit<World, "truth">, truth: WorldTruth): Promise<void> {
  const { suite, actors, chainId } = world;
  for (const [i, device] of actors.devices.entries()) {
    const patient = actors.patients[i]!;
    await (await suite.identity.connect(actors.vendor).registerDevice(device.address, randomHash())).wait();
    const now = await latest(connection);
    const expiresAt = now + 30n * DAY;
    const deadline = now + 600n;
    const nonce = (await suite.identity.deviceOf(device.address)).bindNonce;
    const domain = medCipherDomain("IdentityRegistry", chainId, suite.addresses.IdentityRegistry);
    const signature = await device.signTypedData(domain, BIND_DEVICE_TYPES, { device: device.address, patient: patient.address, expiresAt, nonce, deadline });
    await (await suite.identity.connect(patient).bindDevice(device.address, expiresAt, deadline, signature)).wait();
    truth.bindings.push({ device: device.address, patient: patient.address });
  }
}

/**
 * The control: today's public forms. 4 patients, 2 clinicians, 3 device bindings, 4 consents
 * (3 sent by the patient, 1 signed and relayed), 6 requests (4 by the patient, 2 by a clinician
 * with TREATDS consent).
 */
export async function playPublicForms(connection: NetworkConnection): Promise<World> {
  const world = await setUpWorld(connection);
  const { suite, actors, chainId } = world;
  const [p0, p1, p2, p3] = actors.patients as [HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner];
  const [c0, c1] = actors.clinicians as [HardhatEthersSigner, HardhatEthersSigner];
  const truth: WorldTruth = { requests: new Map(), consents: [], bindings: [], groupAccesses: 0 };
  await bindDevices(connection, world, truth);

  const scope = categoryBit(Category.PREDICTION) | categoryBit(Category.VITAL_SIGNS);
  const now = await latest(connection);
  const until = now + 30n * DAY;
  const direct = async (patient: HardhatEthersSigner, grantee: HardhatEthersSigner, purpose: number) => {
    await (await suite.consent.connect(patient).grantConsent(grantee.address, purpose, scope, 0, until)).wait();
    truth.consents.push({ patient: patient.address, grantee: grantee.address });
  };
  await direct(p0, c0, Purpose.TREATDS);
  await direct(p2, c1, Purpose.TREATDS);
  await direct(p3, c1, Purpose.TREAT);
  // p1 signs, the relayer sends.
  const terms = { patient: p1.address, grantee: c0.address, purpose: Purpose.TREATDS, categories: scope, validFrom: 0n, validUntil: until, deadline: now + 600n };
  const nonce = await suite.consent.nonces(p1.address);
  const signature = await p1.signTypedData(medCipherDomain("ConsentManager", chainId, suite.addresses.ConsentManager), GRANT_CONSENT_TYPES, { ...terms, nonce });
  await (
    await suite.consent.connect(actors.relayer).grantConsentBySig(terms.patient, terms.grantee, terms.purpose, terms.categories, terms.validFrom, terms.validUntil, terms.deadline, signature)
  ).wait();
  truth.consents.push({ patient: p1.address, grantee: c0.address });

  const request = async (from: HardhatEthersSigner, patient: HardhatEthersSigner, modelId: bigint) => {
    const inputHash = randomHash();
    const receipt = await (await suite.router.connect(from).requestPrediction(patient.address, modelId, inputHash, blobUri(inputHash))).wait();
    const log = receipt!.logs.map((l) => suite.router.interface.parseLog(l)).find((l) => l?.name === "PredictionRequested");
    truth.requests.set(String(log!.args.requestId).toLowerCase(), patient.address);
  };
  const [maternal, heart] = suite.modelIds as [bigint, bigint];
  await request(p0, p0, maternal);
  await request(p1, p1, heart);
  await request(p2, p2, maternal);
  await request(p3, p3, heart);
  await request(c0, p1, maternal);
  await request(c1, p2, heart);
  return { ...world, truth };
}

// ─── The private forms (issue 12), written against the interfaces ──────────────────────────────

export type SemaphoreProofArtifacts = { wasm: string; zkey: string };

/**
 * Mistakes a careless client could make, for the negative control (each must be linked):
 * patient 0 asks while alone in the patients' group; patient 1 encrypts under its registered key
 * set instead of a fresh one; patient 2 sends its private consent itself instead of by relayer.
 */
export type PrivateRunOptions = { careless?: boolean };

/**
 * The private forms: the same patients, clinicians and devices, but every patient joins the
 * patients' group; consents are commitments sent by the relayer (one to a researchers' group,
 * one revoked); every prediction request is anonymous (Semaphore proof, fresh key set, one-time
 * access key), sent by the relayer; researchers prove membership of their group off-chain.
 * Device bindings stay public (the design says why).
 */
export async function playPrivateForms(
  connection: NetworkConnection,
  artifacts: SemaphoreProofArtifacts,
  options: PrivateRunOptions = {},
): Promise<World> {
  const world = await setUpWorld(connection);
  const { suite, actors, chainId } = world;
  if (!world.addresses.PrivacyGroups) throw new Error("deployMedCipher() returned no PrivacyGroups address: the private forms are not deployed");
  const groups = new Contract(world.addresses.PrivacyGroups!, privacyGroupsAbi as InterfaceAbi, actors.governance);
  const router = new Contract(suite.addresses.PredictionRouter, predictionRouterAbi as InterfaceAbi, actors.relayer);
  const consent = new Contract(suite.addresses.ConsentManager, consentManagerAbi as InterfaceAbi, actors.relayer);
  world.addresses.Semaphore = String(await groups.getFunction("semaphore")());
  const truth: WorldTruth = { requests: new Map(), consents: [], bindings: [], groupAccesses: 0 };
  await bindDevices(connection, world, truth);

  const [maternal, heart] = suite.modelIds as [bigint, bigint];
  const epoch = BigInt(await router.getFunction("anonymousEpoch")());
  /** One anonymous request by patient `i` against `group`, sent by the relayer. */
  const ask = async (i: number, group: Group, modelId: bigint, slot: number, keysHash?: string) => {
    const inputHash = randomHash();
    const request = {
      modelId,
      epoch,
      slot,
      accessKey: Wallet.createRandom().address,
      inputHash,
      keysHash: keysHash ?? (await freshKeysHash()),
      inputUri: blobUri(inputHash),
    };
    const message = BigInt(await router.getFunction("anonymousMessage")(request));
    const proofScope = BigInt(await router.getFunction("anonymousScope")(epoch, slot));
    const proof = await generateProof(identities[i]!, group, message, proofScope, 20, artifacts);
    const requestId = String(await router.getFunction("anonymousRequestIdFor")(proof.nullifier)).toLowerCase();
    await (await router.getFunction("requestPredictionAnonymous")(request, proof)).wait();
    truth.requests.set(requestId, actors.patients[i]!.address);
  };

  // Every patient joins the patients' group (public: who is registered is public anyway).
  const identities = actors.patients.map(() => new Identity());
  for (const [i, patient] of actors.patients.entries()) {
    await (await groups.connect(patient).getFunction("joinPatientGroup")(identities[i]!.commitment)).wait();
    if (options.careless && i === 0) await ask(0, new Group([identities[0]!.commitment]), maternal, 3);
  }
  const patientGroup = new Group(identities.map((id) => id.commitment));

  // A researchers' group: its admin (researcher 0) creates it and adds the members.
  const researcherIds = actors.researchers.map(() => new Identity());
  const admin = actors.researchers[0]!;
  const created = (await (await groups.connect(admin).getFunction("createGroup")(randomHash())).wait()) as TransactionReceipt;
  const groupId = BigInt(created.logs.map((l) => groups.interface.parseLog(l)).find((l) => l?.name === "GroupCreated")!.args.groupId as bigint);
  await (await groups.connect(admin).getFunction("addMembers")(groupId, researcherIds.map((r) => r.commitment))).wait();
  const researcherGroup = new Group(researcherIds.map((r) => r.commitment));

  // Private consents, sent by the relayer: p0 → c0, p1 → c0, p2 → c1, p3 → the researchers' group; p1's is revoked.
  const now = await latest(connection);
  const scope = categoryBit(Category.PREDICTION) | categoryBit(Category.VITAL_SIGNS);
  const domain = medCipherDomain("ConsentManager", chainId, suite.addresses.ConsentManager);
  const grants: { patient: HardhatEthersSigner; grantee?: HardhatEthersSigner; groupId: bigint; purpose: number }[] = [
    { patient: actors.patients[0]!, grantee: actors.clinicians[0]!, groupId: 0n, purpose: Purpose.TREATDS },
    { patient: actors.patients[1]!, grantee: actors.clinicians[0]!, groupId: 0n, purpose: Purpose.TREATDS },
    { patient: actors.patients[2]!, grantee: actors.clinicians[1]!, groupId: 0n, purpose: Purpose.TREAT },
    { patient: actors.patients[3]!, groupId, purpose: Purpose.HRESCH },
  ];
  const revocable: { consentHash: string; secret: string }[] = [];
  for (const grant of grants) {
    const opening = {
      patient: grant.patient.address,
      grantee: grant.grantee?.address ?? "0x0000000000000000000000000000000000000000",
      groupId: grant.groupId,
      purpose: grant.purpose,
      categories: scope,
      validFrom: now,
      validUntil: now + 30n * DAY,
      epoch: BigInt(await consent.getFunction("epochOf")(grant.patient.address)),
      salt: randomHash(),
    };
    // The patient signs the opening (it goes to the grantee off-chain, never to the chain).
    await grant.patient.signTypedData(domain, PRIVATE_CONSENT_TYPES, opening);
    const secret = randomHash();
    const consentHash = String(await consent.getFunction("privateConsentHash")(opening));
    const revocationHash = keccak256(secret); // keccak256(abi.encode(bytes32)) = keccak256 of the word
    const commitment = String(await consent.getFunction("privateCommitment")(consentHash, revocationHash));
    const sender = options.careless && grant.patient === actors.patients[2] ? consent.connect(grant.patient) : consent;
    await (await sender.getFunction("grantConsentPrivate")(commitment)).wait();
    truth.consents.push({ patient: grant.patient.address, grantee: grant.grantee?.address ?? `group ${groupId}`, commitment });
    revocable.push({ consentHash, secret });
  }
  await (await consent.getFunction("revokeConsentPrivate")(revocable[1]!.consentHash, revocable[1]!.secret)).wait();

  // Anonymous requests: every patient one, patient 0 a second (another slot), all sent by the relayer.
  await ask(0, patientGroup, maternal, 0);
  const registered = options.careless ? String((await suite.identity.keySetOf(actors.patients[1]!.address))[0]) : undefined;
  await ask(1, patientGroup, heart, 0, registered);
  await ask(2, patientGroup, maternal, 0);
  await ask(3, patientGroup, heart, 0);
  await ask(0, patientGroup, heart, 1);

  // Researchers' accesses: a membership proof the gateway checks by eth_call (no transaction).
  for (const researcher of researcherIds) {
    const accessScope = BigInt(randomHash()) >> 8n;
    const proof = await generateProof(researcher, researcherGroup, BigInt(randomHash()) >> 8n, accessScope, 20, artifacts);
    if (await groups.getFunction("verifyMembership")(groupId, proof)) truth.groupAccesses++;
  }
  return { ...world, truth };
}

/**
 * Ends snarkjs's BN254 worker threads (it keeps them on `globalThis.curve_bn128` after a proof),
 * without which a process that proved never exits.
 */
export async function releaseProver(): Promise<void> {
  const curve = (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128;
  if (curve) await curve.terminate();
}
