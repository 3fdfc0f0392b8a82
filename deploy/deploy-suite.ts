/**
 * Deploys the suite through Ignition on any network connection and leaves a working system:
 * the contracts (Ignition), then the oracle admitted through the router, role holders, the
 * router's LINK pool topped up, patients sponsored and the repository's models registered, then
 * `deployments/<chainId>.json` with addresses, ABIs and the deployment block. Every step is
 * printed and checks the chain first, so a re-run is a no-op that succeeds.
 *
 * Development chains (chain id 31337) get their own LinkToken and Operator (MedCipherLocal);
 * other networks use the existing LINK token and deploy our Operator (MedCipher). A parameters
 * file with a `LocalOracleQuorum` (development) or `OracleQuorum` (public) section deploys a k-of-n
 * OracleQuorum in the Operator's place instead (MedCipherLocalQuorum / MedCipherQuorum); the
 * router and suite sections of the file apply to it unchanged. Used by scripts/deploy.ts
 * (`npm run deploy -- --network <name>`).
 *
 * Ignition journals a deployment under `deploy/deployments/<deploymentId>/`. The id names the
 * chain by id AND genesis block hash (`chain-31337-4e9de78b`): a restarted `hardhat node` has the
 * same chain id but a new genesis (measured: two starts, two hashes), so it gets a journal of its
 * own instead of Ignition "continuing" a deployment whose contracts are gone.
 */
import { existsSync } from "node:fs";
import { readFile, rename } from "node:fs/promises";
import path from "node:path";

import type { NetworkConnection } from "hardhat/types/network";
import { getAddress } from "ethers";

import type { DeploymentParameters } from "@nomicfoundation/ignition-core";

import type { IdentityRegistry, LinkToken, ModelRegistry, Operator, PredictionRouter } from "../types/ethers-contracts/index.js";
import { BaseError } from "../core/errors.js";
import { MODEL_IDS } from "../fhe/model.js";
import { loadModel } from "../fhe/modelFile.js";
import { writeDeploymentFile, type AbiReader } from "./deployment-file.js";
import { addressesOf, DEFAULT_SPONSOR_BUDGET, type MedCipherAddresses } from "./local.js";
import { modelRegistration } from "./models.js";
import MedCipherModule, { MedCipherLocalModule, MedCipherLocalQuorumModule, MedCipherQuorumModule } from "./modules/MedCipher.js";
import { DEV_ORACLE_SENDER } from "./modules/LocalChainlink.js";

/** The key of a parameters file that is not an Ignition module: what the deploy does after Ignition. */
export const SETUP_KEY = "MedCipherDeploy";

/** What the deploy sets up after the contracts exist (parameters file key `MedCipherDeploy`, or flags). */
export type DeploySetup = {
  /** Oracle sending accounts: ORACLE_ROLE + `router.authoriseOracle`. Default on a development chain: account #1. */
  oracles?: string[];
  gateways?: string[];
  deviceVendors?: string[];
  providers?: string[];
  researchers?: string[];
  /** The router's LINK pool is topped up to this many juels (minted on a development chain, transferred from the deployer elsewhere). */
  routerLink?: bigint;
  /** Patients (registered or not yet) given a sponsor budget when they have none. */
  sponsoredPatients?: string[];
  /** Juels per sponsored patient (default 10 LINK). */
  sponsorBudget?: bigint;
};

export type DeploySuiteOptions = {
  /** Where `<chainId>.json` is written. */
  directory: string;
  readArtifact: AbiReader;
  /** Folder of `<network>.json` parameter files (default deploy/parameters); ignored when `parametersFile` is given. */
  parametersDirectory?: string;
  /** An explicit parameters file (`--parameters FILE`). */
  parametersFile?: string;
  /** Ignition's deployments folder (default deploy/deployments: `paths.ignition` of hardhat.config.ts). */
  journalRoot?: string;
  /** Set the journal of this chain aside and deploy a new suite (`--reset`). */
  reset?: boolean;
  /** Merged over the parameters file's `MedCipherDeploy` section (lists are joined). */
  setup?: DeploySetup;
  /** One line per step (default: nothing). */
  log?: (line: string) => void;
  /** Ignition's own progress display (batches and transactions). */
  displayUi?: boolean;
};

export type DeploySuiteResult = {
  chainId: bigint;
  module: "MedCipher" | "MedCipherLocal" | "MedCipherQuorum" | "MedCipherLocalQuorum";
  parametersFile?: string;
  addresses: MedCipherAddresses;
  deploymentFile: string;
  /** Ignition's deployment id (`chain-<chainId>-<genesis hash prefix>`). */
  deploymentId: string;
  /** The block of the suite's first transaction: the oracle's START_BLOCK. */
  deploymentBlock: number;
  /** The repository's models by id, with their on-chain ids (registered now or earlier). */
  models: Record<string, number>;
  /** Transactions the setup sent (0 on a re-run that found everything in place). */
  setupTransactions: number;
};

/** Ignition refused to continue a journalled deployment (changed parameters or modules). */
export class DeploymentConflictError extends BaseError {
  override name = "DeploymentConflictError";
  constructor(deploymentId: string, journal: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message.replace(/^(HHE\d+: )?Hardhat Ignition deployment error: /, "").trim() : String(cause);
    super(
      `The parameters or modules differ from the journalled deployment ${deploymentId} (${journal}). ` +
        `Restore them to continue that deployment, or run again with --reset to deploy a new suite on this chain. Ignition said: ${reason}`,
      { code: "DEPLOY_CONFLICT", details: { deploymentId, journal }, cause },
    );
  }
}

/** A parameters file that cannot be used. */
export class DeployParametersError extends BaseError {
  override name = "DeployParametersError";
  constructor(file: string, problem: string) {
    super(`Parameters file ${file}: ${problem}`, { code: "DEPLOY_PARAMETERS", details: { file } });
  }
}

export async function deploySuiteAndWrite(connection: NetworkConnection, options: DeploySuiteOptions): Promise<DeploySuiteResult> {
  const log = options.log ?? (() => undefined);
  const { ethers, ignition, networkName } = connection;
  const { chainId } = await ethers.provider.getNetwork();
  const local = chainId === 31337n;
  const genesis = await ethers.provider.getBlock(0);
  if (!genesis?.hash) throw new Error(`the chain at ${networkName} returned no genesis block`);
  const deploymentId = `chain-${chainId}-${genesis.hash.slice(2, 10)}`;
  const journal = path.resolve(options.journalRoot ?? path.join("deploy", "deployments"), deploymentId);
  log(`chain ${chainId} (${networkName}), genesis ${genesis.hash.slice(0, 10)}…: Ignition deployment ${deploymentId}`);

  const parametersFile = options.parametersFile ? path.resolve(options.parametersFile) : defaultParameters(options.parametersDirectory, networkName);
  const { ignitionParameters, setup: fileSetup } = parametersFile ? await readParameters(parametersFile) : { ignitionParameters: {}, setup: {} };
  log(parametersFile ? `parameters: ${path.relative(process.cwd(), parametersFile)}` : "parameters: module defaults");

  if (options.reset && existsSync(journal)) await setJournalAside(journal, "--reset", log);
  else if (await journalIsStale(connection, journal)) await setJournalAside(journal, "its contracts have no code on this chain", log);

  const firstRun = !existsSync(journal);
  log(firstRun ? "deploying the contracts (Ignition; ~25 transactions)…" : "checking the journalled deployment (Ignition)…");
  const started = Date.now();
  const headBefore = await ethers.provider.getBlockNumber();
  const quorum = (local ? "LocalOracleQuorum" : "OracleQuorum") in ignitionParameters;
  const module = quorum ? (local ? "MedCipherLocalQuorum" : "MedCipherQuorum") : local ? "MedCipherLocal" : "MedCipher";
  if (quorum) log(`oracle: a k-of-n OracleQuorum in the Operator's place (${module})`);
  const deployOptions = { parameters: quorum ? quorumParameters(ignitionParameters, local) : ignitionParameters, deploymentId, displayUi: options.displayUi ?? false };
  let deployed;
  try {
    if (module === "MedCipherLocalQuorum") deployed = await ignition.deploy(MedCipherLocalQuorumModule, deployOptions);
    else if (module === "MedCipherQuorum") deployed = await ignition.deploy(MedCipherQuorumModule, deployOptions);
    else if (module === "MedCipherLocal") deployed = await ignition.deploy(MedCipherLocalModule, deployOptions);
    else deployed = await ignition.deploy(MedCipherModule, deployOptions);
  } catch (error) {
    if (!firstRun && isReconciliationFailure(error)) throw new DeploymentConflictError(deploymentId, journal, error);
    throw error;
  }
  const addresses = await addressesOf(deployed);
  log(`contracts ${firstRun ? "deployed" : "in place"} (${((Date.now() - started) / 1000).toFixed(1)} s); router ${addresses.PredictionRouter}`);

  const setup = mergeSetup(fileSetup, options.setup ?? {});
  const localSenders = quorum ? ignitionParameters.LocalOracleQuorum?.operators : ignitionParameters.LocalChainlink?.oracleSenders;
  if (local && setup.oracles.length === 0) setup.oracles.push(...((localSenders as string[] | undefined) ?? [DEV_ORACLE_SENDER]));
  const setupTransactions = await applySetup(connection, addresses, setup, local, log);
  const { ids: models, sent: modelTransactions } = await registerRepositoryModels(connection, addresses.ModelRegistry, log);

  // The embedded chain keeps no journal on disk (Ignition journals it in memory): its suite was
  // deployed after the head seen before.
  const deploymentBlock = existsSync(path.join(journal, "journal.jsonl")) ? await firstJournalledBlock(journal) : headBefore + 1;
  const deploymentFile = await writeDeploymentFile(options.directory, chainId, addresses, options.readArtifact, { deploymentBlock, deploymentId, genesisHash: genesis.hash });
  log(`wrote ${deploymentFile} (deployment block ${deploymentBlock})`);
  return { chainId, module, parametersFile, addresses, deploymentFile, deploymentId, deploymentBlock, models, setupTransactions: setupTransactions.count + modelTransactions };
}

function defaultParameters(directory: string | undefined, networkName: string): string | undefined {
  // The embedded chain's connection is named "default"; it shares the "hardhat" parameters.
  const candidate = path.resolve(directory ?? path.join("deploy", "parameters"), `${networkName === "default" ? "hardhat" : networkName}.json`);
  return existsSync(candidate) ? candidate : undefined;
}

type Parameters = DeploymentParameters;

/**
 * The quorum suite's modules have ids of their own; the file's router and suite sections
 * (`LocalPredictionRouter`, `MedCipherLocal`, or the public ones) apply to them as written.
 */
function quorumParameters(parameters: Parameters, local: boolean): Parameters {
  const renamed: [string, string][] = local
    ? [["LocalPredictionRouter", "LocalQuorumPredictionRouter"], ["MedCipherLocal", "MedCipherLocalQuorum"]]
    : [["PredictionRouter", "QuorumPredictionRouter"], ["MedCipher", "MedCipherQuorum"]];
  const result: Parameters = { ...parameters };
  for (const [from, to] of renamed) {
    const section = parameters[from];
    if (section && !(to in result)) result[to] = section;
  }
  // The public quorum uses the LINK token the Chainlink section names, unless it names its own.
  const publicQuorum = result.OracleQuorum;
  const linkToken = parameters.Chainlink?.linkToken;
  if (!local && publicQuorum && !("linkToken" in publicQuorum) && linkToken !== undefined) result.OracleQuorum = { ...publicQuorum, linkToken };
  return result;
}

/** Ignition's parameter file convention: a string "123n" is a bigint. */
function revive(value: unknown): unknown {
  if (typeof value === "string" && /^\d+n$/.test(value)) return BigInt(value.slice(0, -1));
  if (Array.isArray(value)) return value.map(revive);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revive(v)]));
  return value;
}

async function readParameters(file: string): Promise<{ ignitionParameters: Parameters; setup: DeploySetup }> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new DeployParametersError(file, `cannot be read as JSON (${(error as Error).message})`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new DeployParametersError(file, "must be a JSON object keyed by module id");
  const { [SETUP_KEY]: setup = {}, ...modules } = revive(parsed) as Parameters;
  return { ignitionParameters: modules, setup: setup as DeploySetup };
}

type FullSetup = Required<Omit<DeploySetup, "routerLink">> & { routerLink?: bigint };

function mergeSetup(file: DeploySetup, flags: DeploySetup): FullSetup {
  const join = (a?: string[], b?: string[]) => [...new Set([...(a ?? []), ...(b ?? [])].map((x) => getAddress(x)))];
  return {
    oracles: join(file.oracles, flags.oracles),
    gateways: join(file.gateways, flags.gateways),
    deviceVendors: join(file.deviceVendors, flags.deviceVendors),
    providers: join(file.providers, flags.providers),
    researchers: join(file.researchers, flags.researchers),
    sponsoredPatients: join(file.sponsoredPatients, flags.sponsoredPatients),
    routerLink: flags.routerLink ?? (file.routerLink === undefined ? undefined : BigInt(file.routerLink)),
    sponsorBudget: flags.sponsorBudget ?? (file.sponsorBudget === undefined ? DEFAULT_SPONSOR_BUDGET : BigInt(file.sponsorBudget)),
  };
}

/** A journal whose deployed contracts have no code here: the chain was reset under the same genesis. */
async function journalIsStale(connection: NetworkConnection, journal: string): Promise<boolean> {
  const file = path.join(journal, "deployed_addresses.json");
  if (!existsSync(file)) return false;
  const addresses = Object.values(JSON.parse(await readFile(file, "utf8")) as Record<string, string>);
  for (const address of addresses) if ((await connection.ethers.provider.getCode(address)) === "0x") return true;
  return false;
}

async function setJournalAside(journal: string, why: string, log: (line: string) => void): Promise<void> {
  const aside = `${journal}.replaced-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  await rename(journal, aside);
  log(`journal set aside (${why}): ${aside}; deploying a new suite`);
}

/** Ignition's HHE10120 for a journal that no longer matches the modules or parameters. */
function isReconciliationFailure(error: unknown): boolean {
  const message = error instanceof Error ? error.message : "";
  return /reconcil/i.test(message);
}

/** The block of the journal's earliest confirmed transaction. */
async function firstJournalledBlock(journal: string): Promise<number> {
  const lines = (await readFile(path.join(journal, "journal.jsonl"), "utf8")).split("\n").filter(Boolean);
  let first = Number.POSITIVE_INFINITY;
  for (const line of lines) {
    const message = JSON.parse(line) as { type?: string; receipt?: { blockNumber?: number | string } };
    if (message.type === "TRANSACTION_CONFIRM" && message.receipt?.blockNumber !== undefined) first = Math.min(first, Number(message.receipt.blockNumber));
  }
  if (!Number.isFinite(first)) throw new Error(`the Ignition journal ${journal} has no confirmed transaction`);
  return first;
}

/**
 * Roles, oracles, LINK pool and sponsors, each checked on-chain before anything is sent. Returns
 * the number of transactions sent.
 */
async function applySetup(
  connection: NetworkConnection,
  addresses: MedCipherAddresses,
  setup: FullSetup,
  local: boolean,
  log: (line: string) => void,
): Promise<{ count: number }> {
  const { ethers } = connection;
  const identity: IdentityRegistry = await ethers.getContractAt("IdentityRegistry", addresses.IdentityRegistry);
  const router: PredictionRouter = await ethers.getContractAt("PredictionRouter", addresses.PredictionRouter);
  const operator: Operator = await ethers.getContractAt("Operator", addresses.Operator);
  const link: LinkToken = await ethers.getContractAt("LinkToken", addresses.LinkToken);
  let count = 0;
  const send = async (what: string, tx: Promise<{ wait(): Promise<unknown> }>) => {
    await (await tx).wait();
    count++;
    log(`  ${what}`);
  };

  const roles: [string, string, string[]][] = [
    ["GATEWAY_ROLE", await identity.GATEWAY_ROLE(), setup.gateways],
    ["DEVICE_VENDOR_ROLE", await identity.DEVICE_VENDOR_ROLE(), setup.deviceVendors],
    ["PROVIDER_ROLE", await identity.PROVIDER_ROLE(), setup.providers],
    ["RESEARCHER_ROLE", await identity.RESEARCHER_ROLE(), setup.researchers],
    ["ORACLE_ROLE", await identity.ORACLE_ROLE(), setup.oracles],
  ];
  log("roles…");
  for (const [name, role, accounts] of roles) {
    for (const account of accounts) {
      if (await identity.hasRole(role, account)) log(`  ${name} ${account}: already held`);
      else await send(`granted ${name} to ${account}`, identity.grantRole(role, account));
    }
  }
  // After every ORACLE_ROLE grant: authoriseOracle re-derives the Operator's senders from the role.
  log("oracles on the Operator (through the router)…");
  if (setup.oracles.length === 0) log("  none given: admit one later with `medcipher admin authorise-oracle <address>` (or --oracle)");
  for (const oracle of setup.oracles) {
    if (await operator.isAuthorizedSender(oracle)) log(`  ${oracle}: already authorised`);
    else await send(`authorised oracle ${oracle}`, router.authoriseOracle(oracle));
  }

  if (setup.routerLink !== undefined) {
    log("router LINK pool…");
    const balance = await link.balanceOf(addresses.PredictionRouter);
    if (balance >= setup.routerLink) log(`  ${formatLink(balance)} LINK: enough (target ${formatLink(setup.routerLink)})`);
    else if (local) await send(`minted ${formatLink(setup.routerLink - balance)} LINK to the router`, link.mint(addresses.PredictionRouter, setup.routerLink - balance));
    else await send(`transferred ${formatLink(setup.routerLink - balance)} LINK to the router`, link.transfer(addresses.PredictionRouter, setup.routerLink - balance));
  }

  if (setup.sponsoredPatients.length > 0) {
    log("sponsors…");
    const unsponsored = [];
    for (const patient of setup.sponsoredPatients) {
      if ((await router.accountOf(patient)).sponsorBudget > 0n) log(`  ${patient}: already sponsored`);
      else unsponsored.push(patient);
    }
    if (unsponsored.length > 0) await send(`sponsored ${unsponsored.join(", ")} with ${formatLink(setup.sponsorBudget)} LINK each`, router.sponsorPatients(unsponsored, setup.sponsorBudget));
  }
  return { count };
}

function formatLink(juels: bigint): string {
  const whole = juels / 10n ** 18n;
  const fraction = (juels % 10n ** 18n).toString().padStart(18, "0").replace(/0+$/, "");
  return fraction ? `${whole}.${fraction}` : `${whole}`;
}

/**
 * Registers the models shipped in models/ (as governance, the deployer) unless a model of that
 * name and version is already registered, so re-running a deployment is harmless.
 */
async function registerRepositoryModels(connection: NetworkConnection, registryAddress: string, log: (line: string) => void): Promise<{ ids: Record<string, number>; sent: number }> {
  const registry: ModelRegistry = await connection.ethers.getContractAt("ModelRegistry", registryAddress);
  const ids: Record<string, number> = {};
  let sent = 0;
  log("models…");
  for (const id of MODEL_IDS) {
    const registration = modelRegistration(loadModel(id));
    let modelId = await registry.modelIdOf(registration.name, registration.version);
    if (modelId === 0n) {
      await (await registry.registerModel(registration)).wait();
      sent++;
      modelId = await registry.modelIdOf(registration.name, registration.version);
      log(`  registered ${id} as model ${modelId}`);
    } else {
      log(`  ${id}: already model ${modelId}`);
    }
    ids[id] = Number(modelId);
  }
  return { ids, sent };
}
