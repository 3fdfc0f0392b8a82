/**
 * Deploys the MedCipher suite through Ignition and writes deployments/<chainId>.json.
 *
 *   npx hardhat run scripts/deploy.ts                     # embedded chain (throwaway)
 *   npx hardhat node & npx hardhat run scripts/deploy.ts --network localhost
 *   npx hardhat run scripts/deploy.ts --network sepolia   # SEPOLIA_RPC_URL, SEPOLIA_PRIVATE_KEY
 *
 * Parameters come from deploy/parameters/<network>.json. MEDCIPHER_DEPLOYMENTS_DIR overrides the
 * output folder (default: deployments/).
 */
import path from "node:path";

import hre, { network } from "hardhat";

import { deploySuiteAndWrite } from "../deploy/deploy-suite.js";

const connection = await network.create();
const result = await deploySuiteAndWrite(connection, {
  directory: process.env.MEDCIPHER_DEPLOYMENTS_DIR ?? "deployments",
  readArtifact: (name) => hre.artifacts.readArtifact(name),
});
console.log(
  `Deployed ${result.module} to ${connection.networkName} (chain ${result.chainId})` +
    (result.parametersFile ? ` with ${path.relative(process.cwd(), result.parametersFile)}` : ""),
);
for (const [name, address] of Object.entries(result.addresses)) console.log(`  ${name.padEnd(17)} ${address}`);
for (const [id, modelId] of Object.entries(result.models)) console.log(`  model #${modelId} ${id}`);
console.log(`wrote ${result.deploymentFile}`);
if (result.module === "MedCipher") {
  console.log(
    "Next: fund the PredictionRouter's pool with LINK (LinkToken.transfer), admit the oracle node " +
      "(`medcipher admin authorise-oracle <node>`: ORACLE_ROLE + router.authoriseOracle; the router owns the Operator) " +
      "and sponsor patients (`medcipher admin sponsor <patients...>`), or let requesters deposit LINK (transferAndCall).",
  );
}
