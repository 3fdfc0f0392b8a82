import { readFile } from "node:fs/promises";

import { Contract, getAddress, type ContractRunner } from "ethers";

import { InvalidInputError } from "../errors.js";
import {
  AUDIT_LOG_ANCHOR_ABI,
  CONSENT_MANAGER_ABI,
  IDENTITY_REGISTRY_ABI,
  MODEL_REGISTRY_ABI,
  PREDICTION_ROUTER_ABI,
  RECORD_REGISTRY_ABI,
} from "./abis.js";

/** Where MedCipher's contracts live on one chain: the names of deployments/<chainId>.json and deployMedCipher(). */
export type MedCipherAddresses = {
  IdentityRegistry: string;
  ConsentManager: string;
  RecordRegistry: string;
  ModelRegistry: string;
  PredictionRouter: string;
  AuditLogAnchor: string;
};

export type MedCipherContracts = {
  identity: Contract;
  consent: Contract;
  records: Contract;
  models: Contract;
  router: Contract;
  auditAnchor: Contract;
};

export function connectContracts(addresses: MedCipherAddresses, runner: ContractRunner): MedCipherContracts {
  return {
    identity: new Contract(addresses.IdentityRegistry, IDENTITY_REGISTRY_ABI, runner),
    consent: new Contract(addresses.ConsentManager, CONSENT_MANAGER_ABI, runner),
    records: new Contract(addresses.RecordRegistry, RECORD_REGISTRY_ABI, runner),
    models: new Contract(addresses.ModelRegistry, MODEL_REGISTRY_ABI, runner),
    router: new Contract(addresses.PredictionRouter, PREDICTION_ROUTER_ABI, runner),
    auditAnchor: new Contract(addresses.AuditLogAnchor, AUDIT_LOG_ANCHOR_ABI, runner),
  };
}

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
    },
  };
}
