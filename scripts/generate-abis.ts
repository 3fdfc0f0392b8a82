/**
 * Writes protocol/abi/generated.ts: the ABI of every contract a MedCipher component talks to, read
 * from the Hardhat artifacts, as `as const` arrays (so TypeScript types the contracts from them),
 * plus one errors-only ABI that decodes a revert from any of them.
 *
 *   npx hardhat build --quiet && node --import tsx scripts/generate-abis.ts   # what `npm run build` runs
 *   node --import tsx scripts/generate-abis.ts --check                        # exit 1 when the module is stale
 *
 * The output is deterministic (entries sorted by kind, name and signature; object keys sorted),
 * so a stale module shows up as a diff and test/protocol/abi.test.ts can regenerate it in memory.
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { id } from "ethers";

/** One ABI entry as the compiler writes it (only the fields the generator looks at are typed). */
type AbiEntry = { type: string; name?: string; inputs?: AbiParameter[]; [key: string]: unknown };
type AbiParameter = { type: string; components?: AbiParameter[]; [key: string]: unknown };

/** The contracts MedCipher's components call, by the export name of their ABI. */
export const GENERATED_CONTRACTS: readonly { exportName: string; sourceName: string; contractName: string }[] = [
  { exportName: "identityRegistryAbi", sourceName: "contracts/identity/IdentityRegistry.sol", contractName: "IdentityRegistry" },
  { exportName: "consentManagerAbi", sourceName: "contracts/consent/ConsentManager.sol", contractName: "ConsentManager" },
  { exportName: "recordRegistryAbi", sourceName: "contracts/records/RecordRegistry.sol", contractName: "RecordRegistry" },
  { exportName: "modelRegistryAbi", sourceName: "contracts/models/ModelRegistry.sol", contractName: "ModelRegistry" },
  { exportName: "predictionRouterAbi", sourceName: "contracts/prediction/PredictionRouter.sol", contractName: "PredictionRouter" },
  { exportName: "auditLogAnchorAbi", sourceName: "contracts/audit/AuditLogAnchor.sol", contractName: "AuditLogAnchor" },
  { exportName: "privacyGroupsAbi", sourceName: "contracts/privacy/PrivacyGroups.sol", contractName: "PrivacyGroups" },
  { exportName: "semaphoreAbi", sourceName: "@semaphore-protocol/contracts/Semaphore.sol", contractName: "Semaphore" },
  { exportName: "operatorAbi", sourceName: "@chainlink/contracts/src/v0.8/operatorforwarder/Operator.sol", contractName: "Operator" },
  { exportName: "oracleQuorumAbi", sourceName: "contracts/prediction/OracleQuorum.sol", contractName: "OracleQuorum" },
  { exportName: "linkTokenAbi", sourceName: "@chainlink/contracts/src/v0.8/shared/token/ERC677/LinkToken.sol", contractName: "LinkToken" },
  { exportName: "consentBridgeAbi", sourceName: "contracts/crosschain/ConsentBridge.sol", contractName: "ConsentBridge" },
  { exportName: "consentMirrorAbi", sourceName: "contracts/crosschain/ConsentMirror.sol", contractName: "ConsentMirror" },
];

export const GENERATED_MODULE = "protocol/abi/generated.ts";
const REPOSITORY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Thrown when two contracts' errors share a selector but not a signature: a revert could not be told apart. */
export class ErrorSelectorClashError extends Error {
  constructor(readonly selector: string, readonly signatures: readonly string[]) {
    super(`errors ${signatures.join(" and ")} share selector ${selector}; the combined errors ABI cannot decode both`);
  }
}

/** `Name(type,type)` with tuples expanded, as Solidity hashes it for selectors and topics. */
export function signatureOf(entry: AbiEntry): string {
  const typeOf = (p: AbiParameter): string =>
    p.type.startsWith("tuple") ? `(${(p.components ?? []).map(typeOf).join(",")})${p.type.slice("tuple".length)}` : p.type;
  return `${entry.name ?? ""}(${(entry.inputs ?? []).map(typeOf).join(",")})`;
}

const KIND_ORDER = ["constructor", "function", "event", "error", "fallback", "receive"];

function sortEntries(abi: readonly AbiEntry[]): AbiEntry[] {
  const rank = (e: AbiEntry) => (KIND_ORDER.indexOf(e.type) + KIND_ORDER.length + 1) % (KIND_ORDER.length + 1);
  return [...abi].sort((a, b) => rank(a) - rank(b) || compare(a.name ?? "", b.name ?? "") || compare(signatureOf(a), signatureOf(b)));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Object keys in alphabetical order, array order kept (parameter order is meaning). */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(Object.keys(value).sort(compare).map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]));
}

/**
 * Every error of every contract, once per signature (the same error declared in two contracts,
 * e.g. SignatureExpired(uint256), is one entry; the first contract's parameter names win).
 */
export function combinedErrors(abis: readonly (readonly AbiEntry[])[]): AbiEntry[] {
  const bySelector = new Map<string, AbiEntry>();
  for (const abi of abis) {
    for (const entry of abi.filter((e) => e.type === "error")) {
      const signature = signatureOf(entry);
      const selector = id(signature).slice(0, 10);
      const known = bySelector.get(selector);
      if (known && signatureOf(known) !== signature) throw new ErrorSelectorClashError(selector, [signatureOf(known), signature]);
      if (!known) bySelector.set(selector, entry);
    }
  }
  return sortEntries([...bySelector.values()]);
}

async function readArtifactAbi(artifactsDir: string, sourceName: string, contractName: string): Promise<AbiEntry[]> {
  const file = path.join(artifactsDir, sourceName, `${contractName}.json`);
  const artifact = JSON.parse(await readFile(file, "utf8")) as { abi?: AbiEntry[] };
  if (!Array.isArray(artifact.abi)) throw new Error(`${file} has no ABI; run \`npx hardhat build\` first`);
  return artifact.abi;
}

/** The text of protocol/abi/generated.ts for the artifacts in `artifactsDir`. */
export async function renderAbiModule(artifactsDir = path.join(REPOSITORY, "artifacts")): Promise<string> {
  const abis = await Promise.all(GENERATED_CONTRACTS.map((c) => readArtifactAbi(artifactsDir, c.sourceName, c.contractName)));
  const literal = (abi: readonly AbiEntry[]) => JSON.stringify(sortKeys(sortEntries(abi)), null, 2);
  const parts = [
    "// Generated by scripts/generate-abis.ts from the Hardhat artifacts: do not edit.",
    "// Regenerate with `npm run build` (hardhat build, then `node --import tsx scripts/generate-abis.ts`).",
    "",
    ...GENERATED_CONTRACTS.flatMap((c, i) => [
      `/** ${c.contractName} (${c.sourceName}). */`,
      `export const ${c.exportName} = ${literal(abis[i]!)} as const;`,
      "",
    ]),
    "/** Every custom error of the contracts above, once each: decodes a revert from any of them. */",
    `export const medCipherErrorsAbi = ${literal(combinedErrors(abis))} as const;`,
    "",
  ];
  return parts.join("\n");
}

async function main(): Promise<void> {
  const target = path.join(REPOSITORY, GENERATED_MODULE);
  const text = await renderAbiModule();
  if (process.argv.includes("--check")) {
    const current = await readFile(target, "utf8").catch(() => "");
    if (current !== text) {
      process.stderr.write(`${GENERATED_MODULE} is stale: run \`npm run build\`\n`);
      process.exit(1);
    }
    return;
  }
  await writeFile(target, text);
  process.stdout.write(`wrote ${GENERATED_MODULE} (${GENERATED_CONTRACTS.length} contracts)\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
