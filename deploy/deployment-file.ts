/**
 * The file the SDK and the oracle read to find the contracts: `deployments/<chainId>.json`,
 * `{ chainId, deploymentBlock, deploymentId, genesisHash, contracts: { Name: { address, abi } } }`.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

import type { MedCipherAddresses } from "./local.js";

export type DeployedContract = { address: string; abi: readonly unknown[] };

export type DeploymentFile = {
  chainId: number;
  /** The block of the deployment's first transaction: where the oracle starts (ORACLE_START_BLOCK). */
  deploymentBlock?: number;
  /** Ignition's deployment id (its journal is deploy/deployments/<deploymentId>/). */
  deploymentId?: string;
  /** The chain's block 0 hash: tells a restarted development chain from the one deployed to. */
  genesisHash?: string;
  /** `OracleQuorum` only in a quorum deployment, where `Operator` is the same contract (and ABI). */
  contracts: Record<Exclude<keyof MedCipherAddresses, "OracleQuorum">, DeployedContract> & { OracleQuorum?: DeployedContract };
};

/** Reads an artifact's ABI by contract name (e.g. `hre.artifacts.readArtifact`). */
export type AbiReader = (contractName: string) => Promise<{ abi: readonly unknown[] }>;

export function deploymentPath(directory: string, chainId: number | bigint): string {
  return path.join(directory, `${chainId}.json`);
}

export async function writeDeploymentFile(
  directory: string,
  chainId: number | bigint,
  addresses: MedCipherAddresses,
  readArtifact: AbiReader,
  about: Pick<DeploymentFile, "deploymentBlock" | "deploymentId" | "genesisHash"> = {},
): Promise<string> {
  const contracts = {} as DeploymentFile["contracts"];
  for (const [name, address] of Object.entries(addresses) as [keyof MedCipherAddresses, string | undefined][]) {
    if (address === undefined) continue;
    // Behind a quorum the router's "Operator" is the OracleQuorum: describe it by its own ABI.
    const artifact = name === "Operator" && address === addresses.OracleQuorum ? "OracleQuorum" : name;
    contracts[name] = { address, abi: (await readArtifact(artifact)).abi };
  }
  const file: DeploymentFile = { chainId: Number(chainId), ...about, contracts };
  const target = deploymentPath(directory, chainId);
  await mkdir(directory, { recursive: true });
  await writeFile(target, `${JSON.stringify(file, null, 2)}\n`);
  return target;
}

export async function readDeploymentFile(directory: string, chainId: number | bigint): Promise<DeploymentFile> {
  return JSON.parse(await readFile(deploymentPath(directory, chainId), "utf8")) as DeploymentFile;
}
