/**
 * The wire of an anonymous group member's read (gateway/privateAccess.ts): the request carries no
 * signed-request header, only the private-consent grant and the group-access proof headers, so
 * the gateway's signed response names the request by the hash of its proof header instead of an
 * EIP-712 request digest. The proof header is unique per request (fresh nonce and nullifier), so
 * a response cannot be passed off as the answer to another request.
 */
import { getAddress, keccak256, recoverAddress } from "ethers";

import { bytesToUtf8, utf8ToBytes } from "../core/bytes.js";
import { sha256Hex } from "../core/hash.js";
import { createFetchTransport, type HttpResponse, type HttpTransport } from "../core/http.js";
import { GatewayRequestError, GatewaySignatureError, GatewayUnavailableError, IntegrityError } from "./errors.js";
import { HEADER_RESPONSE_SIGNATURE, HEADER_RESPONSE_TIMESTAMP, responseDigest, type ErrorBody } from "./gateway.js";
import { HEADER_GROUP_ACCESS } from "./zk/access.js";

/** The `requestDigest` the gateway signs in its response to a group read: keccak256 of the proof header as sent. */
export function groupReadRequestDigest(groupAccessHeader: string): string {
  return keccak256(utf8ToBytes(groupAccessHeader));
}

/** The request target a group read of `blobId` is sent to, and that its proof's message binds. */
export function groupReadPath(blobId: string): string {
  return `/v1/blobs/${blobId.toLowerCase()}`;
}

export type SendGroupReadParameters = {
  /** The gateway's base URL (no path: the proof binds the target the gateway receives, `groupReadPath`). */
  url: string;
  chainId: number;
  /** The gateway key registered on-chain: the response must be signed by it. */
  gatewayAddress: string;
  blobId: string;
  /** Both headers (sdk/privacy/groupAccess.ts groupAccessHeaders), proved for `groupReadPath(blobId)`. */
  headers: Record<string, string>;
  transport?: HttpTransport;
  timeoutMs?: number;
};

/**
 * Sends one group read and checks the answer as the signed client does: the gateway's signature
 * over (this request's digest, status, body hash, time), then the blob's SHA-256. A refusal is a
 * GatewayRequestError with the gateway's code (GATEWAY_ZK_…, GATEWAY_FORBIDDEN …).
 */
export async function sendGroupRead(parameters: SendGroupReadParameters): Promise<Uint8Array> {
  const gatewayAddress = getAddress(parameters.gatewayAddress);
  const proofHeader = parameters.headers[HEADER_GROUP_ACCESS];
  if (!proofHeader) throw new TypeError(`sendGroupRead needs the ${HEADER_GROUP_ACCESS} header.`);
  const transport = parameters.transport ?? createFetchTransport();
  const url = `${parameters.url.replace(/\/+$/, "")}${groupReadPath(parameters.blobId)}`;
  let response: HttpResponse;
  try {
    response = await transport.send({ url, method: "GET", headers: parameters.headers, timeoutMs: parameters.timeoutMs });
  } catch (error) {
    throw new GatewayUnavailableError(url, error);
  }
  const bodyHash = sha256Hex(response.body);
  const signature = response.header(HEADER_RESPONSE_SIGNATURE);
  const timestamp = Number(response.header(HEADER_RESPONSE_TIMESTAMP));
  let recovered: string | undefined;
  try {
    if (signature && Number.isSafeInteger(timestamp)) {
      recovered = recoverAddress(responseDigest(parameters.chainId, { requestDigest: groupReadRequestDigest(proofHeader), status: response.status, bodyHash, timestamp }), signature);
    }
  } catch {
    recovered = undefined;
  }
  if (recovered !== gatewayAddress) throw new GatewaySignatureError({ expected: gatewayAddress, recovered, url });
  if (response.status >= 400) {
    let error: ErrorBody["error"] | undefined;
    try {
      error = (JSON.parse(bytesToUtf8(response.body)) as ErrorBody).error;
    } catch {
      error = undefined;
    }
    throw new GatewayRequestError(response.status, error?.code ?? "GATEWAY_HTTP_ERROR", error?.message ?? `Gateway answered ${response.status}.`, error?.details);
  }
  if (bodyHash !== parameters.blobId.toLowerCase()) throw new IntegrityError("Blob from gateway", { blobId: parameters.blobId, actual: bodyHash });
  return response.body;
}
