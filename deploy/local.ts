/**
 * Deploys the whole MedCipher suite on a Hardhat network connection (the embedded chain, a local
 * `hardhat node`) through the same Ignition module a real deployment uses, then applies the
 * development conveniences: roles, oracle senders, LINK for the router and model registrations.
 * Every prediction request needs a sponsor: give patients a budget with `sponsorPatients` (or let
 * requesters deposit LINK with `LinkToken.transferAndCall(router, amount, "0x")`).
 *
 * @example
 * const connection = await network.create();
 * const suite = await deployMedCipher(connection, { oracleSenders: [oracle.address] });
 * await suite.identity.connect(patient).registerPatient(keysHash, paramSetId, uri, x25519);
 * await sponsorPatients(suite, [patient.address]);
 */
import type { NetworkConnection } from "hardhat/types/network";
import type { Signer } from "ethers";

import type { MedCipherAddresses as SdkAddresses } from "../protocol/contracts.js";
import type {
  AuditLogAnchor,
  ConsentManager,
  IdentityRegistry,
  LinkToken,
  ModelRegistry,
  Operator,
  PredictionRouter,
  OracleQuorum,
  PrivacyGroups,
  RecordRegistry,
  Semaphore,
} from "../types/ethers-contracts/index.js";
import { MedCipherLocalModule, MedCipherLocalQuorumModule } from "./modules/MedCipher.js";
import { DEFAULT_FEE, DEFAULT_JOB_ID } from "./modules/PredictionRouter.js";

export { DEFAULT_FEE, DEFAULT_JOB_ID };

/** Output decoding of a model, as `IModelRegistry.OutputKind`. */
export const OutputKind = { Identity: 0, Sigmoid: 1, Softmax: 2 } as const;

/** One model to register right after deployment (`IModelRegistry.ModelSpec`). */
export type ModelRegistration = {
  name: string;
  version: string;
  /** 0x-prefixed SHA-256 of the weights artifact. */
  weightsHash: string;
  weightsUri: string;
  /** bytes32 CKKS parameter-set id. */
  paramSetId: string;
  /** 0x-prefixed SHA-256 of the input-encoding spec. */
  encodingSpecHash: string;
  outputKind: number;
  isPrivate: boolean;
};

/** Accounts to admit to each role (addresses). */
export type RoleGrants = {
  providers?: string[];
  researchers?: string[];
  oracles?: string[];
  deviceVendors?: string[];
  gateways?: string[];
};

export type DeployMedCipherOptions = {
  /** Governance (the IdentityRegistry's default admin) and deployer; default: the first signer. */
  governance?: Signer;
  /** Delay of a default-admin transfer, seconds (default 0). */
  adminDelaySeconds?: number;
  /** Accounts authorised on the Operator to fulfil; they also get ORACLE_ROLE (default: the second signer). */
  oracleSenders?: string[];
  /** LINK per request in juels (default 0.1 LINK). */
  fee?: bigint;
  /** Chainlink job id (default keccak256("medcipher-predict-v1")). */
  jobId?: string;
  /** LINK moved from the deployer to the router (default 100 LINK). */
  routerLink?: bigint;
  /** Allow fulfilments to post the result ciphertext in calldata (default false). */
  onChainResults?: boolean;
  /** Role holders to admit after deployment. */
  roles?: RoleGrants;
  /** Models to register after deployment, in order (ids 1, 2, ...). */
  models?: ModelRegistration[];
  /** Accounts given a sponsor budget of `sponsorBudget` right after deployment (see `sponsorPatients`). */
  sponsoredPatients?: string[];
  /** Juels each sponsored patient may draw from the router's pool (default `DEFAULT_SPONSOR_BUDGET`). */
  sponsorBudget?: bigint;
  /** Caps on pending requests (default: the router's, 32 per patient and 128 per requester). */
  pendingCaps?: { perPatient: number; perRequester: number };
  /**
   * Deploy a k-of-n OracleQuorum in the Operator's place, the `oracleSenders` being its n
   * operators (default: the single Chainlink Operator).
   */
  quorum?: { k: number };
};

/** 10 LINK: 100 requests at the default fee. */
export const DEFAULT_SPONSOR_BUDGET = 10n * 10n ** 18n;

/** The SDK's addresses plus the Chainlink contracts the deployment brings (deployments/<chainId>.json names). */
/**
 * `Operator` is the oracle contract the router requests through: the Chainlink Operator, or in a
 * quorum deployment the OracleQuorum (a drop-in), which `OracleQuorum` then names as well.
 */
export type MedCipherAddresses = SdkAddresses & { LinkToken: string; Operator: string; OracleQuorum?: string };

export type MedCipherDeployment = {
  identity: IdentityRegistry;
  consent: ConsentManager;
  records: RecordRegistry;
  models: ModelRegistry;
  router: PredictionRouter;
  audit: AuditLogAnchor;
  groups: PrivacyGroups;
  semaphore: Semaphore;
  link: LinkToken;
  /** The router's oracle contract; in a quorum deployment the OracleQuorum, through its Operator surface. */
  operator: Operator;
  /** Only in a quorum deployment (`options.quorum`): the same contract as `operator`. */
  quorum?: OracleQuorum;
  addresses: MedCipherAddresses;
  /** Ids of `options.models`, in order. */
  modelIds: bigint[];
  governance: Signer;
};

/** Deploys the suite through Ignition (`MedCipherLocal`) and returns typed contracts. */
export async function deployMedCipher(
  connection: NetworkConnection,
  options: DeployMedCipherOptions = {},
): Promise<MedCipherDeployment> {
  const { ethers, ignition } = connection;
  const governance = options.governance ?? (await ethers.getSigners())[0]!;
  const governanceAddress = await governance.getAddress();
  const signers = await ethers.getSigners();
  const oracleSenders = options.oracleSenders ?? [await signers[1]!.getAddress()];
  if (oracleSenders.length === 0) throw new RangeError("the Operator needs at least one oracle sender");

  const router = {
    jobId: options.jobId ?? DEFAULT_JOB_ID,
    fee: options.fee ?? DEFAULT_FEE,
    onChainResults: options.onChainResults ?? false,
  };
  const identityParameters = { governance: governanceAddress, adminDelaySeconds: options.adminDelaySeconds ?? 0 };
  const routerLink = options.routerLink ?? 100n * 10n ** 18n;
  const deployed = options.quorum
    ? await ignition.deploy(MedCipherLocalQuorumModule, {
      defaultSender: governanceAddress,
      parameters: {
        IdentityRegistry: identityParameters,
        LocalOracleQuorum: { operators: oracleSenders, k: options.quorum.k },
        LocalQuorumPredictionRouter: router,
        MedCipherLocalQuorum: { routerLink },
      },
    })
    : await ignition.deploy(MedCipherLocalModule, {
      defaultSender: governanceAddress,
      parameters: {
        IdentityRegistry: identityParameters,
        LocalChainlink: { oracleSenders },
        LocalPredictionRouter: router,
        MedCipherLocal: { routerLink },
      },
    });

  const addresses = await addressesOf(deployed);
  const suite = {
    identity: await ethers.getContractAt("IdentityRegistry", addresses.IdentityRegistry, governance),
    consent: await ethers.getContractAt("ConsentManager", addresses.ConsentManager, governance),
    records: await ethers.getContractAt("RecordRegistry", addresses.RecordRegistry, governance),
    models: await ethers.getContractAt("ModelRegistry", addresses.ModelRegistry, governance),
    router: await ethers.getContractAt("PredictionRouter", addresses.PredictionRouter, governance),
    audit: await ethers.getContractAt("AuditLogAnchor", addresses.AuditLogAnchor, governance),
    groups: await ethers.getContractAt("PrivacyGroups", addresses.PrivacyGroups, governance),
    semaphore: await ethers.getContractAt("Semaphore", addresses.Semaphore, governance),
    link: await ethers.getContractAt("LinkToken", addresses.LinkToken, governance),
    operator: await ethers.getContractAt("Operator", addresses.Operator, governance),
    ...(addresses.OracleQuorum ? { quorum: await ethers.getContractAt("OracleQuorum", addresses.OracleQuorum, governance) } : {}),
  };

  const roles = options.roles ?? {};
  const grants: [string, string[] | undefined][] = [
    [await suite.identity.PROVIDER_ROLE(), roles.providers],
    [await suite.identity.RESEARCHER_ROLE(), roles.researchers],
    [await suite.identity.ORACLE_ROLE(), [...oracleSenders, ...(roles.oracles ?? [])]],
    [await suite.identity.DEVICE_VENDOR_ROLE(), roles.deviceVendors],
    [await suite.identity.GATEWAY_ROLE(), roles.gateways],
  ];
  for (const [role, accounts] of grants) {
    for (const account of accounts ?? []) await (await suite.identity.grantRole(role, account)).wait();
  }

  const modelIds: bigint[] = [];
  for (const model of options.models ?? []) {
    await (await suite.models.registerModel(model)).wait();
    modelIds.push(await suite.models.modelIdOf(model.name, model.version));
  }
  if (options.pendingCaps) {
    await (await suite.router.setPendingCaps(options.pendingCaps.perPatient, options.pendingCaps.perRequester)).wait();
  }
  const deployment = { ...suite, addresses, modelIds, governance };
  if (options.sponsoredPatients?.length) await sponsorPatients(deployment, options.sponsoredPatients, options.sponsorBudget);
  return deployment;
}

/**
 * Governance grants each patient (registered or not yet) a sponsor budget of `budget` juels,
 * drawn from the router's pool by requests for that patient: the development stand-in for a
 * clinic's sponsorship programme. One transaction.
 *
 * @example
 * await sponsorPatients(suite, [alice.address, bob.address]);
 */
export async function sponsorPatients(
  suite: Pick<MedCipherDeployment, "router">,
  patients: string[],
  budget: bigint = DEFAULT_SPONSOR_BUDGET,
): Promise<void> {
  await (await suite.router.sponsorPatients(patients, budget)).wait();
}

type Addressable = { getAddress(): Promise<string> };
/** What the MedCipher Ignition modules return: one contract per deployable. */
export type DeployedSuite = Record<"identity" | "consent" | "records" | "models" | "router" | "audit" | "groups" | "semaphore" | "link" | "operator", Addressable> & {
  /** Only the quorum modules (`MedCipherQuorum`, `MedCipherLocalQuorum`): the same contract as `operator`. */
  quorum?: Addressable;
};

/** The addresses of a suite deployed by any of the MedCipher Ignition modules (with the Operator or a quorum). */
export async function addressesOf(deployed: DeployedSuite): Promise<MedCipherAddresses> {
  return {
    IdentityRegistry: await deployed.identity.getAddress(),
    ConsentManager: await deployed.consent.getAddress(),
    RecordRegistry: await deployed.records.getAddress(),
    ModelRegistry: await deployed.models.getAddress(),
    PredictionRouter: await deployed.router.getAddress(),
    AuditLogAnchor: await deployed.audit.getAddress(),
    PrivacyGroups: await deployed.groups.getAddress(),
    Semaphore: await deployed.semaphore.getAddress(),
    LinkToken: await deployed.link.getAddress(),
    Operator: await deployed.operator.getAddress(),
    ...(deployed.quorum ? { OracleQuorum: await deployed.quorum.getAddress() } : {}),
  };
}
