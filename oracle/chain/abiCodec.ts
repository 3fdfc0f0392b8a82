import { getAddress } from "ethers";

import type { PredictionDetails } from "../store/jobStore.js";

/**
 * Direct ABI coding of the three shapes the daemon handles per request: the Operator's
 * OracleRequest log, the router's PredictionRequested log and the fulfillOracleRequest2
 * calldata. ethers' Interface builds Result proxies and re-parses hex for every field (about
 * 1 ms per log and per call here), which a burst of hundreds of requests pays on the event loop.
 * These read and write the 32-byte words directly; tests check them against ethers' Interface on
 * random inputs. Malformed data decodes to `undefined`, never to a wrong value.
 */

export type OracleRequestLogArgs = {
  specId: string;
  requester: string;
  requestId: string;
  payment: bigint;
  callbackAddr: string;
  callbackFunctionId: string;
  cancelExpiration: bigint;
  dataVersion: bigint;
  data: string;
};

/** The job's prediction details, plus the fields the router logs beside them. */
export type PredictionRequestedLogArgs = PredictionDetails & {
  requestId: string;
  payment: bigint;
  expiresAt: number;
};

const HEX = /^0x[0-9a-fA-F]*$/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A view of ABI-encoded data as 32-byte words (hex without 0x, 64 characters each). */
class Words {
  private constructor(private readonly hex: string) {}

  static of(data: string): Words | undefined {
    if (!HEX.test(data) || (data.length - 2) % 64 !== 0) return undefined;
    return new Words(data.slice(2).toLowerCase());
  }

  get count(): number {
    return this.hex.length / 64;
  }

  word(index: number): string {
    if (index < 0 || index >= this.count) throw new RangeError("word out of range");
    return this.hex.slice(index * 64, index * 64 + 64);
  }

  uint(index: number): bigint {
    return BigInt(`0x${this.word(index)}`);
  }

  /** A uint that must fit `bits`. */
  smallUint(index: number, bits: number): number {
    const value = this.uint(index);
    if (value >= 1n << BigInt(bits)) throw new RangeError("integer wider than its type");
    return Number(value);
  }

  address(index: number): string {
    const word = this.word(index);
    if (!/^0{24}/.test(word)) throw new RangeError("dirty address padding");
    return getAddress(`0x${word.slice(24)}`);
  }

  bytes32(index: number): string {
    return `0x${this.word(index)}`;
  }

  bytes4(index: number): string {
    const word = this.word(index);
    if (!/^[0-9a-f]{8}0{56}$/.test(word)) throw new RangeError("dirty bytes4 padding");
    return `0x${word.slice(0, 8)}`;
  }

  /** Dynamic `bytes` whose offset is in head word `index`, as 0x-hex. */
  dynamicBytes(index: number): string {
    const offset = this.uint(index);
    if (offset % 32n !== 0n || offset / 32n >= BigInt(this.count)) throw new RangeError("bad offset");
    const at = Number(offset / 32n);
    const length = this.uint(at);
    const words = (length + 31n) / 32n;
    if (BigInt(at) + 1n + words > BigInt(this.count)) throw new RangeError("bytes run past the data");
    const start = (at + 1) * 64;
    return `0x${this.hex.slice(start, start + Number(length) * 2)}`;
  }

  dynamicString(index: number): string {
    return utf8.decode(Buffer.from(this.dynamicBytes(index).slice(2), "hex"));
  }
}

function attempt<T>(decode: () => T): T | undefined {
  try {
    return decode();
  } catch {
    return undefined;
  }
}

/** OracleRequest(bytes32 indexed specId, address requester, bytes32 requestId, uint256 payment, address callbackAddr, bytes4 callbackFunctionId, uint256 cancelExpiration, uint256 dataVersion, bytes data) */
export function decodeOracleRequestLog(topics: readonly string[], data: string): OracleRequestLogArgs | undefined {
  if (topics.length !== 2) return undefined;
  const words = Words.of(data);
  if (!words || words.count < 9) return undefined;
  return attempt(() => ({
    specId: bytes32Topic(topics[1]!),
    requester: words.address(0),
    requestId: words.bytes32(1),
    payment: words.uint(2),
    callbackAddr: words.address(3),
    callbackFunctionId: words.bytes4(4),
    cancelExpiration: words.uint(5),
    dataVersion: words.uint(6),
    data: words.dynamicBytes(7),
  }));
}

/** PredictionRequested(bytes32 indexed requestId, address indexed patient, uint32 indexed modelId, address requester, bytes32 inputHash, string inputUri, bytes32 keysHash, uint256 payment, uint40 expiresAt) */
export function decodePredictionRequestedLog(topics: readonly string[], data: string): PredictionRequestedLogArgs | undefined {
  if (topics.length !== 4) return undefined;
  const words = Words.of(data);
  if (!words || words.count < 7) return undefined;
  return attempt(() => {
    const indexed = Words.of(`0x${topics.slice(1).map((t) => bytes32Topic(t).slice(2)).join("")}`)!;
    return {
      requestId: indexed.bytes32(0),
      patient: indexed.address(1),
      modelId: indexed.smallUint(2, 32),
      requester: words.address(0),
      inputHash: words.bytes32(1),
      inputUri: words.dynamicString(2),
      keysHash: words.bytes32(3),
      payment: words.uint(4),
      expiresAt: words.smallUint(5, 40),
    };
  });
}

/**
 * AnonymousPredictionRequested(bytes32 indexed requestId, uint32 indexed modelId, bytes32 inputHash, string inputUri, bytes32 keysHash, address accessKey, uint256 payment, uint40 expiresAt),
 * as the job's details: patient and requester zero (there is none to name), the accessKey beside them.
 */
export function decodeAnonymousPredictionRequestedLog(topics: readonly string[], data: string): PredictionRequestedLogArgs | undefined {
  if (topics.length !== 3) return undefined;
  const words = Words.of(data);
  if (!words || words.count < 7) return undefined;
  return attempt(() => {
    const indexed = Words.of(`0x${topics.slice(1).map((t) => bytes32Topic(t).slice(2)).join("")}`)!;
    const accessKey = words.address(3);
    if (accessKey === ZERO_ADDRESS) throw new RangeError("an anonymous request has an access key");
    return {
      requestId: indexed.bytes32(0),
      patient: ZERO_ADDRESS,
      modelId: indexed.smallUint(1, 32),
      requester: ZERO_ADDRESS,
      inputHash: words.bytes32(0),
      inputUri: words.dynamicString(1),
      keysHash: words.bytes32(2),
      accessKey,
      payment: words.uint(4),
      expiresAt: words.smallUint(5, 40),
    };
  });
}

const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000";

function bytes32Topic(topic: string): string {
  if (!/^0x[0-9a-fA-F]{64}$/.test(topic)) throw new RangeError("not a topic");
  return topic.toLowerCase();
}

/** fulfillOracleRequest2(bytes32,uint256,address,bytes4,uint256,bytes) */
const FULFIL_SELECTOR = "6ae0bc76";

export type FulfilCall = {
  requestId: string;
  payment: bigint;
  callbackAddress: string;
  callbackFunctionId: string;
  expiration: bigint;
  /** The router's fulfilment: abi.encode(bytes32 requestId, uint16 failureCode, bytes32 resultHash, string resultUri, bytes resultCiphertext). */
  fulfilment: { requestId: string; failureCode: number; resultHash: string; resultUri: string; resultCiphertext: string };
};

/** The calldata of `Operator.fulfillOracleRequest2` carrying the router's fulfilment. */
export function encodeFulfilCalldata(call: FulfilCall): string {
  const f = call.fulfilment;
  const uri = Buffer.from(f.resultUri, "utf8").toString("hex");
  const ciphertext = hexBody(f.resultCiphertext);
  const uriWords = Math.ceil(uri.length / 64);
  const fulfilment = [
    fixed(f.requestId, 32), uintWord(BigInt(f.failureCode), 16), fixed(f.resultHash, 32),
    uintWord(160n, 256), uintWord(BigInt(160 + 32 + uriWords * 32), 256),
    uintWord(BigInt(uri.length / 2), 256), padRight(uri),
    uintWord(BigInt(ciphertext.length / 2), 256), padRight(ciphertext),
  ].join("");
  return `0x${FULFIL_SELECTOR}${[
    fixed(call.requestId, 32), uintWord(call.payment, 256), addressWord(call.callbackAddress), bytes4Word(call.callbackFunctionId),
    uintWord(call.expiration, 256), uintWord(192n, 256), uintWord(BigInt(fulfilment.length / 2), 256), fulfilment,
  ].join("")}`;
}

function hexBody(hex: string): string {
  if (!HEX.test(hex) || hex.length % 2 !== 0) throw new TypeError(`not hex bytes: ${hex.slice(0, 20)}`);
  return hex.slice(2).toLowerCase();
}

function fixed(hex: string, bytes: number): string {
  const body = hexBody(hex);
  if (body.length !== bytes * 2) throw new TypeError(`expected ${bytes} bytes`);
  return body;
}

function uintWord(value: bigint, bits: number): string {
  if (value < 0n || value >= 1n << BigInt(bits)) throw new RangeError(`not a uint${bits}`);
  return value.toString(16).padStart(64, "0");
}

function addressWord(address: string): string {
  return fixed(getAddress(address), 20).padStart(64, "0");
}

function bytes4Word(selector: string): string {
  return fixed(selector, 4).padEnd(64, "0");
}

function padRight(body: string): string {
  return body.padEnd(Math.ceil(body.length / 64) * 64, "0");
}
