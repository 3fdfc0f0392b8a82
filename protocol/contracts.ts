import { Contract, type ContractRunner } from "ethers";

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
