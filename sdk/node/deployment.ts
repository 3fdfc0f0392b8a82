/**
 * Node only: reads the deployment file that scripts/deploy.ts writes.
 */
import { readFile } from "node:fs/promises";

import { getAddress } from "ethers";

import type { MedCipherAddresses } from "../../protocol/contracts.js";
import { InvalidInputError } from "../errors.js";

/** Reads `deployments/<chainId>.json` as written by scripts/deploy.ts (docs/contracts.md). */
export async function loadDeployment(path: string): Promise<{ chainId: number; addresses: MedCipherAddresses }> {
  let parsed: { chainId: number; contracts: Record<string, { address: string }> };
  try {
    parsed = JSON.parse(await readFile(path, "utf8")) as typeof parsed;
  } catch (error) {
    throw new InvalidInputError(`Cannot read deployment file ${path}: deploy first (npx hardhat run scripts/deploy.ts --network localhost).`, { path, cause: String(error) });
  }
  const address = (name: string) => {
    const entry = parsed.contracts?.[name];
    if (!entry) throw new InvalidInputError(`Deployment ${path} has no ${name}.`, { path });
    return getAddress(entry.address);
  };
  return {
    chainId: Number(parsed.chainId),
    addresses: {
      IdentityRegistry: address("IdentityRegistry"),
      ConsentManager: address("ConsentManager"),
      RecordRegistry: address("RecordRegistry"),
      ModelRegistry: address("ModelRegistry"),
      PredictionRouter: address("PredictionRouter"),
      AuditLogAnchor: address("AuditLogAnchor"),
      PrivacyGroups: address("PrivacyGroups"),
      Semaphore: address("Semaphore"),
    },
  };
}
