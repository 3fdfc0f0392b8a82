/**
 * An ethers v6 contract typed from an `as const` ABI (protocol/abi/generated.ts): every method
 * takes the Solidity parameters as TypeScript values and resolves to the decoded outputs, so no
 * call site needs `method!(…)` or `as {…}`. Types only (abitype supplies the ABI vocabulary, as in
 * viem and wagmi); at run time this is a plain ethers `Contract`.
 *
 * Values follow ethers, not abitype's defaults: every integer output is a `bigint` (ethers decodes
 * uint8 to bigint too), integer inputs take any BigNumberish, bytes are hex strings, and a struct
 * output is ethers' Result, readable by position and by field name.
 */
import type { Abi, AbiEvent, AbiFunction, AbiParameter, AbiStateMutability, ExtractAbiEventNames, ExtractAbiFunctionNames } from "abitype";
import type {
  BaseContract,
  BigNumberish,
  BlockTag,
  BytesLike,
  ContractRunner,
  ContractTransaction,
  ContractTransactionResponse,
  DeferredTopicFilter,
  EventLog,
  FunctionFragment,
  Overrides,
} from "ethers";

type ArrayElementType<T extends string> = T extends `${infer Inner}[]` ? Inner : T extends `${infer Inner}[${number}]` ? Inner : never;
type Named<C extends readonly AbiParameter[], Map extends "in" | "out"> = {
  [P in C[number] as P extends { name: infer N extends string } ? (N extends "" ? never : N) : never]: Map extends "in" ? InputValue<P> : OutputValue<P>;
};

/** What ethers accepts for one parameter. */
export type InputValue<P extends AbiParameter> =
  ArrayElementType<P["type"]> extends infer Inner extends string
    ? [Inner] extends [never]
      ? P extends { type: "tuple"; components: infer C extends readonly AbiParameter[] } ? Named<C, "in">
        : P["type"] extends `${"u" | ""}int${string}` ? BigNumberish
        : P["type"] extends "bool" ? boolean
        : P["type"] extends `bytes${string}` ? BytesLike
        : string
      : readonly InputValue<Omit<P, "type"> & { type: Inner }>[]
    : never;

/** What ethers decodes one output to. */
export type OutputValue<P extends AbiParameter> =
  ArrayElementType<P["type"]> extends infer Inner extends string
    ? [Inner] extends [never]
      ? P extends { type: "tuple"; components: infer C extends readonly AbiParameter[] } ? StructOutput<C>
        : P["type"] extends `${"u" | ""}int${string}` ? bigint
        : P["type"] extends "bool" ? boolean
        : string
      : readonly OutputValue<Omit<P, "type"> & { type: Inner }>[]
    : never;

/** ethers' Result for a tuple: positional and named access. */
export type StructOutput<C extends readonly AbiParameter[]> = { readonly [I in keyof C]: C[I] extends AbiParameter ? OutputValue<C[I]> : never } & Named<C, "out">;

type InputTuple<C extends readonly AbiParameter[]> = { [I in keyof C]: C[I] extends AbiParameter ? InputValue<C[I]> : never };

/** A function's arguments (a union of tuples for an overloaded name). */
export type FunctionArgs<F> = F extends AbiFunction ? InputTuple<F["inputs"]> : never;

/** A function's decoded return: nothing, the one output, or a Result of several. */
export type FunctionResult<F> = F extends AbiFunction
  ? F["outputs"] extends readonly [] ? void
    : F["outputs"] extends readonly [infer Only extends AbiParameter] ? OutputValue<Only>
    : StructOutput<F["outputs"]>
  : never;

type WithOverrides<A extends readonly unknown[]> = A | [...A, Overrides];

/** One contract method: a call for views, a sent transaction otherwise, plus ethers' sub-calls. */
export interface TypedMethod<A extends readonly unknown[], R, M extends AbiStateMutability> {
  (...args: WithOverrides<A>): Promise<M extends "view" | "pure" ? R : ContractTransactionResponse>;
  staticCall(...args: WithOverrides<A>): Promise<R>;
  estimateGas(...args: WithOverrides<A>): Promise<bigint>;
  populateTransaction(...args: WithOverrides<A>): Promise<ContractTransaction>;
  send(...args: WithOverrides<A>): Promise<ContractTransactionResponse>;
  readonly fragment: FunctionFragment;
}

type FunctionNamed<TAbi extends Abi, N extends string> = Extract<TAbi[number], { type: "function"; name: N }>;
export type EventNamed<TAbi extends Abi, N extends string> = Extract<TAbi[number], { type: "event"; name: N }>;

export type TypedMethods<TAbi extends Abi> = {
  readonly [N in ExtractAbiFunctionNames<TAbi>]: TypedMethod<FunctionArgs<FunctionNamed<TAbi, N>>, FunctionResult<FunctionNamed<TAbi, N>>, FunctionNamed<TAbi, N>["stateMutability"]>;
};

/** An event's decoded arguments: by position and by name. */
export type EventArgs<E> = E extends AbiEvent ? StructOutput<E["inputs"]> : never;

/** A topic filter that remembers which event it selects, so queryFilter can type the logs. */
export type TypedTopicFilter<N extends string> = DeferredTopicFilter & { readonly __event?: N };

/** A log of event N of this ABI, decoded. */
export type TypedEventLog<TAbi extends Abi, N extends string> = Omit<EventLog, "args"> & { readonly args: EventArgs<EventNamed<TAbi, N>> };

export type TypedFilters<TAbi extends Abi> = {
  readonly [N in ExtractAbiEventNames<TAbi>]: (...args: Partial<FilterArgs<EventNamed<TAbi, N>>>) => TypedTopicFilter<N>;
};
type FilterArgs<E> = E extends AbiEvent ? FilterTuple<E["inputs"]> : never;
type FilterTuple<C extends readonly AbiParameter[]> = { [I in keyof C]: (C[I] extends AbiParameter ? InputValue<C[I]> : never) | null };

/**
 * The typed members come first in each intersection, so a call resolves to the typed overload;
 * the BaseContract half keeps the object usable wherever ethers takes any contract.
 */
export type TypedContract<TAbi extends Abi> = TypedMethods<TAbi> & {
  readonly filters: TypedFilters<TAbi>;
  connect(runner: ContractRunner | null): TypedContract<TAbi>;
  queryFilter<N extends ExtractAbiEventNames<TAbi>>(filter: TypedTopicFilter<N>, fromBlock?: BlockTag, toBlock?: BlockTag): Promise<TypedEventLog<TAbi, N>[]>;
} & BaseContract;
