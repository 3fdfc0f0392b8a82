/**
 * Deploys the MedCipher suite through Ignition and writes deployments/<chainId>.json.
 *
 *   npx hardhat run scripts/deploy.ts                     # embedded chain (throwaway)
 *   npx hardhat node & npx hardhat run scripts/deploy.ts --network localhost
 *   npx hardhat run scripts/deploy.ts --network sepolia   # SEPOLIA_RPC_URL, SEPOLIA_PRIVATE_KEY
 *
 * Development chains (chain id 31337) get their own LinkToken and Operator (MedCipherLocal);
 * other networks use the existing LINK token and deploy our Operator (MedCipher). Parameters come
 * from deploy/parameters/<network>.json. MEDCIPHER_DEPLOYMENTS_DIR overrides the output folder.
 */
import { existsSync } from "node:fs";
import path from "node:path";

import hre, { network } from "hardhat";

import { writeDeploymentFile } from "../deploy/deployment-file.js";
import type { MedCipherAddresses } from "../deploy/local.js";
import MedCipherModule, { MedCipherLocalModule } from "../deploy/modules/MedCipher.js";

const connection = await network.create();
const { ethers, ignition, networkName } = connection;
const { chainId } = await ethers.provider.getNetwork();
const local = chainId === 31337n;

// The embedded chain's connection is named "default"; it shares the "hardhat" parameters.
const parametersFile = path.resolve("deploy", "parameters", `${networkName === "default" ? "hardhat" : networkName}.json`);
const parameters = existsSync(parametersFile) ? parametersFile : undefined;
console.log(`Deploying ${local ? "MedCipherLocal" : "MedCipher"} to ${networkName} (chain ${chainId})` +
  (parameters ? ` with ${path.relative(process.cwd(), parametersFile)}` : ""));

const deployed = local
  ? await ignition.deploy(MedCipherLocalModule, { parameters })
  : await ignition.deploy(MedCipherModule, { parameters });

const addresses: MedCipherAddresses = {
  IdentityRegistry: await deployed.identity.getAddress(),
  ConsentManager: await deployed.consent.getAddress(),
  RecordRegistry: await deployed.records.getAddress(),
  ModelRegistry: await deployed.models.getAddress(),
  PredictionRouter: await deployed.router.getAddress(),
  AuditLogAnchor: await deployed.audit.getAddress(),
  LinkToken: await deployed.link.getAddress(),
  Operator: await deployed.operator.getAddress(),
};
const directory = process.env.MEDCIPHER_DEPLOYMENTS_DIR ?? "deployments";
const file = await writeDeploymentFile(directory, chainId, addresses, (name) => hre.artifacts.readArtifact(name));
for (const [name, address] of Object.entries(addresses)) console.log(`  ${name.padEnd(17)} ${address}`);
console.log(`wrote ${file}`);
if (!local) console.log("Next: fund the PredictionRouter with LINK and authorise the oracle node on the Operator.");
