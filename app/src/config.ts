/**
 * What the dapp needs to know about the deployment it talks to. Served as GET /config.json from
 * the app's own origin (by `npm run app`, scripts/app/stack.ts), so one build runs against any
 * stack: nothing about a chain is compiled in.
 */
import type { MedCipherAddresses } from "medcipher";

/** One input of a model's encoding spec, as the prediction form shows it. */
export type AppModelFeature = {
  name: string;
  description?: string;
  unit?: string;
  min?: number;
  max?: number;
  /** "continuous" | "binary" | "categorical" (fhe/ encoding spec kinds). */
  kind?: string;
  categories?: number[];
  /** LOINC code of what the input measures (prefills it from device readings). */
  loinc?: string;
};

export type AppModel = {
  /** On-chain ModelRegistry id. */
  modelId: number;
  /** The model artifact's id, e.g. "maternal-risk-v1". */
  name: string;
  version: string;
  description?: string;
  /** Feature names, or the encoding spec's inputs with their units and ranges. */
  features: (string | AppModelFeature)[];
  /** Class labels in output order (for the risk picture before a result exists). */
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
  /** JSON-RPC endpoint the page reaches (CORS). */
  rpcUrl: string;
  addresses: MedCipherAddresses;
  gatewayUrl: string;
  /** Dev only: POST { address } → 1 ETH for keys made in the page. Absent on a real network. */
  faucetUrl?: string;
  /** POST the patient's signed EIP-712 consent grant or revocation; a funded relayer sends it. */
  relayUrl: string;
  /** Where registered models' relative weightsUri resolve (artifact JSON files). */
  modelBaseUrl: string;
  models: AppModel[];
  demo?: { clinician: DemoIdentity; patient: DemoIdentity };
};

/** config.json is missing or not what this app understands. */
export class AppConfigError extends Error {
  override name = "AppConfigError";
  readonly code = "APP_CONFIG_INVALID";
  constructor(message: string, readonly details: Record<string, unknown> = {}) {
    super(message);
  }
}

const REQUIRED_STRINGS = ["rpcUrl", "gatewayUrl", "relayUrl", "modelBaseUrl"] as const;

/** Checks the shape the app relies on, so a wrong stack fails at load time with a sentence, not later with a TypeError. */
export function parseAppConfig(value: unknown): AppConfig {
  if (typeof value !== "object" || value === null) throw new AppConfigError("config.json is not a JSON object.");
  const config = value as Record<string, unknown>;
  const missing: string[] = REQUIRED_STRINGS.filter((key) => typeof config[key] !== "string");
  if (typeof config.chainId !== "number") missing.push("chainId");
  if (typeof config.addresses !== "object" || config.addresses === null) missing.push("addresses");
  if (!Array.isArray(config.models)) missing.push("models");
  if (missing.length > 0) throw new AppConfigError(`config.json lacks ${missing.join(", ")}.`, { missing });
  return value as AppConfig;
}

export async function loadAppConfig(url = "./config.json"): Promise<AppConfig> {
  let response: Response;
  try {
    response = await fetch(url, { cache: "no-store" });
  } catch (error) {
    throw new AppConfigError(`Could not fetch ${url}: ${String(error)}`, { url });
  }
  if (!response.ok) throw new AppConfigError(`${url} answered HTTP ${response.status}.`, { url, status: response.status });
  return parseAppConfig(await response.json());
}

/** A model's inputs as objects, whichever form config.json gave them in. */
export function modelFeatures(model: AppModel): AppModelFeature[] {
  return model.features.map((feature) => (typeof feature === "string" ? { name: feature } : feature));
}
