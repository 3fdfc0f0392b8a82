/**
 * The relayer's settings, from `RELAYER_<NAME>` environment variables (or code, in tests), each
 * validated once at start-up. The signing key is sensitive: printableRelayerSettings() redacts it.
 */
import { parseCorsOrigins } from "../gateway/cors.js";
import { RelayerConfigError } from "./errors.js";

type Kind = "string" | "number";
type Definition = { description: string; type: Kind; default: string | number; sensitive?: boolean; validate?: (value: never) => string | undefined };

const atLeast = (min: number) => (v: number) => (Number.isInteger(v) && v >= min ? undefined : `must be an integer ≥ ${min}`);
const optionalAddress = (v: string) => (v === "" || /^0x[0-9a-fA-F]{40}$/.test(v) ? undefined : "must be a 0x-prefixed 20-byte address");

export const RELAYER_SETTINGS = {
  RPC_URL: { description: "JSON-RPC endpoint the relayer sends through", type: "string", default: "http://127.0.0.1:8545" },
  CHAIN_ID: { description: "Expected chain id; start-up fails on another (0: accept any)", type: "number", default: 0, validate: atLeast(0) },
  PRIVATE_KEY: { description: "The relayer's funded wallet (pays the gas of every relayed call); or KEYSTORE_FILE", type: "string", default: "", sensitive: true, validate: (v: string) => (v === "" || /^0x[0-9a-fA-F]{64}$/.test(v) ? undefined : "must be a 0x-prefixed 32-byte hex key") },
  KEYSTORE_FILE: { description: "Encrypted JSON keystore (Web3 Secret Storage) holding the wallet's key", type: "string", default: "" },
  KEYSTORE_PASSWORD: { description: "Password of KEYSTORE_FILE", type: "string", default: "", sensitive: true },
  DEPLOYMENT_FILE: { description: "Deployment JSON (deployments/<chainId>.json) naming PredictionRouter and ConsentManager; the two address settings override it", type: "string", default: "" },
  ROUTER_ADDRESS: { description: "PredictionRouter (requestPredictionAnonymous)", type: "string", default: "", validate: optionalAddress },
  CONSENT_MANAGER_ADDRESS: { description: "ConsentManager (grantConsentPrivate, revokeConsentPrivate)", type: "string", default: "", validate: optionalAddress },
  START_BLOCK: { description: "Block to search from for the transaction that already published a commitment", type: "number", default: 0, validate: atLeast(0) },
  HOST: { description: "Listen address (loopback: put Tor or a reverse proxy in front)", type: "string", default: "127.0.0.1" },
  PORT: { description: "Listen port (0: any free port)", type: "number", default: 8790, validate: atLeast(0) },
  MAX_GAS: { description: "Gas cap of one relayed transaction; a call estimated above it is refused (an anonymous request uses ~420k, a private grant ~45k)", type: "number", default: 1_500_000, validate: atLeast(21_000) },
  GAS_HEADROOM_PERCENT: { description: "Added to the estimate for the gas limit (still capped by MAX_GAS)", type: "number", default: 20, validate: atLeast(0) },
  MAX_FEE_PER_GAS_GWEI: { description: "Ceiling for maxFeePerGas; a higher network fee is refused rather than paid", type: "number", default: 200, validate: atLeast(1) },
  RATE_PER_MINUTE: { description: "Sustained relay requests per client IP per minute", type: "number", default: 6, validate: atLeast(1) },
  BURST: { description: "Relay requests one client IP may burst before RATE_PER_MINUTE applies", type: "number", default: 12, validate: atLeast(1) },
  MAX_BODY_BYTES: { description: "Largest request body", type: "number", default: 16_384, validate: atLeast(256) },
  RECEIPT_TIMEOUT_MS: { description: "How long a request with wait=true waits for the receipt", type: "number", default: 60_000, validate: atLeast(100) },
  CORS_ORIGINS: { description: "Comma-separated exact origins whose pages may call the relayer from a browser (empty: none, no CORS header is sent)", type: "string", default: "", validate: (v: string) => parseCorsOrigins(v).problems[0] },
  LOG_LEVEL: { description: "pino log level", type: "string", default: "info", validate: (v: string) => (["fatal", "error", "warn", "info", "debug", "trace", "silent"].includes(v) ? undefined : "must be a pino level") },
} as const satisfies Record<string, Definition>;

export type RelayerSettingName = keyof typeof RELAYER_SETTINGS;
export type RelayerSettings = { readonly [K in RelayerSettingName]: (typeof RELAYER_SETTINGS)[K]["type"] extends "number" ? number : string };

export const RELAYER_ENV_PREFIX = "RELAYER_";

/** Reads and validates every setting; one RelayerConfigError lists all problems. */
export function loadRelayerSettings(options: { env?: Record<string, string | undefined>; overrides?: Partial<Record<RelayerSettingName, string | number>> } = {}): RelayerSettings {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  for (const key of Object.keys(env)) {
    if (key.startsWith(RELAYER_ENV_PREFIX) && !(key.slice(RELAYER_ENV_PREFIX.length) in RELAYER_SETTINGS)) problems.push(`${key} is not a relayer setting`);
  }
  const values: Record<string, string | number> = {};
  for (const [name, definition] of Object.entries(RELAYER_SETTINGS) as [RelayerSettingName, Definition][]) {
    const raw = options.overrides?.[name] ?? env[RELAYER_ENV_PREFIX + name];
    let value: string | number = definition.default;
    if (raw !== undefined && raw !== "") value = definition.type === "number" ? Number(raw) : String(raw);
    if (definition.type === "number" && !Number.isFinite(value)) {
      problems.push(`${name}: expected a number`);
      continue;
    }
    const complaint = (definition.validate as ((v: string | number) => string | undefined) | undefined)?.(value);
    if (complaint) problems.push(`${name} ${complaint}`);
    values[name] = value;
  }
  if (values.PRIVATE_KEY === "" && values.KEYSTORE_FILE === "") problems.push("PRIVATE_KEY or KEYSTORE_FILE is required (the relayer's funded wallet)");
  if (values.KEYSTORE_FILE !== "" && values.KEYSTORE_PASSWORD === "") problems.push("KEYSTORE_PASSWORD is required with KEYSTORE_FILE");
  if (values.DEPLOYMENT_FILE === "" && (values.ROUTER_ADDRESS === "" || values.CONSENT_MANAGER_ADDRESS === "")) problems.push("DEPLOYMENT_FILE, or both ROUTER_ADDRESS and CONSENT_MANAGER_ADDRESS, are required");
  if (problems.length > 0) throw new RelayerConfigError("Invalid relayer settings", problems);
  return Object.freeze(values) as RelayerSettings;
}

/** RELAYER_CORS_ORIGINS as a list (validated by loadRelayerSettings). */
export function relayerCorsOrigins(settings: RelayerSettings): string[] {
  return parseCorsOrigins(settings.CORS_ORIGINS).origins;
}

/** The settings with sensitive values redacted, for logs. */
export function printableRelayerSettings(settings: RelayerSettings): Record<string, string | number> {
  return Object.fromEntries(Object.entries(settings).map(([name, value]) => [name, (RELAYER_SETTINGS[name as RelayerSettingName] as Definition).sensitive && value !== "" ? "<redacted>" : value]));
}

/** Every setting as a Markdown table (docs, `relayer settings`). */
export function relayerSettingsMarkdownTable(): string {
  const rows = Object.entries(RELAYER_SETTINGS).map(([name, d]: [string, Definition]) => `| \`${RELAYER_ENV_PREFIX}${name}\` | ${d.type} | ${d.default === "" ? "—" : `\`${d.default}\``} | ${d.description}${d.sensitive ? " (sensitive)" : ""} |`);
  return ["| Variable | Type | Default | Meaning |", "|---|---|---|---|", ...rows].join("\n");
}
