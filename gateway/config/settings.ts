import { readFileSync } from "node:fs";

import { nearestName } from "../../core/didYouMean.js";
import { BaseError } from "../../core/errors.js";
import { parseCorsOrigins } from "../cors.js";
import type { GatewayBackends } from "../store/dataDir.js";

/**
 * Every setting of `medcipher gateway serve` in one self-documenting table, as the oracle's
 * (oracle/config/settings.ts): what it is, its type and default, how it is validated and whether
 * it is sensitive. Values come from a JSON file (`--config`) and `GATEWAY_<NAME>` environment
 * variables (the environment wins over the file); the command's flags win over both. They are
 * validated once, at start, all problems reported at once (exit 78).
 *
 * The chain endpoint, the deployment file and the gateway's identity (keystore and its password)
 * are the CLI's global options (`--rpc`/`MEDCIPHER_RPC`, `--deployment`, `--keystore`,
 * `MEDCIPHER_PASSWORD`), shared with every other command, and not repeated here.
 */
type SettingType = "string" | "number";
type ValueOf<T extends SettingType> = T extends "number" ? number : string;

export type GatewaySettingDefinition<T extends SettingType = SettingType> = {
  description: string;
  type: T;
  default: ValueOf<T>;
  /** Returns an explanation when the value is unacceptable. */
  validate?: (value: ValueOf<T>) => string | undefined;
  sensitive?: boolean;
};

const atLeast = (min: number) => (v: number) => (Number.isInteger(v) && v >= min ? undefined : `must be an integer ≥ ${min}`);
const portNumber = (v: number) => (Number.isInteger(v) && v >= 0 && v <= 65_535 ? undefined : "must be a TCP port (0–65535; 0: any free port)");
const nonEmpty = (v: string) => (v.trim() === "" ? "must not be empty" : undefined);
const originList = (v: string) => {
  const { problems } = parseCorsOrigins(v);
  return problems.length === 0 ? undefined : `must be a comma list of exact origins: ${problems.join("; ")}`;
};
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

function define<T extends SettingType>(definition: GatewaySettingDefinition<T>): GatewaySettingDefinition<T> {
  return definition;
}

const MiB = 1024 * 1024;

export const GATEWAY_SETTINGS = {
  DATA_DIR: define({ description: "Directory of blobs, metadata, the audit log and the used nonces", type: "string", default: "./gateway-data", validate: nonEmpty }),
  HOST: define({ description: "Interface to listen on", type: "string", default: "127.0.0.1", validate: nonEmpty }),
  PORT: define({ description: "TCP port (0: any free port)", type: "number", default: 8787, validate: portNumber }),
  ANCHOR_INTERVAL_SECONDS: define({ description: "Anchor the audit-log tree head on-chain this often (0: never)", type: "number", default: 60, validate: atLeast(0) }),
  BLOCK_TTL_MS: define({ description: "Reuse a fetched head block this long: chain views are cached per block, so authorisation is at most one block plus this stale", type: "number", default: 250, validate: atLeast(0) }),
  START_BLOCK: define({ description: "First block searched for the router's AnonymousPredictionRequested events (an anonymous request's keysHash is only in its event): the router's deployment block", type: "number", default: 0, validate: atLeast(0) }),
  RATE_PER_SECOND: define({ description: "Sustained requests per second per signer", type: "number", default: 100, validate: atLeast(1) }),
  BURST: define({ description: "Requests a signer may burst before RATE_PER_SECOND applies", type: "number", default: 200, validate: atLeast(1) }),
  REQUEST_TIMEOUT_MS: define({ description: "Per-request time limit (body upload, chain checks, response); answered 503 past it", type: "number", default: 30_000, validate: atLeast(100) }),
  TIMESTAMP_WINDOW_SECONDS: define({ description: "Accepted clock difference between a request's timestamp and the gateway, either way", type: "number", default: 120, validate: atLeast(1) }),
  MAX_IN_FLIGHT_UPLOAD_BYTES: define({ description: "Upload bytes in progress at once, all connections; beyond it 503 GATEWAY_BUSY (keep it ≥ the largest kind's limit, 128 MiB)", type: "number", default: 1024 * MiB, validate: atLeast(128 * MiB) }),
  RECORD_SIGNATURE_MAX_AGE_SECONDS: define({ description: "Oldest device ML-DSA record signature accepted at upload (its signedAt, seconds back); an older signed record is refused as GATEWAY_RECORD_SIGNATURE_STALE (a replayed copy)", type: "number", default: 3600, validate: atLeast(1) }),
  READY_CHAIN_TIMEOUT_MS: define({ description: "/readyz fails the chain check when the head block does not arrive within this", type: "number", default: 5_000, validate: atLeast(100) }),
  READY_MAX_BLOCK_AGE_SECONDS: define({ description: "/readyz fails the chain check when the head block is older than this (0: no bound; a chain mining only on demand has old heads). Set it on a public chain, e.g. 120 on Sepolia", type: "number", default: 0, validate: atLeast(0) }),
  CORS_ORIGINS: define({ description: "Comma list of exact origins (`https://app.example,http://127.0.0.1:5173`) whose pages may call the gateway from a browser: preflights answered, the x-medcipher-* response headers exposed. Empty: no CORS headers at all, cross-origin pages are refused", type: "string", default: "", validate: originList }),
  FIREWALL: define({ description: "The ingestion firewall (POST /v1/firewall/he-input/:rawId re-randomises a prediction input under the patient's public key and stores the result): `required` refuses direct he-input uploads, so no client can skip it; `offered` also takes direct uploads (older clients); `off` runs no firewall", type: "string", default: "required", validate: (v) => (["required", "offered", "off"].includes(v) ? undefined : "must be required, offered or off") }),
  FIREWALL_KEY_CACHE: define({ description: "Patients' public keys the firewall keeps loaded (least recently used evicted): ~32 KiB each at N=2048", type: "number", default: 256, validate: atLeast(1) }),
  BLOB_STORE: define({ description: "Where blobs are kept: `directory` (under DATA_DIR, the embedded default) or `s3` (an S3-compatible bucket: AWS, MinIO, R2…; uploads are spooled and verified under DATA_DIR/spool first). Credentials: the standard AWS variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE) or the instance's role", type: "string", default: "directory", validate: (v) => (["directory", "s3"].includes(v) ? undefined : "must be directory or s3") }),
  S3_ENDPOINT: define({ description: "S3 endpoint URL (`http://127.0.0.1:9000` for MinIO); empty: AWS's endpoint for S3_REGION", type: "string", default: "", validate: (v) => (v === "" || /^https?:\/\/[^\s/]+/.test(v) ? undefined : "must be an http(s) URL or empty") }),
  S3_BUCKET: define({ description: "The bucket (must exist; required with BLOB_STORE=s3)", type: "string", default: "" }),
  S3_REGION: define({ description: "The bucket's region (MinIO accepts any, e.g. us-east-1)", type: "string", default: "us-east-1", validate: nonEmpty }),
  S3_PREFIX: define({ description: "Key prefix inside the bucket (e.g. `gateway/`), so deployments can share a bucket", type: "string", default: "" }),
  S3_FORCE_PATH_STYLE: define({ description: "Path-style URLs (`endpoint/bucket/key`), which MinIO and most self-hosted endpoints need: `true` or `false`", type: "string", default: "false", validate: (v) => (["true", "false"].includes(v) ? undefined : "must be true or false") }),
  DATABASE_URL: define({ description: "Postgres connection URL (`postgres://user:password@host:5432/db`). Set: used nonces, blob metadata, group-access nullifiers and the audit log are kept there, shared by every replica (one audit chain, one anchoring replica); empty: all under DATA_DIR", type: "string", default: "", sensitive: true, validate: (v) => (v === "" || /^postgres(ql)?:\/\//.test(v) ? undefined : "must be a postgres:// or postgresql:// URL or empty") }),
  LOG_LEVEL: define({ description: "pino log level", type: "string", default: "info", validate: (v) => (LOG_LEVELS.includes(v) ? undefined : `must be one of ${LOG_LEVELS.join(", ")}`) }),
} as const satisfies Record<string, GatewaySettingDefinition>;

export type GatewaySettingName = keyof typeof GATEWAY_SETTINGS;
export type GatewaySettings = { readonly [K in GatewaySettingName]: ValueOf<(typeof GATEWAY_SETTINGS)[K]["type"]> };

export const GATEWAY_ENV_PREFIX = "GATEWAY_";

/** The configuration could not be used: `details.problems` lists every problem found. Exit 78. */
export class GatewayConfigError extends BaseError {
  override name = "GatewayConfigError";
  constructor(message: string, details: { problems: string[]; file?: string }) {
    super(message, { code: "GATEWAY_CONFIG_INVALID", details });
  }
}

export type LoadGatewaySettingsOptions = {
  /** JSON file with setting names as keys, e.g. { "PORT": 8787 }. */
  file?: string;
  env?: Record<string, string | undefined>;
  /** Values from the command line (flags); they win over file and environment. */
  overrides?: Partial<Record<GatewaySettingName, string | number>>;
};

/** Reads, parses and validates every setting; throws one GatewayConfigError listing all problems. */
export function loadGatewaySettings(options: LoadGatewaySettingsOptions = {}): GatewaySettings {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  let fromFile: Record<string, unknown> = {};
  if (options.file) {
    try {
      fromFile = JSON.parse(readFileSync(options.file, "utf8")) as Record<string, unknown>;
      if (typeof fromFile !== "object" || fromFile === null || Array.isArray(fromFile)) throw new Error("not a JSON object");
    } catch (cause) {
      throw new GatewayConfigError(`Cannot read gateway settings file ${options.file}`, { file: options.file, problems: [String(cause)] });
    }
    for (const key of Object.keys(fromFile)) {
      if (key in GATEWAY_SETTINGS) continue;
      const meant = nearestName(key, Object.keys(GATEWAY_SETTINGS));
      problems.push(`${key} (in ${options.file}) is not a setting${meant ? ` (did you mean ${meant}?)` : ""}; \`gateway settings\` lists them`);
    }
  }
  problems.push(...unknownEnvironmentSettings(env));

  const values: Record<string, unknown> = {};
  for (const [name, definition] of Object.entries(GATEWAY_SETTINGS) as [GatewaySettingName, GatewaySettingDefinition][]) {
    const raw = options.overrides?.[name] ?? env[GATEWAY_ENV_PREFIX + name] ?? fromFile[name];
    const value = raw === undefined || raw === "" ? definition.default : parse(definition.type, raw);
    if (value === undefined) {
      problems.push(`${name}: expected a ${definition.type}, got ${definition.sensitive ? "a value" : JSON.stringify(raw)}`);
      continue;
    }
    const complaint = (definition.validate as ((v: unknown) => string | undefined) | undefined)?.(value);
    if (complaint) problems.push(`${name} ${complaint}`);
    values[name] = value;
  }
  if (values.BLOB_STORE === "s3" && values.S3_BUCKET === "") problems.push("S3_BUCKET must be set when BLOB_STORE is s3");
  if (problems.length > 0) throw new GatewayConfigError("Invalid gateway settings", { problems, ...(options.file ? { file: options.file } : {}) });
  return Object.freeze(values as GatewaySettings);
}

/**
 * A misspelt variable (`GATEWAY_BLOCK_TTL`) would otherwise be ignored and the default used: a
 * `GATEWAY_*` variable within a few edits of a setting's name is refused with the name it
 * resembles. Others (another program's `GATEWAY_INTERFACE`, CGI's) are left alone.
 */
function unknownEnvironmentSettings(env: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(env)) {
    if (!key.startsWith(GATEWAY_ENV_PREFIX)) continue;
    const name = key.slice(GATEWAY_ENV_PREFIX.length);
    if (name in GATEWAY_SETTINGS) continue;
    const meant = nearestName(name, Object.keys(GATEWAY_SETTINGS));
    if (meant) problems.push(`${key} is not a setting (did you mean ${GATEWAY_ENV_PREFIX}${meant}?); \`gateway settings\` lists them`);
  }
  return problems;
}

function parse(type: SettingType, raw: unknown): unknown {
  if (type === "number") {
    const value = typeof raw === "number" ? raw : String(raw).trim() === "" ? NaN : Number(String(raw));
    return Number.isFinite(value) ? value : undefined;
  }
  return typeof raw === "string" || typeof raw === "number" ? String(raw) : undefined;
}

/** The allow-list of CORS_ORIGINS as origins (validated by loadGatewaySettings). */
export function gatewayCorsOrigins(settings: Pick<GatewaySettings, "CORS_ORIGINS">): string[] {
  return parseCorsOrigins(settings.CORS_ORIGINS).origins;
}

/** Where blobs and shared state live, from BLOB_STORE, S3_* and DATABASE_URL (validated by loadGatewaySettings). */
export function gatewayBackends(settings: Pick<GatewaySettings, "BLOB_STORE" | "S3_ENDPOINT" | "S3_BUCKET" | "S3_REGION" | "S3_PREFIX" | "S3_FORCE_PATH_STYLE" | "DATABASE_URL">): GatewayBackends {
  return {
    blobStore: settings.BLOB_STORE === "s3"
      ? {
        kind: "s3", bucket: settings.S3_BUCKET, region: settings.S3_REGION, prefix: settings.S3_PREFIX, forcePathStyle: settings.S3_FORCE_PATH_STYLE === "true",
        ...(settings.S3_ENDPOINT ? { endpoint: settings.S3_ENDPOINT } : {}),
      }
      : { kind: "directory" },
    ...(settings.DATABASE_URL ? { databaseUrl: settings.DATABASE_URL } : {}),
  };
}

export const REDACTED = "[redacted]";

/** The settings with every sensitive value replaced: what the start-up log line shows. */
export function printableGatewaySettings(settings: GatewaySettings): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, definition] of Object.entries(GATEWAY_SETTINGS) as [GatewaySettingName, GatewaySettingDefinition][]) {
    out[name] = definition.sensitive && settings[name] !== "" ? REDACTED : settings[name];
  }
  return out;
}

/** The settings table as Markdown, for docs/gateway.md and `medcipher gateway settings`. */
export function gatewaySettingsMarkdownTable(): string {
  const rows = ["| Setting (env `GATEWAY_…`) | Type | Default | Sensitive | Description |", "|---|---|---|---|---|"];
  for (const [name, definition] of Object.entries(GATEWAY_SETTINGS) as [GatewaySettingName, GatewaySettingDefinition][]) {
    const def = definition.default === "" ? "—" : `\`${String(definition.default)}\``;
    rows.push(`| \`${name}\` | ${definition.type} | ${def} | ${definition.sensitive ? "yes" : ""} | ${definition.description} |`);
  }
  return rows.join("\n");
}
