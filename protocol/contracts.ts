import { Contract, type ContractRunner, type InterfaceAbi, type Log } from "ethers";
import type { Abi, ExtractAbiEventNames } from "abitype";

import {
  auditLogAnchorAbi,
  consentManagerAbi,
  identityRegistryAbi,
  modelRegistryAbi,
  predictionRouterAbi,
  privacyGroupsAbi,
  recordRegistryAbi,
  semaphoreAbi,
} from "./abi/generated.js";
import type { EventArgs, EventNamed, TypedContract } from "./abi/typedContract.js";

/** Where MedCipher's contracts live on one chain: the names of deployments/<chainId>.json and deployMedCipher(). */
export type MedCipherAddresses = {
  IdentityRegistry: string;
  ConsentManager: string;
  RecordRegistry: string;
  ModelRegistry: string;
  PredictionRouter: string;
  AuditLogAnchor: string;
  PrivacyGroups: string;
  Semaphore: string;
};

export type IdentityRegistryContract = TypedContract<typeof identityRegistryAbi>;
export type ConsentManagerContract = TypedContract<typeof consentManagerAbi>;
export type RecordRegistryContract = TypedContract<typeof recordRegistryAbi>;
export type ModelRegistryContract = TypedContract<typeof modelRegistryAbi>;
export type PredictionRouterContract = TypedContract<typeof predictionRouterAbi>;
export type AuditLogAnchorContract = TypedContract<typeof auditLogAnchorAbi>;
export type PrivacyGroupsContract = TypedContract<typeof privacyGroupsAbi>;
export type SemaphoreContract = TypedContract<typeof semaphoreAbi>;

export type MedCipherContracts = {
  identity: IdentityRegistryContract;
  consent: ConsentManagerContract;
  records: RecordRegistryContract;
  models: ModelRegistryContract;
  router: PredictionRouterContract;
  auditAnchor: AuditLogAnchorContract;
  groups: PrivacyGroupsContract;
  semaphore: SemaphoreContract;
};

/**
 * An ethers Contract at `address`, typed from `abi` (an `as const` ABI of protocol/abi/generated.ts).
 * The one cast of the contract layer: ethers builds the methods at run time from the same ABI the
 * type is derived from, so the type says what the object does.
 */
export function connectContract<const TAbi extends Abi>(abi: TAbi, address: string, runner: ContractRunner | null): TypedContract<TAbi> {
  return new Contract(address, abi as InterfaceAbi, runner) as unknown as TypedContract<TAbi>;
}

export function connectContracts(addresses: MedCipherAddresses, runner: ContractRunner): MedCipherContracts {
  return {
    identity: connectContract(identityRegistryAbi, addresses.IdentityRegistry, runner),
    consent: connectContract(consentManagerAbi, addresses.ConsentManager, runner),
    records: connectContract(recordRegistryAbi, addresses.RecordRegistry, runner),
    models: connectContract(modelRegistryAbi, addresses.ModelRegistry, runner),
    router: connectContract(predictionRouterAbi, addresses.PredictionRouter, runner),
    auditAnchor: connectContract(auditLogAnchorAbi, addresses.AuditLogAnchor, runner),
    groups: connectContract(privacyGroupsAbi, addresses.PrivacyGroups, runner),
    semaphore: connectContract(semaphoreAbi, addresses.Semaphore, runner),
  };
}

/**
 * The decoded arguments of every `event` that `contract` emitted among `logs` (e.g. a receipt's),
 * in log order. Logs of other contracts and other events are skipped.
 */
export function eventsIn<TAbi extends Abi, N extends ExtractAbiEventNames<TAbi>>(contract: TypedContract<TAbi>, logs: readonly Log[], event: N): EventArgs<EventNamed<TAbi, N>>[] {
  const address = String(contract.target).toLowerCase();
  return logs
    .filter((log) => log.address.toLowerCase() === address)
    .map((log) => contract.interface.parseLog(log))
    .filter((parsed) => parsed?.name === event)
    // parseLog decoded these with the ABI the type is derived from (see connectContract).
    .map((parsed) => parsed!.args as unknown as EventArgs<EventNamed<TAbi, N>>);
}
