/**
 * One SEAL (WebAssembly) runtime per thread and one context per parameter set, created on first
 * use and kept for the life of the thread. Everything else in fhe/ borrows these and frees what
 * it creates itself.
 */
import SEAL from "node-seal";
import type { CKKSEncoder, Evaluator, MainModule, SEALContext } from "node-seal";

import { SealOperationError } from "./errors.js";
import { getParameterSet, type ParameterSet } from "./params.js";

export type SealRuntime = MainModule;

export type ParameterContext = {
  set: ParameterSet;
  seal: SealRuntime;
  context: SEALContext;
  encoder: CKKSEncoder;
  evaluator: Evaluator;
  /** parms_id of each data level, by chain index (highest = fresh ciphertexts), as SEAL serialises it. */
  parmsIdBytes: Map<number, Uint8Array>;
  /** Chain index of fresh ciphertexts. */
  firstChainIndex: number;
  /** Bit size of the largest data prime (coefficients are packed to this many bits). */
  maxDataPrimeBits: number;
};

let runtime: Promise<SealRuntime> | undefined;
let runtimeWasmUrl: string | undefined;
const contexts = new Map<string, ParameterContext>();

let wasmMemory: WebAssembly.Memory | undefined;

export type SealLoadOptions = {
  /**
   * Where the page can fetch node-seal's `seal_throws.wasm`. Bundlers rename the file (Vite:
   * `import wasmUrl from "node-seal/dist/seal_throws.wasm?url"`), and node-seal's own lookup
   * (next to its script) then 404s. Not needed in Node, where node-seal reads it from its package.
   */
  wasmUrl?: string;
};

/**
 * Sets how SEAL is loaded, before its first use on this thread (createMedCipherClient's
 * `sealWasmUrl` calls it). Asking for another wasm URL once SEAL is loaded throws: the runtime
 * is loaded once per thread and cannot be swapped.
 */
export function configureSeal(options: SealLoadOptions): void {
  if (options.wasmUrl === undefined || options.wasmUrl === runtimeWasmUrl) return;
  if (runtime) throw new SealOperationError("configuration", new Error(`SEAL is already loaded${runtimeWasmUrl ? ` from ${runtimeWasmUrl}` : ""}; configure its wasm URL before the first FHE call.`));
  runtimeWasmUrl = options.wasmUrl;
}

/** The thread's SEAL runtime (loaded once; ~50 ms). `options` apply to the first load only (see configureSeal). */
export function loadSeal(options: SealLoadOptions = {}): Promise<SealRuntime> {
  configureSeal(options);
  runtime ??= instantiateObserved(runtimeWasmUrl);
  return runtime;
}

/**
 * Size of SEAL's WebAssembly memory in bytes (it only ever grows), for leak tests and metrics;
 * undefined if the runtime is not loaded or its memory could not be observed.
 */
export function sealMemoryBytes(): number | undefined {
  return wasmMemory?.buffer.byteLength;
}

/** Loads SEAL while watching `WebAssembly.instantiate` for the memory the module exports. */
async function instantiateObserved(wasmUrl: string | undefined): Promise<SealRuntime> {
  const original = WebAssembly.instantiate;
  const observe = (exports: WebAssembly.Exports | undefined) => {
    for (const value of Object.values(exports ?? {})) if (value instanceof WebAssembly.Memory) wasmMemory ??= value;
  };
  WebAssembly.instantiate = (async (...args: Parameters<typeof original>) => {
    const result = (await (original as (...a: unknown[]) => Promise<unknown>)(...args)) as WebAssembly.WebAssemblyInstantiatedSource | WebAssembly.Instance;
    observe(result instanceof WebAssembly.Instance ? result.exports : result.instance?.exports);
    return result;
  }) as typeof original;
  try {
    return await SEAL(wasmUrl === undefined ? {} : { locateFile: () => wasmUrl });
  } finally {
    WebAssembly.instantiate = original;
  }
}

/** The thread's context for a parameter set (created once). */
export async function parameterContext(paramSetId: string): Promise<ParameterContext> {
  const cached = contexts.get(paramSetId);
  if (cached !== undefined) return cached;
  const set = getParameterSet(paramSetId);
  const seal = await loadSeal();
  return contexts.get(paramSetId) ?? createContext(seal, set);
}

function createContext(seal: SealRuntime, set: ParameterSet): ParameterContext {
  const parms = new seal.EncryptionParameters(seal.SchemeType.ckks);
  const moduli = seal.CoeffModulus.Create(set.polyModulusDegree, Int32Array.from(set.coeffModulusBits));
  try {
    parms.setPolyModulusDegree(set.polyModulusDegree);
    parms.setCoeffModulus(moduli);
    const context = new seal.SEALContext(parms, true, seal.SecLevelType.tc128);
    if (!context.parametersSet()) throw new Error(`SEAL rejected parameter set ${set.id}`);
    const parmsIdBytes = new Map<number, Uint8Array>();
    let data = context.firstContextData();
    const firstChainIndex = data.chainIndex();
    for (;;) {
      const id = data.parmsId();
      parmsIdBytes.set(data.chainIndex(), new Uint8Array((id.values() as BigUint64Array).buffer.slice(0)));
      id.delete();
      const next = data.nextContextData();
      data.delete();
      if (next === null || next === undefined) break;
      data = next;
      // The binding returns an empty handle at the end of the chain.
      const probe = data.parmsId();
      const end = (probe.values() as BigUint64Array).every((v) => v === 0n);
      probe.delete();
      if (end) {
        data.delete();
        break;
      }
    }
    const dataBits = set.keySwitching ? set.coeffModulusBits.slice(0, -1) : set.coeffModulusBits;
    const ctx: ParameterContext = {
      set,
      seal,
      context,
      encoder: new seal.CKKSEncoder(context),
      evaluator: new seal.Evaluator(context),
      parmsIdBytes,
      firstChainIndex,
      maxDataPrimeBits: Math.max(...dataBits),
    };
    contexts.set(set.id, ctx);
    return ctx;
  } catch (error) {
    throw new SealOperationError(`context creation for ${set.id}`, error);
  } finally {
    moduli.delete();
    parms.delete();
  }
}

/** Runs a SEAL call, turning its exceptions into `SealOperationError`. */
export function sealCall<T>(operation: string, body: () => T): T {
  try {
    return body();
  } catch (error) {
    throw new SealOperationError(operation, error);
  }
}

/**
 * Bytes SEAL's `saveToArray` returned. node-seal 7 hands back a fresh JS-owned array (checked in
 * test/fhe/engine.test.ts), so no copy is made; a view on WebAssembly memory would be copied.
 */
export function ownedBytes(value: unknown): Uint8Array {
  const bytes = value as Uint8Array;
  return bytes.buffer === wasmMemory?.buffer ? bytes.slice() : bytes;
}
