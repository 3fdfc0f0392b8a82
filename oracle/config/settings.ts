import { readFileSync } from "node:fs";
import { hostname } from "node:os";

import { nearestName } from "../../core/didYouMean.js";
import { ConfigError } from "../errors.js";

/**
 * Every setting of the daemon in one self-documenting table (after Chainlink's ea-framework):
 * each entry says what it is, its type and default, how it is validated and whether it is
 * sensitive. Values come from a JSON file and from `ORACLE_<NAME>` environment variables (the
 * environment wins); they are validated once, at start-up. Sensitive values are never logged:
 * use `printableSettings()` to show a configuration.
 */
type SettingType = "string" | "number" | "boolean";
type ValueOf<T extends SettingType> = T extends "number" ? number : T extends "boolean" ? boolean : string;

export type SettingDefinition<T extends SettingType = SettingType> = {
  description: string;
  type: T;
  default?: ValueOf<T>;
  /** Returns an explanation when the value is unacceptable. */
  validate?: (value: ValueOf<T>) => string | undefined;
  sensitive?: boolean;
  /** How a sensitive value is shown by printableSettings (default: entirely redacted). */
  printable?: (value: ValueOf<T>) => string;
};

const isAddress = (v: string) => (/^0x[0-9a-fA-F]{40}$/.test(v) ? undefined : "must be a 0x-prefixed 20-byte address");
const isUrl = (v: string) => {
  try {
    const url = new URL(v);
    return ["http:", "https:"].includes(url.protocol) ? undefined : "must be an http(s) URL";
  } catch {
    return "must be a URL";
  }
};
const atLeast = (min: number) => (v: number) => (Number.isInteger(v) && v >= min ? undefined : `must be an integer ≥ ${min}`);
const isPrivateKey = (v: string) => (/^0x[0-9a-fA-F]{64}$/.test(v) ? undefined : "must be a 0x-prefixed 32-byte hex key");
const isPostgresUrl = (v: string) => {
  try {
    return ["postgres:", "postgresql:"].includes(new URL(v).protocol) ? undefined : "must be a postgres:// or postgresql:// URL";
  } catch {
    return "must be a URL";
  }
};
/** The URL with its password (if any) replaced: which database, never the secret. */
export function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "redacted";
    // libpq also takes the password (and a client key's) as query parameters.
    for (const name of ["password", "sslpassword"]) if (parsed.searchParams.has(name)) parsed.searchParams.set(name, "redacted");
    return parsed.toString();
  } catch {
    return REDACTED;
  }
}
const isWei = (v: string) => (/^[0-9]+$/.test(v) ? undefined : "must be a decimal integer amount of wei");

function define<T extends SettingType>(definition: SettingDefinition<T>): SettingDefinition<T> {
  return definition;
}

export const SETTINGS = {
  RPC_URL: define({ description: "JSON-RPC endpoint of the chain to follow", type: "string", default: "http://127.0.0.1:8545", validate: isUrl }),
  RPC_TIMEOUT_MS: define({ description: "Timeout of one JSON-RPC call", type: "number", default: 10_000, validate: atLeast(100) }),
  CHAIN_ID: define({ description: "Expected chain id; start-up fails if the RPC reports another (0: accept any)", type: "number", default: 0, validate: atLeast(0) }),
  DEPLOYMENT_FILE: define({ description: "Deployment JSON written by deploy/ (addresses of OracleQuorum or Operator, and PredictionRouter); the address settings below override it", type: "string", default: "" }),
  OPERATOR_ADDRESS: define({ description: "Contract the daemon fulfils through: the Chainlink Operator, or an OracleQuorum (k-of-n; each daemon's fulfilment is its vote). Default: the deployment file's OracleQuorum if it has one, else its Operator", type: "string", default: "", validate: (v) => (v === "" ? undefined : isAddress(v)) }),
  ROUTER_ADDRESS: define({ description: "MedCipher PredictionRouter contract (the requester)", type: "string", default: "", validate: (v) => (v === "" ? undefined : isAddress(v)) }),
  START_BLOCK: define({ description: "Block to start from when the job store has no cursor yet", type: "number", default: 0, validate: atLeast(0) }),
  CONFIRMATIONS: define({ description: "Blocks a request must have (its own included) before it is processed", type: "number", default: 1, validate: atLeast(1) }),
  MAX_BLOCK_RANGE: define({ description: "Largest eth_getLogs block range per call when backfilling", type: "number", default: 1_000, validate: atLeast(1) }),
  POLL_INTERVAL_MS: define({ description: "How often the chain head is polled", type: "number", default: 500, validate: atLeast(10) }),
  REORG_RING_SIZE: define({ description: "Recent block hashes kept for reorg detection", type: "number", default: 256, validate: atLeast(8) }),
  PRIVATE_KEY: define({ description: "Signing key of the oracle account (an authorised sender of the Operator); prefer KEYSTORE_FILE", type: "string", default: "", sensitive: true, validate: (v) => (v === "" ? undefined : isPrivateKey(v)) }),
  KEYSTORE_FILE: define({ description: "Encrypted JSON keystore (Web3 Secret Storage) holding the signing key", type: "string", default: "" }),
  KEYSTORE_PASSWORD: define({ description: "Password of KEYSTORE_FILE", type: "string", default: "", sensitive: true }),
  GATEWAY_URL: define({ description: "Base URL of the MedCipher gateway holding ciphertexts, keys and results", type: "string", default: "http://127.0.0.1:8787", validate: isUrl }),
  GATEWAY_ADDRESS: define({ description: "The gateway's response-signing address (registered on-chain); every gateway response must be signed by it", type: "string", default: "", validate: (v) => (v === "" ? undefined : isAddress(v)) }),
  GATEWAY_TIMEOUT_MS: define({ description: "Timeout of one gateway request", type: "number", default: 15_000, validate: atLeast(100) }),
  JOB_STORE: define({ description: "Job store: `sqlite` (embedded, in DATA_DIR; one daemon) or `postgres` (DATABASE_URL; replicas of one operator share the work, one of them sends transactions)", type: "string", default: "sqlite", validate: (v) => (["sqlite", "postgres"].includes(v) ? undefined : "must be sqlite or postgres") }),
  DATABASE_URL: define({ description: "Postgres connection URL of the job store (required with JOB_STORE=postgres; printed without its password)", type: "string", default: "", sensitive: true, printable: withoutPassword, validate: (v) => (v === "" ? undefined : isPostgresUrl(v)) }),
  REPLICA_ID: define({ description: "Name of this replica in the shared job store (claims, nonce lease owner); empty: `<hostname>-<pid>`", type: "string", default: "" }),
  NONCE_LEASE_POLL_MS: define({ description: "How often a replica that does not hold the nonce lease tries to take it (the takeover delay after the owner dies)", type: "number", default: 1_000, validate: atLeast(50) }),
  QUORUM_STANDBY_MS: define({ description: "Behind an OracleQuorum: each request's k primaries (rotating through the operator set by request id) evaluate at once; the other operators wait this long per standby rank, then evaluate only a request still pending (a primary crashed or disagreed). Set it above the primaries' latency at peak load; 0: every operator evaluates every request at once", type: "number", default: 30_000, validate: atLeast(0) }),
  JOB_CLAIM_MS: define({ description: "How long a replica's claim on a job lasts unless renewed (a dead replica's jobs are taken over after this)", type: "number", default: 30_000, validate: atLeast(500) }),
  DATA_DIR: define({ description: "Directory of the job store (SQLite) and the cache of patients' evaluation keys", type: "string", default: ".oracle" }),
  PRIVATE_MODEL_MASK_KEY: define({ description: "32-byte hex secret shared by the oracles serving private models (masks their partial products; see docs/fhe.md); empty: private models are reported MODEL_UNAVAILABLE", type: "string", default: "", sensitive: true, validate: (v) => (v === "" ? undefined : isPrivateKey(v)) }),
  WORKER_THREADS: define({ description: "Evaluation worker threads", type: "number", default: 2, validate: atLeast(1) }),
  EVAL_QUEUE_LIMIT: define({ description: "Evaluations queued beyond the busy workers before back-pressure", type: "number", default: 256, validate: atLeast(1) }),
  MAX_JOBS_IN_FLIGHT: define({ description: "Jobs processed concurrently (fetch, evaluate, store)", type: "number", default: 128, validate: atLeast(1) }),
  MAX_JOB_ATTEMPTS: define({ description: "Unexpected (non-retryable, unclassified) failures of one job before ORACLE_INTERNAL is reported on-chain; outages retry without limit", type: "number", default: 5, validate: atLeast(1) }),
  FULFIL_GAS_LIMIT: define({ description: "Gas limit of a fulfilment transaction (the Operator requires ≥ 400,000 left for the callback; about 150,000 is used)", type: "number", default: 600_000, validate: atLeast(450_000) }),
  MAX_FEE_PER_GAS_GWEI: define({ description: "Ceiling for maxFeePerGas, also when bumping a stuck transaction", type: "number", default: 500, validate: atLeast(1) }),
  PRIORITY_FEE_GWEI: define({ description: "maxPriorityFeePerGas of a new transaction", type: "number", default: 1, validate: (v) => (v >= 0 ? undefined : "must be ≥ 0") }),
  TX_STUCK_AFTER_MS: define({ description: "A transaction pending this long is re-sent with bumped fees at the same nonce", type: "number", default: 6_000, validate: atLeast(100) }),
  GAS_BUMP_PERCENT: define({ description: "Fee increase of each replacement (nodes require ≥ 10)", type: "number", default: 25, validate: atLeast(10) }),
  GATEWAY_REFUSAL_WINDOW_MS: define({ description: "How long gateway authorisation and conflict answers (401, 403, 409) are retried before the job is re-checked against the chain; only a read still refused after that, for a request the chain shows pending with the same input, is reported as a failure (a result upload is never)", type: "number", default: 60_000, validate: atLeast(0) }),
  MAX_TX_BATCH: define({ description: "Fulfilments simulated, signed and sent in one JSON-RPC batch (smaller batches reach the mempool sooner)", type: "number", default: 40, validate: atLeast(1) }),
  MIN_BALANCE_WEI: define({ description: "Below this balance the daemon alerts (log + oracle_balance_low metric)", type: "string", default: "100000000000000000", validate: isWei }),
  HTTP_HOST: define({ description: "Listen address of the ops server (/metrics, /healthz, /readyz) and the adapter", type: "string", default: "127.0.0.1" }),
  HTTP_PORT: define({ description: "Listen port of the ops server (0: any free port)", type: "number", default: 8080, validate: atLeast(0) }),
  ADAPTER_ENABLED: define({ description: "Serve the Chainlink external-adapter endpoint (POST /adapter)", type: "boolean", default: false }),
  ADAPTER_ONLY: define({ description: "Run only the external adapter: do not follow the chain or send transactions", type: "boolean", default: false }),
  ADAPTER_TOKEN: define({ description: "Bearer token a Chainlink bridge must send to the adapter (empty: none)", type: "string", default: "", sensitive: true }),
  READY_MAX_LAG_BLOCKS: define({ description: "/readyz fails when the follower is this many blocks behind the head", type: "number", default: 20, validate: atLeast(1) }),
  LOG_LEVEL: define({ description: "pino log level", type: "string", default: "info", validate: (v) => (["fatal", "error", "warn", "info", "debug", "trace", "silent"].includes(v) ? undefined : "must be a pino level") }),
} as const satisfies Record<string, SettingDefinition>;

export type SettingName = keyof typeof SETTINGS;
export type Settings = { readonly [K in SettingName]: ValueOf<(typeof SETTINGS)[K]["type"]> };

export const ENV_PREFIX = "ORACLE_";

export type LoadSettingsOptions = {
  /** JSON file with setting names as keys, e.g. { "RPC_URL": "http://…" }. */
  file?: string;
  env?: Record<string, string | undefined>;
  /** Values given in code (tests, the demo); they win over file and environment. */
  overrides?: Partial<Record<SettingName, string | number | boolean>>;
};

/** Reads, parses and validates every setting; throws one ConfigError listing all problems. */
export function loadSettings(options: LoadSettingsOptions = {}): Settings {
  const env = options.env ?? process.env;
  let fromFile: Record<string, unknown> = {};
  if (options.file) {
    try {
      fromFile = JSON.parse(readFileSync(options.file, "utf8")) as Record<string, unknown>;
    } catch (cause) {
      throw new ConfigError(`Cannot read settings file ${options.file}`, { file: options.file, cause: String(cause) });
    }
    const unknown = Object.keys(fromFile).filter((k) => !(k in SETTINGS));
    if (unknown.length > 0) throw new ConfigError("Unknown settings in file", { unknown });
  }

  const problems: string[] = unknownEnvironmentSettings(env);
  const values: Record<string, unknown> = {};
  for (const [name, definition] of Object.entries(SETTINGS) as [SettingName, SettingDefinition][]) {
    const raw = options.overrides?.[name] ?? env[ENV_PREFIX + name] ?? fromFile[name];
    let value: unknown;
    if (raw === undefined || raw === "") value = definition.default;
    else value = parse(definition.type, raw);
    if (value === undefined || Number.isNaN(value)) {
      problems.push(`${name}: expected a ${definition.type}`);
      continue;
    }
    const complaint = (definition.validate as ((v: unknown) => string | undefined) | undefined)?.(value);
    if (complaint) problems.push(`${name} ${complaint}`);
    values[name] = value;
  }
  const settings = values as Settings;
  if (settings.PRIVATE_KEY === "" && settings.KEYSTORE_FILE === "") {
    problems.push("PRIVATE_KEY or KEYSTORE_FILE is required (the daemon signs fulfilments and gateway requests)");
  }
  if (settings.GATEWAY_ADDRESS === "") problems.push("GATEWAY_ADDRESS is required (gateway responses are verified against it)");
  if (settings.JOB_STORE === "postgres" && settings.DATABASE_URL === "") problems.push("DATABASE_URL is required with JOB_STORE=postgres");
  if (settings.REPLICA_ID === "") values.REPLICA_ID = `${hostname()}-${process.pid}`;
  if (settings.KEYSTORE_FILE !== "" && settings.KEYSTORE_PASSWORD === "") {
    problems.push("KEYSTORE_PASSWORD is required with KEYSTORE_FILE");
  }
  if (problems.length > 0) throw new ConfigError("Invalid oracle settings", { problems });
  return Object.freeze(settings);
}

/**
 * `ORACLE_*` variables that are not settings: the crash and quorum tests' failpoints
 * (oracle/failpoints.ts: FAILPOINT, BYZANTINE) and the deploy script's oracle address
 * (scripts/deploy.ts), which may share an operator's shell.
 */
const OTHER_ORACLE_VARIABLES = new Set(["FAILPOINT", "BYZANTINE", "SENDER"]);

/**
 * A misspelt variable (`ORACLE_CONFIRMATION`) would otherwise be ignored in silence and the
 * daemon would run on the default: an `ORACLE_*` variable within a few edits of a setting's name
 * is refused with the name it resembles. Others are left alone: Oracle Database's own
 * `ORACLE_HOME`, `ORACLE_SID`… may share the daemon's environment.
 */
function unknownEnvironmentSettings(env: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(env)) {
    const name = key.slice(ENV_PREFIX.length);
    if (!key.startsWith(ENV_PREFIX) || name in SETTINGS || OTHER_ORACLE_VARIABLES.has(name)) continue;
    const meant = nearestName(name, Object.keys(SETTINGS));
    if (meant) problems.push(`${key} is not a setting (did you mean ${ENV_PREFIX}${meant}?); \`oracle settings\` lists them`);
  }
  return problems;
}

function parse(type: SettingType, raw: unknown): unknown {
  if (type === "number") return typeof raw === "number" ? raw : Number(String(raw));
  if (type === "boolean") {
    if (typeof raw === "boolean") return raw;
    const text = String(raw).toLowerCase();
    return text === "true" || text === "1" ? true : text === "false" || text === "0" ? false : undefined;
  }
  return String(raw);
}

export const REDACTED = "[redacted]";

/** The settings with every sensitive value replaced, safe to log or print. */
export function printableSettings(settings: Settings): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, definition] of Object.entries(SETTINGS) as [SettingName, SettingDefinition][]) {
    const value = settings[name];
    const shown = definition.printable as ((v: unknown) => string) | undefined;
    out[name] = definition.sensitive && value !== "" ? (shown ? shown(value) : REDACTED) : value;
  }
  return out;
}

export function sensitiveSettingNames(): SettingName[] {
  return (Object.entries(SETTINGS) as [SettingName, SettingDefinition][]).filter(([, d]) => d.sensitive).map(([n]) => n);
}

/** The settings table as Markdown, for docs/oracle.md and `medcipher oracle settings`. */
export function settingsMarkdownTable(): string {
  const rows = ["| Setting (env `ORACLE_…`) | Type | Default | Sensitive | Description |", "|---|---|---|---|---|"];
  for (const [name, definition] of Object.entries(SETTINGS) as [SettingName, SettingDefinition][]) {
    const def = definition.default === undefined || definition.default === "" ? "—" : `\`${String(definition.default)}\``;
    rows.push(`| \`${name}\` | ${definition.type} | ${def} | ${definition.sensitive ? "yes" : ""} | ${definition.description} |`);
  }
  return rows.join("\n");
}
