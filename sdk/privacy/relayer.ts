/**
 * The client's side of the relayer: one POST per relayed transaction, so the chain sees the
 * relayer's address, never the patient's. SKELETON: the wire format is a proposal
 * (POST <relayerUrl>/relay, JSON { method, args } with bigints as decimal strings → { transactionHash });
 * the relayer service fixes it, and only this function changes.
 */
import { BaseError } from "../../core/errors.js";
import { createFetchTransport, type HttpTransport } from "../../core/http.js";
import { bytesToUtf8, utf8ToBytes } from "../../core/bytes.js";

/** The selectors the relayer sends (its allow-list). */
export type RelayedMethod = "requestPredictionAnonymous" | "grantConsentPrivate" | "revokeConsentPrivate";

export type RelayParameters = { relayerUrl: string; method: RelayedMethod; args: readonly unknown[]; transport?: HttpTransport; timeoutMs?: number };

export class RelayerError extends BaseError {
  override name = "RelayerError";
  constructor(message: string, details: Record<string, unknown>) {
    super(message, { code: "SDK_RELAYER", details });
  }
}

export async function relay(parameters: RelayParameters): Promise<{ transactionHash: string }> {
  const transport = parameters.transport ?? createFetchTransport();
  const url = new URL("relay", parameters.relayerUrl.endsWith("/") ? parameters.relayerUrl : `${parameters.relayerUrl}/`).href;
  const body = utf8ToBytes(JSON.stringify({ method: parameters.method, args: parameters.args }, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value)));
  const response = await transport.send({ url, method: "POST", headers: { "content-type": "application/json" }, body, timeoutMs: parameters.timeoutMs ?? 30_000 });
  let answer: { transactionHash?: unknown; code?: unknown; message?: unknown };
  try {
    answer = JSON.parse(bytesToUtf8(response.body)) as typeof answer;
  } catch {
    throw new RelayerError("The relayer answered something that is not JSON.", { url, status: response.status });
  }
  if (response.status !== 200 || typeof answer.transactionHash !== "string" || !/^0x[0-9a-f]{64}$/i.test(answer.transactionHash)) {
    throw new RelayerError("The relayer refused the transaction.", { url, status: response.status, method: parameters.method, code: answer.code, message: answer.message });
  }
  return { transactionHash: answer.transactionHash };
}
