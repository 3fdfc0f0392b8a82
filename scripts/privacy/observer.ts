/**
 * A chain observer: what anyone with a JSON-RPC endpoint can learn about who did what, from the
 * chain alone (no gateway, no oracle, no mempool timing). It reads every block, transaction,
 * receipt and log; decodes calldata and logs against every ABI it is given (by selector and
 * topic, whatever address emitted them) and also scans their raw 32-byte words; calls every
 * view of every deployed contract with arguments drawn from what it has seen; and then tries to
 * attribute each prediction request, consent grant and device binding to a patient address.
 *
 * Used by test/privacy/linkability.test.ts (the control must link every public form; the private
 * forms must link none) and by `npm run bench:privacy`.
 *
 * How it links. Every transaction, log and view answer becomes a group of tokens (addresses and
 * 32-byte values; small numbers are not identifying and never join anything). For a token t,
 * patients(t) is the set of patient addresses that appear in a group with t (a patient is any
 * non-zero address seen in a field named `patient`, or for which `isPatient` answered true). A
 * subject (a request id, a consent grant, a device binding) is linked to patient P when:
 *   1. P appears in a group with the subject's id (an event naming both, getRequest's answer...), or
 *   2. a token of the subject's defining transaction — its sender, a calldata word, a word of one
 *      of its logs (keysHash, inputHash, an access key, a requester) — has patients(t) = {P}
 *      exactly: a token shared by several patients (a parameter-set id, a relayer serving many,
 *      governance) proves nothing, one seen with a single patient names that patient (a
 *      registered keysHash reused, a clinician with a single consenting patient), or
 *   3. the subject carried a Semaphore proof whose Merkle root's group (rebuilt from the
 *      Semaphore membership events) had a single member, whose commitment names P, or
 *   4. the subject's block changed the answer of a one-address view (accountOf, nonces,
 *      epochOf, commitmentOf...) for P and for no other patient (a state diff, block by block).
 * Linking is deliberately eager (a false link is counted as a link): the private forms must show
 * zero even for an observer that over-claims.
 *
 * Not covered: timing and amount correlation across transactions (a patient who joins and then
 * requests at once through a relayer), network-level metadata, and anything off-chain.
 */
import {
  Interface,
  getAddress,
  type EventFragment,
  type FunctionFragment,
  type InterfaceAbi,
  type Log,
  type ParamType,
  type Provider,
  type TransactionResponse,
} from "ethers";

import * as generated from "../../protocol/abi/generated.js";
import { Category, Purpose } from "../../protocol/codes.js";

/** Contract name → address, as in deployments/<chainId>.json or `deployMedCipher().addresses`. */
export type ObserverDeployment = Record<string, string>;

export type ObserveOptions = {
  provider: Provider;
  deployment: ObserverDeployment;
  /**
   * ABIs by contract name (the deployment's names). Default: every ABI in protocol/abi/generated.ts
   * (`identityRegistryAbi` → `IdentityRegistry`). Extra ones (Semaphore's) are merged in.
   */
  abis?: Record<string, InterfaceAbi>;
  fromBlock?: number;
  toBlock?: number;
  /** At most this many calls of one view (the product of its argument pools is cut). */
  maxCallsPerFunction?: number;
  /** Rounds of view calls: each round draws arguments from everything seen so far. */
  viewRounds?: number;
};

export type SubjectKind = "request" | "consent" | "deviceBinding";

export type Link = {
  kind: SubjectKind;
  /** Request id, or `<event>@<tx>#<log index>` for a consent or binding. */
  subject: string;
  patients: string[];
  /** Non-patient parties the defining event names (grantee, provider, device). */
  counterparties: string[];
  /** Why, one line each (at most 12). */
  evidence: string[];
  /** Which of the rules above named a patient: 1 the id, 2 a token of the defining tx, 3 a group of one, 4 a state diff. */
  rules: number[];
};

export type Subject = {
  kind: SubjectKind;
  id: string;
  event: string;
  block: number;
  txHash: string;
  /** Size of the Semaphore group the subject's proof was made against, when it carried one. */
  anonymitySet?: number;
};

export type ViewStat = { contract: string; signature: string; calls: number; reverted: number; truncated: boolean; skipped?: string };

export type ObserverReport = {
  blocks: number;
  transactions: number;
  receipts: number;
  logs: number;
  decodedLogs: number;
  undecodedLogs: number;
  decodedCalls: number;
  undecodedCalls: number;
  viewCalls: number;
  views: ViewStat[];
  patients: string[];
  subjects: Subject[];
  links: Link[];
  linkedRequests: number;
  linkedConsents: number;
  /** Consents whose patient and a grantee (or group) the observer both named. */
  linkedConsentPairs: number;
  linkedDeviceBindings: number;
  requests: number;
  consents: number;
  deviceBindings: number;
};

// ─── Tokens ───────────────────────────────────────────────────────────────────────────────────

/** One decoded value: where it came from, its ABI type and its normalised form. */
type Field = { path: string; name: string; type: string; value: unknown; token?: string; small?: bigint };

type Group = {
  id: number;
  kind: "tx" | "log" | "view";
  label: string;
  name?: string;
  contract?: string;
  block?: number;
  txHash?: string;
  logIndex?: number;
  fields: Field[];
  tokens: Set<string>;
};

const ZERO_ADDRESS = "0x" + "0".repeat(40);
const SMALL_LIMIT = 1n << 64n;

/** An address token (lower case), a 32-byte token (0x + 64 hex), or undefined for a small/zero value. */
function tokenOfWord(word: bigint): string | undefined {
  if (word < SMALL_LIMIT) return undefined;
  if (word < 1n << 160n) return "0x" + word.toString(16).padStart(40, "0");
  return "0x" + word.toString(16).padStart(64, "0");
}

/** Every 32-byte word of `hex` (no selector) as tokens: catches what no ABI decodes. */
function wordTokens(hex: string): string[] {
  const body = hex.startsWith("0x") ? hex.slice(2) : hex;
  const out: string[] = [];
  for (let i = 0; i + 64 <= body.length; i += 64) {
    const token = tokenOfWord(BigInt("0x" + body.slice(i, i + 64)));
    if (token) out.push(token);
  }
  return out;
}

const HEX64 = /(?:0x)?([0-9a-fA-F]{64})/g;

/** Flattens a decoded value into fields (tuples by component name, arrays by index). */
function flatten(param: ParamType, value: unknown, path: string, out: Field[]): void {
  const name = param.name || path;
  if (param.isTuple()) {
    const components = param.components ?? [];
    components.forEach((c, i) => flatten(c, (value as unknown[])[i], `${path}.${c.name || i}`, out));
    return;
  }
  if (param.isArray()) {
    (value as unknown[]).forEach((v, i) => flatten(param.arrayChildren!, v, `${path}[${i}]`, out));
    return;
  }
  const field: Field = { path, name, type: param.type, value };
  if (param.type === "address") {
    const a = String(value).toLowerCase();
    if (a !== ZERO_ADDRESS) field.token = a;
  } else if (param.type.startsWith("uint") || param.type.startsWith("int")) {
    const n = BigInt(value as bigint);
    if (n >= 0n && n < SMALL_LIMIT) field.small = n;
    else field.token = "0x" + BigInt.asUintN(256, n).toString(16).padStart(64, "0");
  } else if (param.type === "bytes32") {
    const n = BigInt(String(value));
    if (n !== 0n) field.token = n < SMALL_LIMIT ? undefined : String(value).toLowerCase();
    if (n !== 0n && n < SMALL_LIMIT) field.small = n;
  } else if (param.type === "bool") {
    field.small = value ? 1n : 0n;
  }
  out.push(field);
  // Strings and dynamic bytes may carry hashes (a content-addressed URI names its blob).
  if (param.type === "string") {
    for (const m of String(value).matchAll(HEX64)) out.push({ path: `${path}~hash`, name, type: "bytes32", value: "0x" + m[1]!.toLowerCase(), token: "0x" + m[1]!.toLowerCase() });
  } else if (param.type === "bytes") {
    for (const t of wordTokens(String(value))) out.push({ path: `${path}~word`, name, type: "bytes32", value: t, token: t });
  }
}

function tokensOf(fields: readonly Field[]): Set<string> {
  return new Set(fields.flatMap((f) => (f.token ? [f.token] : [])));
}

function isNonZero(f: Field): boolean {
  if (f.token) return true;
  if (f.small !== undefined) return f.small !== 0n;
  if (f.type === "string" || f.type === "bytes") return String(f.value).length > (f.type === "bytes" ? 2 : 0);
  return false;
}

// ─── ABIs ─────────────────────────────────────────────────────────────────────────────────────

/** Every ABI protocol/abi/generated.ts exports, by contract name (`predictionRouterAbi` → `PredictionRouter`). */
export function generatedAbis(): Record<string, InterfaceAbi> {
  const out: Record<string, InterfaceAbi> = {};
  for (const [exportName, abi] of Object.entries(generated)) {
    if (!exportName.endsWith("Abi") || exportName === "medCipherErrorsAbi") continue;
    const base = exportName.slice(0, -"Abi".length);
    out[base.charAt(0).toUpperCase() + base.slice(1)] = abi as unknown as InterfaceAbi;
  }
  return out;
}

type Decoders = {
  interfaces: Map<string, Interface>;
  events: Map<string, { contract: string; iface: Interface; fragment: EventFragment }[]>;
  functions: Map<string, { contract: string; iface: Interface; fragment: FunctionFragment }[]>;
};

function decodersOf(abis: Record<string, InterfaceAbi>): Decoders {
  const decoders: Decoders = { interfaces: new Map(), events: new Map(), functions: new Map() };
  for (const [contract, abi] of Object.entries(abis)) {
    const iface = new Interface(abi);
    decoders.interfaces.set(contract, iface);
    iface.forEachEvent((fragment) => {
      const list = decoders.events.get(fragment.topicHash) ?? [];
      list.push({ contract, iface, fragment });
      decoders.events.set(fragment.topicHash, list);
    });
    iface.forEachFunction((fragment) => {
      const list = decoders.functions.get(fragment.selector) ?? [];
      list.push({ contract, iface, fragment });
      decoders.functions.set(fragment.selector, list);
    });
  }
  return decoders;
}

// ─── The observer ─────────────────────────────────────────────────────────────────────────────

class Knowledge {
  readonly groups: Group[] = [];
  readonly byToken = new Map<string, Set<number>>();
  /** Values seen under each field name, and by type: the view calls' argument pools. */
  readonly byName = new Map<string, Map<string, unknown>>();
  readonly byType = new Map<string, Map<string, unknown>>();
  readonly patients = new Set<string>();
  readonly eoas = new Set<string>();
  readonly contracts = new Set<string>();

  add(group: Omit<Group, "id" | "tokens">, extraTokens: readonly string[] = []): Group {
    const full: Group = { ...group, id: this.groups.length, tokens: tokensOf(group.fields) };
    for (const t of extraTokens) full.tokens.add(t);
    this.groups.push(full);
    for (const t of full.tokens) {
      let set = this.byToken.get(t);
      if (!set) this.byToken.set(t, (set = new Set()));
      set.add(full.id);
    }
    for (const f of group.fields) {
      if (!isNonZero(f) && f.type !== "bool") continue;
      const key = valueKey(f.value);
      const name = f.name.toLowerCase();
      if (!this.byName.has(name)) this.byName.set(name, new Map());
      this.byName.get(name)!.set(key, f.value);
      // Pools by type come from the chain's own records only: a view's computed answers (any
      // hash of any arguments) would flood them with values nobody ever used.
      if (group.kind !== "view") {
        if (!this.byType.has(f.type)) this.byType.set(f.type, new Map());
        this.byType.get(f.type)!.set(key, f.value);
      }
      // A patient is who the chain says is one: an event's or a view answer's `patient`, never a
      // view argument (the observer itself put any address there) nor calldata (anyone can send any).
      if (name === "patient" && f.token && f.type === "address" && (group.kind === "log" || f.path.startsWith("out."))) this.patients.add(f.token);
    }
    return full;
  }

  /** Patients that share a group with `token` (a patient is only itself). */
  patientsOf(token: string): Set<string> {
    if (this.patients.has(token)) return new Set([token]);
    const out = new Set<string>();
    for (const id of this.byToken.get(token) ?? []) {
      for (const t of this.groups[id]!.tokens) if (t !== token && this.patients.has(t)) out.add(t);
    }
    return out;
  }
}

function valueKey(value: unknown): string {
  return typeof value === "object" && value !== null
    ? JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))
    : String(value).toLowerCase();
}

/** Reads the chain and builds the knowledge graph, then links. */
export async function observeChain(options: ObserveOptions): Promise<ObserverReport> {
  const { provider } = options;
  const abis = { ...generatedAbis(), ...(options.abis ?? {}) };
  const decoders = decodersOf(abis);
  const knowledge = new Knowledge();
  const nameOfAddress = new Map<string, string>();
  for (const [name, address] of Object.entries(options.deployment)) nameOfAddress.set(address.toLowerCase(), name);

  const report: ObserverReport = {
    blocks: 0, transactions: 0, receipts: 0, logs: 0, decodedLogs: 0, undecodedLogs: 0, decodedCalls: 0, undecodedCalls: 0,
    viewCalls: 0, views: [], patients: [], subjects: [], links: [],
    linkedRequests: 0, linkedConsents: 0, linkedConsentPairs: 0, linkedDeviceBindings: 0, requests: 0, consents: 0, deviceBindings: 0,
  };
  /** The groups of each transaction (its own, then its logs), for the defining-transaction rule. */
  const groupsOfTx = new Map<string, Group[]>();
  const senderOfTx = new Map<string, string>();

  const fromBlock = options.fromBlock ?? 0;
  const toBlock = options.toBlock ?? (await provider.getBlockNumber());
  for (let n = fromBlock; n <= toBlock; n++) {
    const block = await provider.getBlock(n, true);
    if (!block) continue;
    report.blocks++;
    for (const tx of block.prefetchedTransactions) {
      report.transactions++;
      const receipt = await provider.getTransactionReceipt(tx.hash);
      if (!receipt) continue;
      report.receipts++;
      const from = tx.from.toLowerCase();
      senderOfTx.set(tx.hash, from);
      knowledge.eoas.add(from);
      if (receipt.contractAddress) knowledge.contracts.add(receipt.contractAddress.toLowerCase());
      const txGroup = decodeTransaction(tx, decoders, nameOfAddress, report, knowledge);
      const groups = [knowledge.add({ ...txGroup, block: n, txHash: tx.hash })];
      for (const log of receipt.logs) {
        report.logs++;
        const logGroup = decodeLog(log, decoders, nameOfAddress, report);
        groups.push(knowledge.add({ ...logGroup, block: n, txHash: tx.hash, logIndex: log.index }));
      }
      groupsOfTx.set(tx.hash, groups);
    }
  }
  for (const address of nameOfAddress.keys()) knowledge.contracts.add(address);
  for (const c of knowledge.contracts) knowledge.eoas.delete(c);

  await probeViews(options, abis, knowledge, report);
  const touched = await patientStateChanges(options, abis, knowledge, fromBlock, toBlock, report);

  link(knowledge, groupsOfTx, senderOfTx, nameOfAddress, touched, report);
  report.patients = [...knowledge.patients].sort();
  return report;
}

function decodeTransaction(
  tx: TransactionResponse,
  decoders: Decoders,
  names: Map<string, string>,
  report: ObserverReport,
  knowledge: Knowledge,
): Omit<Group, "id" | "tokens"> {
  const fields: Field[] = [{ path: "from", name: "from", type: "address", value: tx.from, token: tx.from.toLowerCase() }];
  if (tx.to) fields.push({ path: "to", name: "to", type: "address", value: tx.to, token: tx.to.toLowerCase() });
  const to = tx.to?.toLowerCase();
  const contract = to ? names.get(to) : undefined;
  let name: string | undefined;
  if (tx.data.length >= 10 && tx.to) {
    const candidates = decoders.functions.get(tx.data.slice(0, 10)) ?? [];
    const ordered = [...candidates.filter((c) => c.contract === contract), ...candidates.filter((c) => c.contract !== contract)];
    for (const { iface, fragment } of ordered) {
      try {
        const args = iface.decodeFunctionData(fragment, tx.data);
        fragment.inputs.forEach((p, i) => flatten(p, args[i], p.name || `arg${i}`, fields));
        rememberComposites(knowledge, fragment, args);
        name = fragment.name;
        break;
      } catch {
        // another ABI with the same selector, or undecodable
      }
    }
    if (name) report.decodedCalls++;
    else report.undecodedCalls++;
  }
  // Raw words too: what the ABI decode missed. Not of a contract creation: its data is bytecode
  // (thousands of meaningless words), and deployments name no patient.
  const raw = tx.data.length > 10 && tx.to ? wordTokens(tx.data.slice(10)) : [];
  for (const t of raw) fields.push({ path: "calldata~word", name: "word", type: "bytes32", value: t, token: t });
  const label = `tx ${tx.hash.slice(0, 10)} ${contract ?? to ?? "create"}.${name ?? (tx.to ? "?" : "deploy")} from ${tx.from}`;
  return { kind: "tx", label, name, contract, fields };
}

function decodeLog(log: Log, decoders: Decoders, names: Map<string, string>, report: ObserverReport): Omit<Group, "id" | "tokens"> {
  const emitter = log.address.toLowerCase();
  const contract = names.get(emitter);
  const fields: Field[] = [{ path: "emitter", name: "emitter", type: "address", value: log.address, token: emitter }];
  let name: string | undefined;
  const candidates = log.topics[0] ? (decoders.events.get(log.topics[0]) ?? []) : [];
  const ordered = [...candidates.filter((c) => c.contract === contract), ...candidates.filter((c) => c.contract !== contract)];
  for (const { iface, fragment } of ordered) {
    try {
      const args = iface.decodeEventLog(fragment, log.data, log.topics);
      fragment.inputs.forEach((p, i) => flatten(p, args[i], p.name || `arg${i}`, fields));
      name = fragment.name;
      break;
    } catch {
      // a same-topic event with other indexing
    }
  }
  if (name) report.decodedLogs++;
  else report.undecodedLogs++;
  for (const t of [...log.topics.slice(1).flatMap((topic) => wordTokens(topic)), ...wordTokens(log.data)]) {
    fields.push({ path: "log~word", name: "word", type: "bytes32", value: t, token: t });
  }
  return { kind: "log", label: `log ${contract ?? emitter}.${name ?? "?"} (tx ${log.transactionHash.slice(0, 10)})`, name, contract, fields };
}

// ─── Views ────────────────────────────────────────────────────────────────────────────────────

const CODE_POOLS: Record<string, bigint[]> = {
  purpose: Object.values(Purpose).filter((p) => p !== 0).map(BigInt),
  category: Object.values(Category).map(BigInt),
};

/** Candidate values for one view parameter, best first (seen under the same name, then by type). */
function poolFor(param: ParamType, knowledge: Knowledge, addressParams: number): unknown[] {
  const name = param.name.toLowerCase();
  const named = [...(knowledge.byName.get(name)?.values() ?? [])];
  if (param.type === "address") {
    // Whose data: only patients are worth asking about (the observer links to patients).
    if (name === "patient" && knowledge.patients.size > 0) return [...knowledge.patients].map((a) => getAddress(a));
    const all = [...knowledge.eoas, ...(addressParams > 1 ? [] : knowledge.contracts)].map((a) => getAddress(a));
    return unique([...named.filter((v) => String(v).toLowerCase() !== ZERO_ADDRESS).map((v) => getAddress(String(v))), ...all]);
  }
  if (param.type === "bool") return [true, false];
  const small = /^u?int(8|16|32|40|48|64)$/.test(param.type);
  if (small) {
    const codes = CODE_POOLS[name] ?? [];
    const seen = named.length ? named : [...(knowledge.byType.get(param.type)?.values() ?? [])];
    return unique([...codes, ...seen.map((v) => BigInt(v as bigint)), 0n, 1n]).slice(0, 16);
  }
  if (param.type === "bytes32" || /^u?int\d*$/.test(param.type)) {
    const all = [
      ...(knowledge.byType.get("bytes32")?.values() ?? []),
      ...[...(knowledge.byType.get("uint256")?.values() ?? [])].map((v) => "0x" + BigInt(v as bigint).toString(16).padStart(64, "0")),
    ];
    const asType = (v: unknown) => (param.type === "bytes32" ? normaliseBytes32(v) : BigInt(normaliseBytes32(v)));
    return unique([...named.map(asType), ...all.map(asType)]);
  }
  // Strings, bytes, arrays, tuples: only values seen with exactly this type.
  const byType = knowledge.byType.get(param.format("sighash"));
  return byType ? [...byType.values()] : [];
}

function normaliseBytes32(v: unknown): string {
  if (typeof v === "bigint") return "0x" + v.toString(16).padStart(64, "0");
  const s = String(v).toLowerCase();
  return s.length === 66 ? s : "0x" + BigInt(s).toString(16).padStart(64, "0");
}

function unique<T>(values: T[]): T[] {
  const seen = new Set<string>();
  return values.filter((v) => {
    const k = valueKey(v);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Records composite calldata values (tuples, arrays, strings, bytes) by type, for view pools. */
function rememberComposites(knowledge: Knowledge, fragment: FunctionFragment, args: readonly unknown[]): void {
  fragment.inputs.forEach((p, i) => {
    if (!(p.isTuple() || p.isArray() || p.type === "string" || p.type === "bytes")) return;
    const type = p.format("sighash");
    if (!knowledge.byType.has(type)) knowledge.byType.set(type, new Map());
    knowledge.byType.get(type)!.set(valueKey(args[i]), toPlain(args[i]));
  });
}

/** ethers Results → plain arrays (so they re-encode as arguments). */
function toPlain(value: unknown): unknown {
  if (Array.isArray(value)) return Array.from(value, toPlain);
  return value;
}

async function probeViews(options: ObserveOptions, abis: Record<string, InterfaceAbi>, knowledge: Knowledge, report: ObserverReport): Promise<void> {
  const { provider } = options;
  const maxCalls = options.maxCallsPerFunction ?? 2_500;
  const rounds = options.viewRounds ?? 2;
  const stats = new Map<string, ViewStat>();
  const done = new Set<string>();
  for (let round = 0; round < rounds; round++) {
    const before = knowledge.groups.length;
    for (const [contract, address] of Object.entries(options.deployment)) {
      const abi = abis[contract];
      if (!abi) continue;
      const iface = new Interface(abi);
      const views: FunctionFragment[] = [];
      iface.forEachFunction((f) => {
        if (f.constant) views.push(f);
      });
      for (const fragment of views) {
        const key = `${contract}.${fragment.format("sighash")}`;
        const stat = stats.get(key) ?? { contract, signature: fragment.format("sighash"), calls: 0, reverted: 0, truncated: false };
        stats.set(key, stat);
        const addressParams = fragment.inputs.filter((p) => p.type === "address").length;
        const pools = fragment.inputs.map((p) => poolFor(p, knowledge, addressParams));
        const empty = fragment.inputs.findIndex((_p, i) => pools[i]!.length === 0);
        if (empty >= 0) {
          stat.skipped = `no value seen for ${fragment.inputs[empty]!.format("full")}`;
          continue;
        }
        delete stat.skipped;
        const combos = product(pools, maxCalls);
        if (combos.truncated) stat.truncated = true;
        const pending = combos.values.filter((args) => {
          const k = `${key}:${valueKey(args)}`;
          if (done.has(k)) return false;
          done.add(k);
          return true;
        });
        for (let i = 0; i < pending.length; i += 64) {
          await Promise.all(pending.slice(i, i + 64).map((args) => callView(provider, address, contract, iface, fragment, args, knowledge, stat, report)));
        }
      }
    }
    if (knowledge.groups.length === before && round > 0) break;
  }
  report.views = [...stats.values()];
}

function product(pools: unknown[][], max: number): { values: unknown[][]; truncated: boolean } {
  const values: unknown[][] = [];
  const total = pools.reduce((n, p) => n * p.length, 1);
  const count = Math.min(total, max);
  for (let i = 0; i < count; i++) {
    let rest = i;
    const args: unknown[] = [];
    // The last parameter varies fastest, so a cut keeps every value of the first ones' best candidates.
    for (let k = pools.length - 1; k >= 0; k--) {
      const pool = pools[k]!;
      args[k] = pool[rest % pool.length];
      rest = Math.floor(rest / pool.length);
    }
    values.push(args);
  }
  return { values, truncated: total > max };
}

async function callView(
  provider: Provider,
  address: string,
  contract: string,
  iface: Interface,
  fragment: FunctionFragment,
  args: unknown[],
  knowledge: Knowledge,
  stat: ViewStat,
  report: ObserverReport,
): Promise<void> {
  let data: string;
  try {
    data = iface.encodeFunctionData(fragment, args);
  } catch {
    return;
  }
  stat.calls++;
  report.viewCalls++;
  let result: string;
  try {
    result = await provider.call({ to: address, data });
  } catch {
    stat.reverted++;
    return;
  }
  let decoded;
  try {
    decoded = iface.decodeFunctionResult(fragment, result);
  } catch {
    stat.reverted++;
    return;
  }
  const inputs: Field[] = [];
  fragment.inputs.forEach((p, i) => flatten(p, args[i], `in.${p.name || i}`, inputs));
  const outputs: Field[] = [];
  fragment.outputs.forEach((p, i) => flatten(p, decoded[i], `out.${p.name || i}`, outputs));
  if (fragment.name === "isPatient" && decoded[0] === true) {
    const account = inputs.find((f) => f.type === "address")?.token;
    if (account) knowledge.patients.add(account);
  }
  if (!outputs.some(isNonZero)) return;
  const label = `view ${contract}.${fragment.name}(${args.map(short).join(", ")})`;
  const identifyingOut = outputs.filter((f) => f.token);
  if (identifyingOut.length === 0) {
    // A relation between the inputs holds (hasAccess → true, grantOf → a live grant), but only
    // between the inputs the answer depends on: hasRecordAccess(P, P, anyId, ...) is true for any
    // id because P reads its own data, which relates that id to nobody.
    const relevant = await relevantInputs(provider, address, iface, fragment, args, result);
    const kept = fragment.inputs.flatMap((p, i) => (relevant[i] ? inputs.filter((f) => f.path === `in.${p.name || i}` || f.path.startsWith(`in.${p.name || i}.`) || f.path.startsWith(`in.${p.name || i}[`)) : []));
    knowledge.add({ kind: "view", label, name: fragment.name, contract, fields: [...kept, ...outputs] });
  } else {
    // A value computed from the inputs: each input relates to the outputs, not to the other
    // inputs (requestIdFor(anyone, ...) says nothing about anyone).
    for (const input of inputs.filter((f) => f.token)) {
      knowledge.add({ kind: "view", label, name: fragment.name, contract, fields: [input, ...outputs] });
    }
    if (!inputs.some((f) => f.token)) knowledge.add({ kind: "view", label, name: fragment.name, contract, fields: outputs });
  }
}

/** A value of each scalar type that nothing on the chain holds, for counterfactual calls. */
const FRESH: Record<string, unknown> = {
  address: getAddress("0x" + "5a".repeat(20)),
  bytes32: "0x" + "5a".repeat(32),
  uint256: BigInt("0x" + "5a".repeat(32)),
};

/**
 * For each argument: does the answer change when it is replaced by a value nobody holds? Only
 * asked of identifying scalars (addresses, 32-byte values) when there are two or more of them;
 * other arguments count as relevant.
 */
async function relevantInputs(
  provider: Provider,
  address: string,
  iface: Interface,
  fragment: FunctionFragment,
  args: unknown[],
  answer: string,
): Promise<boolean[]> {
  const identifying = fragment.inputs.map((p, i) => p.type in FRESH && valueKey(args[i]) !== valueKey(FRESH[p.type]));
  if (identifying.filter(Boolean).length < 2) return fragment.inputs.map(() => true);
  return Promise.all(
    fragment.inputs.map(async (p, i) => {
      if (!identifying[i]) return true;
      const changed = [...args];
      changed[i] = FRESH[p.type];
      try {
        return (await provider.call({ to: address, data: iface.encodeFunctionData(fragment, changed) })) !== answer;
      } catch {
        return true; // it reverts without this argument: the answer depends on it
      }
    }),
  );
}

function short(v: unknown): string {
  const s = typeof v === "object" ? valueKey(v) : String(v);
  return s.length > 14 ? `${s.slice(0, 10)}…` : s;
}

// ─── State over time ──────────────────────────────────────────────────────────────────────────

/**
 * For every block, the patients whose answer to some one-address view (accountOf, epochOf,
 * nonces, commitmentOf, patientOf, ...) differs from the block before: a state diff names whom a
 * transaction touched even when none of its fields does.
 */
async function patientStateChanges(
  options: ObserveOptions,
  abis: Record<string, InterfaceAbi>,
  knowledge: Knowledge,
  fromBlock: number,
  toBlock: number,
  report: ObserverReport,
): Promise<Map<number, Set<string>>> {
  const probes: { address: string; data: string; patient: string }[] = [];
  for (const [contract, address] of Object.entries(options.deployment)) {
    const abi = abis[contract];
    if (!abi) continue;
    const iface = new Interface(abi);
    iface.forEachFunction((f) => {
      if (!f.constant || f.inputs.length !== 1 || f.inputs[0]!.type !== "address") return;
      for (const patient of knowledge.patients) probes.push({ address, data: iface.encodeFunctionData(f, [getAddress(patient)]), patient });
    });
  }
  const touched = new Map<number, Set<string>>();
  const answer = async (probe: (typeof probes)[number], blockTag: number) => {
    report.viewCalls++;
    try {
      return await options.provider.call({ to: probe.address, data: probe.data, blockTag });
    } catch {
      return "revert"; // the contract did not exist yet, or the view reverts there
    }
  };
  let previous = await Promise.all(probes.map((p) => answer(p, Math.max(fromBlock - 1, 0))));
  for (let block = fromBlock; block <= toBlock; block++) {
    const current = await Promise.all(probes.map((p) => answer(p, block)));
    current.forEach((value, i) => {
      if (value === previous[i] || previous[i] === "revert") return;
      const set = touched.get(block) ?? new Set<string>();
      set.add(probes[i]!.patient);
      touched.set(block, set);
    });
    previous = current;
  }
  return touched;
}

// ─── Linking ──────────────────────────────────────────────────────────────────────────────────

const SUBJECT_EVENTS: { kind: SubjectKind; match: (name: string) => boolean }[] = [
  { kind: "consent", match: (n) => /Consent/.test(n) && /Grant/.test(n) },
  { kind: "deviceBinding", match: (n) => /Bound$/.test(n) },
];

function link(
  knowledge: Knowledge,
  groupsOfTx: Map<string, Group[]>,
  senderOfTx: Map<string, string>,
  names: Map<string, string>,
  touched: Map<number, Set<string>>,
  report: ObserverReport,
): void {
  const anonymity = anonymitySets(knowledge);
  const subjects: { subject: Subject; defining: Group[]; own: Group; idToken?: string }[] = [];
  const seenRequests = new Set<string>();
  for (const group of knowledge.groups) {
    if (group.kind !== "log" || !group.name || !group.txHash) continue;
    const requestField = group.fields.find((f) => f.name === "requestId" && f.token);
    if (requestField && !seenRequests.has(requestField.token!)) {
      seenRequests.add(requestField.token!);
      subjects.push({
        subject: { kind: "request", id: requestField.token!, event: group.name, block: group.block!, txHash: group.txHash },
        defining: groupsOfTx.get(group.txHash) ?? [group],
        own: group,
        idToken: requestField.token,
      });
      continue;
    }
    const rule = SUBJECT_EVENTS.find((r) => r.match(group.name!));
    if (rule) {
      const commitment = group.fields.find((f) => f.name === "commitment" && f.token)?.token;
      subjects.push({
        subject: { kind: rule.kind, id: `${group.name}@${group.txHash.slice(0, 10)}#${group.logIndex}`, event: group.name, block: group.block!, txHash: group.txHash },
        defining: groupsOfTx.get(group.txHash) ?? [group],
        own: group,
        idToken: commitment,
      });
    }
  }

  for (const { subject, defining, own, idToken } of subjects) {
    const patients = new Set<string>();
    const evidence: string[] = [];
    const rules = new Set<number>();
    let rule = 1;
    const note = (patient: string, why: string) => {
      patients.add(patient);
      rules.add(rule);
      if (evidence.length < 12) evidence.push(why);
    };
    // 1. The subject's own id named together with a patient.
    if (idToken) {
      for (const id of knowledge.byToken.get(idToken) ?? []) {
        const g = knowledge.groups[id]!;
        for (const t of g.tokens) if (t !== idToken && knowledge.patients.has(t)) note(t, `${g.label} names ${t} with ${short(idToken)}`);
      }
    }
    // The defining event itself naming a patient (a public consent, a binding).
    for (const f of own.fields) if (f.token && knowledge.patients.has(f.token)) note(f.token, `${own.label} names patient ${f.token} (${f.path})`);
    // 2. A token of the defining transaction seen with exactly one patient.
    rule = 2;
    const sender = senderOfTx.get(subject.txHash);
    const tokens = new Set<string>(sender ? [sender] : []);
    for (const g of defining) for (const t of g.tokens) if (!names.has(t)) tokens.add(t);
    for (const t of tokens) {
      if (t === idToken) continue;
      const ps = knowledge.patientsOf(t);
      if (ps.size !== 1) continue;
      const [p] = [...ps] as [string];
      note(p, t === sender ? `sent by ${t}${p === t ? " (the patient)" : `, seen only with patient ${p}`}` : `${short(t)} in the defining tx is seen only with patient ${p}`);
    }
    // 4. The block that made the subject changed one patient's state and no other's (each
    // transaction is its own block on the test chain; on a real one this narrows to a block).
    rule = 4;
    const changed = touched.get(subject.block);
    if (changed?.size === 1) {
      const [p] = [...changed] as [string];
      note(p, `block ${subject.block} changed the state of patient ${p} only (${short(subject.id)})`);
    }
    // 3. A Semaphore proof against a group of one.
    rule = 3;
    const root = defining
      .flatMap((g) => g.fields)
      .find((f) => f.path.endsWith(".merkleTreeRoot") && f.token)?.token;
    if (root) {
      const members = anonymity.get(root);
      if (members) {
        subject.anonymitySet = members.size;
        if (members.size === 1) {
          const [commitment] = [...members] as [string];
          for (const p of knowledge.patientsOf(commitment)) note(p, `proof root ${short(root)} is a group of one: commitment ${short(commitment)} of ${p}`);
        }
      }
    }
    const counterparties = own.fields
      .filter((f) => f.token && f.type === "address" && !knowledge.patients.has(f.token) && !names.has(f.token) && f.name !== "emitter" && f.name !== "submitter" && f.name !== "word")
      .map((f) => f.token!);
    report.subjects.push(subject);
    if (patients.size > 0) report.links.push({ kind: subject.kind, subject: subject.id, patients: [...patients].sort(), counterparties: [...new Set(counterparties)], evidence, rules: [...rules].sort() });
  }

  const count = (kind: SubjectKind) => report.subjects.filter((s) => s.kind === kind).length;
  const linked = (kind: SubjectKind) => report.links.filter((l) => l.kind === kind).length;
  report.requests = count("request");
  report.consents = count("consent");
  report.deviceBindings = count("deviceBinding");
  report.linkedRequests = linked("request");
  report.linkedConsents = linked("consent");
  report.linkedConsentPairs = report.links.filter((l) => l.kind === "consent" && l.counterparties.length > 0).length;
  report.linkedDeviceBindings = linked("deviceBinding");
}

/**
 * Semaphore group membership at every root, rebuilt from the membership events (MemberAdded,
 * MembersAdded, MemberUpdated, MemberRemoved: every event with a groupId and a merkleTreeRoot).
 */
function anonymitySets(knowledge: Knowledge): Map<string, Set<string>> {
  const members = new Map<string, Set<string>>();
  const atRoot = new Map<string, Set<string>>();
  for (const g of knowledge.groups) {
    if (g.kind !== "log" || !g.name) continue;
    const groupId = g.fields.find((f) => f.name === "groupId");
    const root = g.fields.find((f) => f.name === "merkleTreeRoot" && f.token)?.token;
    if (!groupId || !root) continue;
    const key = valueKey(groupId.value);
    const set = members.get(key) ?? new Set<string>();
    members.set(key, set);
    const commitment = g.fields.find((f) => f.name === "identityCommitment")?.token;
    if (/Added/.test(g.name)) {
      for (const f of g.fields) if (f.token && /^identityCommitments?$/.test(f.name)) set.add(f.token);
    } else if (/Updated/.test(g.name)) {
      if (commitment) set.delete(commitment);
      const next = g.fields.find((f) => f.name === "newIdentityCommitment")?.token;
      if (next) set.add(next);
    } else if (/Removed/.test(g.name)) {
      if (commitment) set.delete(commitment);
    }
    atRoot.set(root, new Set(set));
  }
  return atRoot;
}

// ─── Printing ─────────────────────────────────────────────────────────────────────────────────

/** A human-readable account of what the observer read and what it linked. */
export function formatReport(report: ObserverReport, title = "chain observer"): string {
  const lines = [
    `${title}: ${report.blocks} blocks, ${report.transactions} transactions, ${report.logs} logs ` +
      `(${report.decodedLogs} decoded, ${report.undecodedLogs} not), ${report.decodedCalls} calls decoded (${report.undecodedCalls} not), ` +
      `${report.viewCalls} view calls over ${report.views.length} views (${report.views.filter((v) => v.skipped).length} without arguments to try, ${report.views.filter((v) => v.truncated).length} cut)`,
    `  patients known: ${report.patients.length}`,
    `  requests linked ${report.linkedRequests}/${report.requests}, consents linked ${report.linkedConsents}/${report.consents} ` +
      `(pairs ${report.linkedConsentPairs}), device bindings linked ${report.linkedDeviceBindings}/${report.deviceBindings}`,
  ];
  const skipped = report.views.filter((v) => v.skipped).map((v) => `${v.contract}.${v.signature.split("(")[0]}`);
  const cut = report.views.filter((v) => v.truncated).map((v) => `${v.contract}.${v.signature.split("(")[0]}`);
  if (skipped.length) lines.push(`  views with an argument never seen on-chain (not called): ${skipped.join(", ")}`);
  if (cut.length) lines.push(`  views called with the first candidates only: ${cut.join(", ")}`);
  const sets = report.subjects.filter((s) => s.anonymitySet !== undefined);
  if (sets.length) lines.push(`  anonymity sets of proofs: ${sets.map((s) => s.anonymitySet).join(", ")}`);
  for (const l of report.links) {
    lines.push(`  ${l.kind} ${l.subject.slice(0, 42)} → ${l.patients.join(", ")}${l.counterparties.length ? ` with ${l.counterparties.join(", ")}` : ""}`);
    for (const e of l.evidence.slice(0, 2)) lines.push(`      ${e}`);
  }
  return lines.join("\n");
}

