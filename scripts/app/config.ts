/**
 * What the reference dapp reads as GET /config.json from its own origin: everything about the
 * stack it talks to, so one build of app/ runs against any stack.
 *
 * Mirrors `AppConfig` of app/src/config.ts (helper "app" owns the app; the integrator keeps the
 * two in step): the app's module imports the SDK through its Vite alias, which this Node side
 * cannot resolve, so the type is written out here rather than imported.
 */
import type { InputFeature, ModelArtifact } from "../../fhe/index.js";
import type { MedCipherAddresses } from "../../protocol/contracts.js";

export type AppModelFeature = Pick<InputFeature, "name"> & Partial<Pick<InputFeature, "description" | "unit" | "min" | "max" | "kind" | "categories">>;

export type AppModel = {
  /** On-chain ModelRegistry id. */
  modelId: number;
  /** The model artifact's id, e.g. "maternal-risk-v1" (its registered name). */
  name: string;
  version: string;
  description?: string;
  /** The encoding spec's inputs, with units and ranges. */
  features: (string | AppModelFeature)[];
  /** Class labels in output order. */
  labels?: string[];
  /** CKKS parameter set the model evaluates under (the patient's key set must match). */
  paramSetId?: string;
};

export type DemoIdentity = {
  address: string;
  /** An encrypted keystore backup (the CLI's format), served by the stack. */
  keystoreUrl: string;
  /** The backup's password: a dev stack's demo accounts only, never a real one. */
  password: string;
  /** The identity's X25519 public key (0x-hex): patients share records to it. */
  encryptionPublicKey?: string;
};

export type AppConfig = {
  chainId: number;
  /** JSON-RPC endpoint the page reaches (it answers the app origin's CORS preflights). */
  rpcUrl: string;
  addresses: MedCipherAddresses;
  gatewayUrl: string;
  /** Dev only: POST { address } → 1 ETH (and a prediction sponsor budget) for keys made in the page. */
  faucetUrl?: string;
  /** POST a patient's signed EIP-712 consent grant or revocation; a funded relayer sends it. */
  relayUrl: string;
  /** Where registered models' weightsUri resolve (`new URL(weightsUri, modelBaseUrl)`). */
  modelBaseUrl: string;
  models: AppModel[];
  demo?: { clinician: DemoIdentity; patient: DemoIdentity };
};

/** A model artifact as config.json lists it. */
export function appModelOf(artifact: ModelArtifact, modelId: number): AppModel {
  return {
    modelId,
    name: artifact.id,
    version: artifact.version,
    description: artifact.description,
    features: artifact.encodingSpec.inputs.map(({ name, description, unit, min, max, kind, categories }) => ({
      name, description, unit, min, max, kind, ...(categories ? { categories } : {}),
    })),
    labels: artifact.output.labels,
    paramSetId: artifact.paramSetId,
  };
}
