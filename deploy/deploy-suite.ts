/**
 * Deploys the suite through Ignition on any network connection and writes the deployment file.
 * Development chains (chain id 31337) get their own LinkToken and Operator (MedCipherLocal);
 * other networks use the existing LINK token and deploy our Operator (MedCipher). Used by
 * scripts/deploy.ts.
 */
import { existsSync } from "node:fs";
import path from "node:path";

import type { NetworkConnection } from "hardhat/types/network";

import type { ModelRegistry } from "../types/ethers-contracts/index.js";

import { loadModel, MODEL_IDS } from "../fhe/model.js";
import { writeDeploymentFile, type AbiReader } from "./deployment-file.js";
import { addressesOf, type MedCipherAddresses } from "./local.js";
import { modelRegistration } from "./models.js";
import MedCipherModule, { MedCipherLocalModule } from "./modules/MedCipher.js";

export type DeploySuiteResult = {
  chainId: bigint;
  module: "MedCipher" | "MedCipherLocal";
  parametersFile?: string;
  addresses: MedCipherAddresses;
  deploymentFile: string;
  /** The repository's models by id, with their on-chain ids (registered now or earlier). */
  models: Record<string, number>;
};

export async function deploySuiteAndWrite(
  connection: NetworkConnection,
  options: { directory: string; readArtifact: AbiReader; parametersDirectory?: string },
): Promise<DeploySuiteResult> {
  const { ethers, ignition, networkName } = connection;
  const { chainId } = await ethers.provider.getNetwork();
  const local = chainId === 31337n;
  // The embedded chain's connection is named "default"; it shares the "hardhat" parameters.
  const candidate = path.resolve(
    options.parametersDirectory ?? path.join("deploy", "parameters"),
    `${networkName === "default" ? "hardhat" : networkName}.json`,
  );
  const parameters = existsSync(candidate) ? candidate : undefined;

  const deployed = local
    ? await ignition.deploy(MedCipherLocalModule, { parameters })
    : await ignition.deploy(MedCipherModule, { parameters });
  const addresses = await addressesOf(deployed);
  const deploymentFile = await writeDeploymentFile(options.directory, chainId, addresses, options.readArtifact);
  const models = await registerRepositoryModels(await ethers.getContractAt("ModelRegistry", addresses.ModelRegistry));
  return { chainId, module: local ? "MedCipherLocal" : "MedCipher", parametersFile: parameters, addresses, deploymentFile, models };
}

/**
 * Registers the models shipped in models/ (as governance, the deployer) unless a model of that
 * name and version is already registered, so re-running a deployment is harmless.
 */
async function registerRepositoryModels(registry: ModelRegistry): Promise<Record<string, number>> {
  const ids: Record<string, number> = {};
  for (const id of MODEL_IDS) {
    const registration = modelRegistration(loadModel(id));
    let modelId = await registry.modelIdOf(registration.name, registration.version);
    if (modelId === 0n) {
      await (await registry.registerModel(registration)).wait();
      modelId = await registry.modelIdOf(registration.name, registration.version);
    }
    ids[id] = Number(modelId);
  }
  return ids;
}
