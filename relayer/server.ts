/**
 * The relayer: sends, from its own funded wallet, exactly three calls — PredictionRouter.
 * requestPredictionAnonymous, ConsentManager.grantConsentPrivate and revokeConsentPrivate — so
 * the chain sees the relayer's address, never the patient's. Wire format: protocol/relayer.ts.
 *
 * Every call is simulated first (eth_call, then estimateGas) from the relayer's address: a revert
 * is answered decoded and costs the relayer nothing, a call over the gas cap is refused. Sends are
 * serialised (one nonce sequence). Each client IP has a token-bucket budget.
 *
 * Logging: a relayed call is logged by method, selector and the keccak256 of its calldata, with
 * the transaction hash and outcome; never the calldata (a commitment, a consent hash with its
 * revocation secret, a request's URI) and never the client's IP, which would link a network
 * address to a transaction. The IP is held only in memory, in the rate limiter's buckets.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import { getAddress, isHexString, keccak256, parseUnits, type Provider, type Signer, type TransactionReceipt } from "ethers";
import { pino, type Logger } from "pino";

import { createRateLimiter } from "../gateway/limits.js";
import {
  consentInterface,
  interfaceOf,
  RELAY_PATH,
  RELAYED_CALLS,
  relayedSelector,
  RELAYER_INFO_PATH,
  type RelayedContract,
  type RelayedMethod,
  type RelayerInfo,
  type RelayRequestBody,
  type RelayResponseBody,
} from "../protocol/relayer.js";
import { decodeRevert, replayRevert, unfundedAccountOf, type DecodedRevert } from "../protocol/revert.js";
import { RelayerRefusal } from "./errors.js";

export type RelayerLimits = {
  maxGas: number;
  gasHeadroomPercent: number;
  maxFeePerGasGwei: number;
  ratePerMinute: number;
  burst: number;
  maxBodyBytes: number;
  receiptTimeoutMs: number;
};

export const DEFAULT_RELAYER_LIMITS: RelayerLimits = {
  maxGas: 1_500_000, gasHeadroomPercent: 20, maxFeePerGasGwei: 200, ratePerMinute: 6, burst: 12, maxBodyBytes: 16_384, receiptTimeoutMs: 60_000,
};

export type RelayerOptions = {
  provider: Provider;
  /** The relayer's funded wallet, connected to `provider`. */
  wallet: Signer;
  targets: Record<RelayedContract, string>;
  chainId: number;
  limits?: Partial<RelayerLimits>;
  /** Where to search for the transaction that already published a commitment (deployment block). */
  startBlock?: number;
  logger?: Logger;
  /**
   * Exact origins whose pages may call the relayer (a browser app using sdk/privacy). Default none:
   * no CORS header, every preflight refused.
   */
  corsOrigins?: readonly string[];
};

export type Relayer = {
  readonly address: string;
  /** Handles one relay request (what POST /v1/relay does); `client` is the rate-limit key. */
  relay(body: unknown, client: string): Promise<RelayResponseBody>;
  info(): RelayerInfo;
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
};

const RECEIPT_POLL_MS = 250;

type Call = { to: string; data: string; wait: boolean; method: RelayedMethod; contract: RelayedContract };

export async function createRelayer(options: RelayerOptions): Promise<Relayer> {
  const limits = { ...DEFAULT_RELAYER_LIMITS, ...options.limits };
  const logger = options.logger ?? pino({ name: "relayer" });
  const address = getAddress(await options.wallet.getAddress());
  const targets = Object.fromEntries(Object.entries(options.targets).map(([name, to]) => [getAddress(to).toLowerCase(), name as RelayedContract])) as Record<string, RelayedContract>;
  const selectors = new Map(Object.keys(RELAYED_CALLS).map((method) => [relayedSelector(method as RelayedMethod), method as RelayedMethod]));
  const limiter = createRateLimiter({ ratePerSecond: limits.ratePerMinute / 60, burst: limits.burst });
  const maxFeePerGas = parseUnits(String(limits.maxFeePerGasGwei), "gwei");
  let sending: Promise<unknown> = Promise.resolve();

  /** Refuses anything but an allow-listed (to, selector) with canonically encoded arguments. */
  function parseCall(body: unknown): Call {
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw new RelayerRefusal("RELAYER_BAD_REQUEST", "The body must be a JSON object {to, data, wait?}.");
    const { to, data, wait, ...rest } = body as Record<string, unknown>;
    if (Object.keys(rest).length > 0) throw new RelayerRefusal("RELAYER_BAD_REQUEST", "Unknown fields in the body.", { fields: Object.keys(rest) });
    if (typeof to !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(to)) throw new RelayerRefusal("RELAYER_BAD_REQUEST", "`to` must be a 0x-prefixed address.");
    if (typeof data !== "string" || !isHexString(data) || data.length < 10 || data.length % 2 !== 0) throw new RelayerRefusal("RELAYER_BAD_REQUEST", "`data` must be 0x-prefixed calldata (selector and arguments).");
    if (wait !== undefined && typeof wait !== "boolean") throw new RelayerRefusal("RELAYER_BAD_REQUEST", "`wait` must be a boolean.");
    const contract = targets[to.toLowerCase()];
    if (!contract) throw new RelayerRefusal("RELAYER_TARGET", "This relayer does not send to that contract.", { to, allowed: Object.values(options.targets) });
    const selector = data.slice(0, 10).toLowerCase();
    const method = selectors.get(selector);
    if (!method || RELAYED_CALLS[method] !== contract) {
      throw new RelayerRefusal("RELAYER_SELECTOR", `This relayer does not send selector ${selector} to ${contract}.`, { selector, contract, allowed: [...selectors].filter(([, m]) => RELAYED_CALLS[m] === contract).map(([s, m]) => `${m} ${s}`) });
    }
    const iface = interfaceOf(contract);
    let canonical: string;
    try {
      canonical = iface.encodeFunctionData(method, iface.decodeFunctionData(method, data));
    } catch (cause) {
      throw new RelayerRefusal("RELAYER_CALLDATA", `The calldata does not decode as ${method}'s arguments.`, { method }, cause);
    }
    // Trailing or non-canonical bytes would make the same call look like two (and its hash in the log lie).
    if (canonical.toLowerCase() !== data.toLowerCase()) throw new RelayerRefusal("RELAYER_CALLDATA", `The calldata is not the canonical encoding of ${method}'s arguments.`, { method });
    return { to: getAddress(to), data: data.toLowerCase(), wait: wait ?? false, method, contract };
  }

  /** A grant whose commitment is already published is done: the patient's goal is met. */
  function alreadyPublished(call: Call, revert: DecodedRevert | undefined): boolean {
    return call.method === "grantConsentPrivate" && revert?.reason === "PrivateConsentExists";
  }

  /** The transaction that published `call`'s commitment (PrivateConsentGranted), when the node still has its log. */
  async function publisherOf(call: Call): Promise<string | null> {
    const [commitment] = consentInterface.decodeFunctionData("grantConsentPrivate", call.data) as unknown as [string];
    const topic = consentInterface.getEvent("PrivateConsentGranted")!.topicHash;
    try {
      const logs = await options.provider.getLogs({ address: call.to, topics: [topic, commitment], fromBlock: options.startBlock ?? 0, toBlock: "latest" });
      return logs.at(-1)?.transactionHash ?? null;
    } catch {
      return null; // a node that caps log ranges: the grant is still published
    }
  }

  /** eth_call then estimateGas from the relayer's address; returns the gas limit to send with. */
  async function simulate(call: Call): Promise<{ gasLimit: bigint } | { revert: DecodedRevert | undefined; error: unknown }> {
    const request = { from: address, to: call.to, data: call.data };
    let estimate: bigint;
    try {
      await options.provider.call(request);
      estimate = await options.provider.estimateGas(request);
    } catch (error) {
      return { revert: decodeRevert(error), error };
    }
    if (estimate > BigInt(limits.maxGas)) throw new RelayerRefusal("RELAYER_GAS_CAP", `${call.method} needs ${estimate} gas, above this relayer's cap of ${limits.maxGas}.`, { method: call.method, estimate: estimate.toString(), maxGas: limits.maxGas });
    const withHeadroom = (estimate * BigInt(100 + limits.gasHeadroomPercent)) / 100n;
    return { gasLimit: withHeadroom < BigInt(limits.maxGas) ? withHeadroom : BigInt(limits.maxGas) };
  }

  async function fees(): Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> {
    const data = await options.provider.getFeeData();
    const networkMax = data.maxFeePerGas ?? data.gasPrice ?? maxFeePerGas;
    const block = await options.provider.getBlock("latest");
    if (block?.baseFeePerGas != null && block.baseFeePerGas > maxFeePerGas) {
      throw new RelayerRefusal("RELAYER_SEND_FAILED", `The network's base fee is above this relayer's ceiling of ${limits.maxFeePerGasGwei} gwei; try later.`, { baseFeePerGas: block.baseFeePerGas.toString() });
    }
    const max = networkMax < maxFeePerGas ? networkMax : maxFeePerGas;
    const priority = data.maxPriorityFeePerGas ?? 0n;
    return { maxFeePerGas: max, maxPriorityFeePerGas: priority < max ? priority : max };
  }

  /** Simulate and send under one lock: the simulation sees the state the nonce will be spent on. */
  async function send(call: Call): Promise<RelayResponseBody | { transactionHash: string; gasLimit: bigint }> {
    const run = sending.then(async () => {
      const simulated = await simulate(call);
      if ("revert" in simulated) {
        if (alreadyPublished(call, simulated.revert)) return { transactionHash: await publisherOf(call), outcome: "already-published" as const };
        if (simulated.revert) throw new RelayerRefusal("RELAYER_REVERT", `${call.method} would revert: ${simulated.revert.reason}. Nothing was sent.`, { method: call.method, revert: simulated.revert });
        throw new RelayerRefusal("RELAYER_SEND_FAILED", `Could not simulate ${call.method}.`, { method: call.method }, simulated.error);
      }
      try {
        const tx = await options.wallet.sendTransaction({ to: call.to, data: call.data, gasLimit: simulated.gasLimit, ...(await fees()), chainId: options.chainId });
        return { transactionHash: tx.hash, gasLimit: simulated.gasLimit };
      } catch (error) {
        if (error instanceof RelayerRefusal) throw error;
        const unfunded = unfundedAccountOf(error);
        if (unfunded) {
          logger.error({ address, balanceWei: unfunded.balanceWei?.toString() }, "relayer wallet cannot pay gas");
          throw new RelayerRefusal("RELAYER_UNFUNDED", "The relayer's wallet cannot pay for gas now.", {});
        }
        throw new RelayerRefusal("RELAYER_SEND_FAILED", `The node did not take the ${call.method} transaction.`, { method: call.method }, error);
      }
    });
    sending = run.catch(() => undefined);
    return run;
  }

  async function awaitReceipt(call: Call, transactionHash: string, gasLimit: bigint): Promise<RelayResponseBody> {
    // Polled directly, not provider.waitForTransaction: its block subscription can miss a block
    // mined between its first receipt check and the subscription's start, and then waits forever.
    const deadline = Date.now() + limits.receiptTimeoutMs;
    let receipt: TransactionReceipt | null = null;
    while (!receipt && Date.now() < deadline) {
      receipt = await options.provider.getTransactionReceipt(transactionHash).catch(() => null);
      if (!receipt) await new Promise((resolve) => setTimeout(resolve, RECEIPT_POLL_MS));
    }
    if (!receipt) throw new RelayerRefusal("RELAYER_TIMEOUT", `No receipt for ${transactionHash} within ${limits.receiptTimeoutMs} ms; it may still be mined.`, { transactionHash });
    const summary = { blockNumber: receipt.blockNumber, status: receipt.status ?? 0, gasUsed: receipt.gasUsed.toString() };
    if (receipt.status === 1) return { transactionHash, outcome: "mined", receipt: summary };
    const revert = await replayRevert(options.provider, { from: address, to: call.to, data: call.data, value: 0n, gasLimit }, receipt);
    // Raced by a front-runner between simulation and inclusion: their transaction published it.
    if (alreadyPublished(call, revert)) return { transactionHash: (await publisherOf(call)) ?? transactionHash, outcome: "already-published", receipt: summary };
    throw new RelayerRefusal("RELAYER_REVERTED", `${call.method} was mined and reverted${revert ? `: ${revert.reason}` : ""}.`, { transactionHash, revert: revert ?? null, receipt: summary });
  }

  async function relay(body: unknown, client: string): Promise<RelayResponseBody> {
    const waitMs = limiter.take(client);
    if (waitMs > 0) throw new RelayerRefusal("RELAYER_RATE_LIMITED", "Too many relay requests from this address; retry later.", { retryAfterMs: waitMs });
    const call = parseCall(body);
    const log = { method: call.method, selector: call.data.slice(0, 10), callHash: keccak256(call.data) };
    try {
      const sent = await send(call);
      if ("outcome" in sent) {
        logger.info({ ...log, transactionHash: sent.transactionHash, outcome: sent.outcome }, "relay: already on-chain");
        return sent;
      }
      logger.info({ ...log, transactionHash: sent.transactionHash, gasLimit: sent.gasLimit.toString() }, "relay: sent");
      if (!call.wait) return { transactionHash: sent.transactionHash, outcome: "sent" };
      const answer = await awaitReceipt(call, sent.transactionHash, sent.gasLimit);
      logger.info({ ...log, transactionHash: answer.transactionHash, outcome: answer.outcome, gasUsed: answer.receipt?.gasUsed }, "relay: mined");
      return answer;
    } catch (error) {
      if (error instanceof RelayerRefusal) logger.info({ ...log, code: error.code, reason: (error.details.revert as DecodedRevert | undefined)?.reason }, "relay: refused");
      throw error;
    }
  }

  function info(): RelayerInfo {
    return {
      chainId: options.chainId,
      address,
      calls: (Object.keys(RELAYED_CALLS) as RelayedMethod[]).map((method) => ({ to: getAddress(options.targets[RELAYED_CALLS[method]]), method, selector: relayedSelector(method) })),
    };
  }

  const server: Server = createServer((request, response) => void handle(request, response));

  const corsOrigins = new Set(options.corsOrigins ?? []);

  /** CORS for listed origins only; a preflight from any other origin is refused. */
  function cors(request: IncomingMessage, response: ServerResponse): boolean {
    const origin = request.headers.origin;
    const allowed = typeof origin === "string" && corsOrigins.has(origin);
    if (allowed) {
      response.setHeader("access-control-allow-origin", origin);
      response.setHeader("access-control-expose-headers", "retry-after");
    }
    response.setHeader("vary", "origin");
    if (request.method !== "OPTIONS") return false;
    if (!allowed) throw new RelayerRefusal("RELAYER_CORS", "This origin may not call the relayer from a browser.", { origin: origin ?? null });
    response.writeHead(204, { "access-control-allow-methods": "GET, POST", "access-control-allow-headers": "content-type", "access-control-max-age": "600" }).end();
    return true;
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      if (cors(request, response)) return;
      const path = (request.url ?? "/").split("?")[0];
      if (request.method === "GET" && path === RELAYER_INFO_PATH) return answer(response, 200, info());
      if (request.method === "GET" && path === "/healthz") return answer(response, 200, { ok: true });
      if (path !== RELAY_PATH) throw new RelayerRefusal("RELAYER_NOT_FOUND", `No route ${request.method} ${path}; relay with POST ${RELAY_PATH}.`);
      if (request.method !== "POST") throw new RelayerRefusal("RELAYER_NOT_FOUND", `Relay with POST ${RELAY_PATH}.`);
      const body = await readJson(request, limits.maxBodyBytes);
      answer(response, 200, await relay(body, request.socket.remoteAddress ?? "unknown"));
    } catch (error) {
      const refusal = error instanceof RelayerRefusal ? error : new RelayerRefusal("RELAYER_INTERNAL", "The relayer failed.", {});
      if (!(error instanceof RelayerRefusal)) logger.error({ err: error }, "relay: internal error");
      const headers: Record<string, string> = refusal.code === "RELAYER_RATE_LIMITED" ? { "retry-after": String(Math.ceil((refusal.details.retryAfterMs as number) / 1000)) } : {};
      answer(response, refusal.status, { error: { code: refusal.code, message: refusal.shortMessage, details: refusal.details } }, headers);
    }
  }

  return {
    address,
    relay,
    info,
    listen(port = 0, host = "127.0.0.1") {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          const bound = server.address() as AddressInfo;
          resolve(`http://${bound.family === "IPv6" ? `[${bound.address}]` : bound.address}:${bound.port}`);
        });
      });
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function readJson(request: IncomingMessage, maxBytes: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers["content-length"] ?? 0);
    if (declared > maxBytes) {
      reject(new RelayerRefusal("RELAYER_BODY_TOO_LARGE", `The body is larger than ${maxBytes} bytes.`, { maxBytes }));
      request.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(new RelayerRefusal("RELAYER_BODY_TOO_LARGE", `The body is larger than ${maxBytes} bytes.`, { maxBytes }));
        request.removeAllListeners("data");
        request.resume(); // drain, so the refusal can still be answered
        return;
      }
      chunks.push(chunk);
    });
    request.on("error", reject);
    request.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown);
      } catch {
        reject(new RelayerRefusal("RELAYER_BAD_REQUEST", "The body is not JSON."));
      }
    });
  });
}

function answer(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value));
  response.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers });
  response.end(text);
}

export type { RelayRequestBody };
