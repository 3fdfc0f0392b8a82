import type { NetworkConnection } from "hardhat/types/network";

import type { OracleQuorum } from "../types/ethers-contracts/index.js";
import { sponsorPatients, type MedCipherDeployment } from "./local.js";
import { DEFAULT_FEE, DEFAULT_JOB_ID } from "./modules/PredictionRouter.js";

export type AttachQuorumOptions = {
  /** Votes that must agree on one result hash. */
  k: number;
  /** The oracle operators' accounts; each gets ORACLE_ROLE and is authorised through the router. */
  operators: string[];
  /** Patients given a sponsor budget on the new router (budgets are per router). */
  sponsoredPatients?: string[];
  /** LINK minted to the new router's pool (default 100 LINK). */
  routerLink?: bigint;
  pendingCaps?: { perPatient: number; perRequester: number };
  /** Whether fulfilments may post the result ciphertext in calldata (the router's constructor flag; default false). */
  onChainResults?: boolean;
};

/**
 * A development deployment's router re-created in front of a fresh OracleQuorum (k of
 * `operators`): the router's operator is fixed at construction, so quorum deployments get a
 * router of their own (the Ignition module does the same for real chains). The quorum is owned by
 * the router, which sets its operators as it does the Operator's; governance sets k. Returns the
 * suite with `router` and `addresses.PredictionRouter`/`addresses.Operator` replaced.
 *
 * @example
 * const { suite, quorum } = await attachOracleQuorum(connection, await deployMedCipher(connection), { k: 2, operators });
 */
export async function attachOracleQuorum(connection: NetworkConnection, base: MedCipherDeployment, options: AttachQuorumOptions): Promise<{ suite: MedCipherDeployment; quorum: OracleQuorum }> {
  const { ethers } = connection;
  const gov = base.governance;
  const a = base.addresses;
  const quorum = (await ethers.deployContract("OracleQuorum", [a.LinkToken, await gov.getAddress(), a.IdentityRegistry, 1], gov)) as unknown as OracleQuorum;
  await quorum.waitForDeployment();
  const quorumAddress = await quorum.getAddress();
  const deployed = await ethers.deployContract("PredictionRouter", [a.IdentityRegistry, a.ConsentManager, a.ModelRegistry, a.PrivacyGroups, a.LinkToken, quorumAddress, DEFAULT_JOB_ID, DEFAULT_FEE, options.onChainResults ?? false], gov);
  await deployed.waitForDeployment();
  const routerAddress = await deployed.getAddress();
  const router = await ethers.getContractAt("PredictionRouter", routerAddress, gov);
  await (await quorum.transferOwnership(routerAddress)).wait();
  await (await router.acceptOperatorOwnership()).wait();
  const oracleRole = await base.identity.ORACLE_ROLE();
  for (const operator of options.operators) {
    await (await base.identity.grantRole(oracleRole, operator)).wait();
    await (await router.authoriseOracle(operator)).wait();
  }
  if (options.k > 1) await (await quorum.setQuorum(options.k)).wait();
  await (await base.link.mint(routerAddress, options.routerLink ?? 100n * 10n ** 18n)).wait();
  if (options.pendingCaps) await (await router.setPendingCaps(options.pendingCaps.perPatient, options.pendingCaps.perRequester)).wait();
  if (options.sponsoredPatients?.length) await sponsorPatients({ router }, options.sponsoredPatients);
  return { suite: { ...base, router, addresses: { ...a, Operator: quorumAddress, PredictionRouter: routerAddress } }, quorum };
}
