/**
 * The client's side of the relayer (relayer/server.ts; wire format in protocol/relayer.ts): one
 * POST per relayed transaction, so the chain sees the relayer's address, never the patient's. The
 * relayer and the gateway still see the client's IP address: a patient who needs network-level
 * anonymity reaches both through Tor (pass a transport that does).
 */
import { BaseError } from "../../core/errors.js";
import { createFetchTransport, type HttpTransport } from "../../core/http.js";
import { bytesToUtf8, utf8ToBytes } from "../../core/bytes.js";
import { interfaceOf, RELAY_PATH, RELAYED_CALLS, type RelayedMethod, type RelayOutcome, type RelayReceipt } from "../../protocol/relayer.js";

export type { RelayedMethod };

export type RelayParameters = {
  relayerUrl: string;
  /** The contract: PredictionRouter for requestPredictionAnonymous, ConsentManager for the consents. */
  to: string;
  method: RelayedMethod;
  /** The function's arguments as ethers encodes them (structs as objects, uint256 as bigint). */
  args: readonly unknown[];
  /** Answer only once the transaction is mined (and say if it reverted). */
  wait?: boolean;
  transport?: HttpTransport;
  timeoutMs?: number;
};

export type RelayReturnType = { transactionHash: string | null; outcome: RelayOutcome; receipt?: RelayReceipt };

export class RelayerError extends BaseError {
  override name = "RelayerError";
  constructor(message: string, details: Record<string, unknown>) {
    super(message, { code: "SDK_RELAYER", details });
  }
}

export async function relay(parameters: RelayParameters): Promise<RelayReturnType> {
  const transport = parameters.transport ?? createFetchTransport();
  const url = new URL(RELAY_PATH.slice(1), parameters.relayerUrl.endsWith("/") ? parameters.relayerUrl : `${parameters.relayerUrl}/`).href;
  const data = interfaceOf(RELAYED_CALLS[parameters.method]).encodeFunctionData(parameters.method, parameters.args);
  const body = utf8ToBytes(JSON.stringify({ to: parameters.to, data, wait: parameters.wait ?? false }));
  const response = await transport.send({ url, method: "POST", headers: { "content-type": "application/json" }, body, timeoutMs: parameters.timeoutMs ?? 90_000 });
  let answer: { transactionHash?: unknown; outcome?: unknown; receipt?: RelayReceipt; error?: { code?: unknown; message?: unknown; details?: Record<string, unknown> } };
  try {
    answer = JSON.parse(bytesToUtf8(response.body)) as typeof answer;
  } catch {
    throw new RelayerError("The relayer answered something that is not JSON.", { url, status: response.status });
  }
  if (response.status !== 200) {
    const revert = answer.error?.details?.revert as { reason?: string } | undefined;
    throw new RelayerError(`The relayer refused ${parameters.method}: ${String(answer.error?.message ?? response.status)}`, {
      url, status: response.status, method: parameters.method, code: answer.error?.code, message: answer.error?.message, reason: revert?.reason, relayer: answer.error?.details,
    });
  }
  const hash = answer.transactionHash;
  const outcome = answer.outcome;
  const hashOk = (typeof hash === "string" && /^0x[0-9a-f]{64}$/i.test(hash)) || (hash === null && outcome === "already-published");
  if (!hashOk || (outcome !== "sent" && outcome !== "mined" && outcome !== "already-published")) throw new RelayerError("The relayer's answer is not a relayed transaction.", { url, status: response.status });
  return { transactionHash: hash as string | null, outcome, ...(answer.receipt ? { receipt: answer.receipt } : {}) };
}
