import { AbiCoder } from "ethers";

import { sha256Hex } from "../../core/hash.js";
import { ANONYMOUS_PREDICTION_REQUESTED_TOPIC, PREDICTION_REQUESTED_TOPIC, RequestStatus } from "../chain/abi.js";
import { decodeRouterRequestLog } from "../chain/requests.js";
import { blobOwnerOf } from "../store/jobStore.js";
import type { ChainReader } from "../chain/reader.js";
import { toQuantity, type RpcClient, type RpcLog } from "../chain/rpc.js";
import type { Common } from "../common.js";
import type { EvalPool } from "../eval/pool.js";
import type { EvalTask } from "../eval/types.js";
import { BadRequestInputError, ForbiddenFieldError, FailureReason, NonRetryableError, failureReasonName } from "../errors.js";
import { keysCaching, type OracleBlobs } from "../pipeline/blobs.js";

/**
 * The evaluation as a Chainlink external adapter: a Chainlink node's direct-request job calls it
 * through a bridge (`{ id, data: { requestId } }`) and writes the answer on-chain itself with
 * `fulfillOracleRequest2`. The adapter trusts the chain, not the caller: the request id is all it
 * takes, everything else is read from the router's logs and state. It takes no secret key and
 * no plaintext — any field beyond the documented ones is refused.
 */
export type AdapterRequest = { id?: string | number; data?: { requestId?: unknown } };
export type AdapterResponse =
  | { jobRunID: string; data: AdapterData; result: string; statusCode: 200 }
  | { jobRunID: string; status: "errored"; statusCode: number; error: { name: string; message: string } };
export type AdapterData = {
  requestId: string;
  failureCode: number;
  resultHash: string;
  resultUri: string;
  /** abi.encode(requestId, failureCode, resultHash, resultUri, bytes("")): the `data` argument of fulfillOracleRequest2. */
  fulfilmentData: string;
  result: string;
};

const ALLOWED_TOP_LEVEL = new Set(["id", "data", "meta", "responseURL"]);
const ALLOWED_DATA = new Set(["requestId"]);
const SECRET_LOOKING = /secret|private|priv|plain|decrypt|password|seed|mnemonic|sk$/i;

export class AdapterInputError extends NonRetryableError {
  override name = "AdapterInputError";
  constructor(message: string, details?: Record<string, unknown>) {
    super(message, { code: "ORACLE_ADAPTER_INPUT", ...(details ? { details } : {}) });
  }
}

/** Rejects anything but `{ id?, data: { requestId: bytes32 } }` (plus Chainlink's meta/responseURL). */
export function parseAdapterRequest(body: unknown): { jobRunID: string; requestId: string } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new AdapterInputError("Body must be a JSON object");
  const request = body as Record<string, unknown>;
  for (const key of Object.keys(request)) {
    if (SECRET_LOOKING.test(key)) throw new ForbiddenFieldError(key);
    if (!ALLOWED_TOP_LEVEL.has(key)) throw new AdapterInputError(`Unknown field "${key}"`);
  }
  const data = request.data;
  if (typeof data !== "object" || data === null || Array.isArray(data)) throw new AdapterInputError("data must be an object with requestId");
  for (const key of Object.keys(data)) {
    if (SECRET_LOOKING.test(key)) throw new ForbiddenFieldError(`data.${key}`);
    if (!ALLOWED_DATA.has(key)) throw new AdapterInputError(`Unknown field "data.${key}": the adapter takes only requestId`);
  }
  const requestId = (data as Record<string, unknown>).requestId;
  if (typeof requestId !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(requestId)) throw new AdapterInputError("data.requestId must be a 0x-prefixed bytes32");
  const id = request.id;
  return { jobRunID: id === undefined ? "1" : String(id), requestId: requestId.toLowerCase() };
}

export type ExternalAdapter = ReturnType<typeof createExternalAdapter>;

export function createExternalAdapter({ common, rpc, reader, blobs, pool, router, validate }: {
  common: Common;
  rpc: RpcClient;
  reader: ChainReader;
  blobs: OracleBlobs;
  pool: EvalPool;
  router: string;
  validate?: (task: EvalTask) => void;
}) {
  const { logger, metrics, settings } = common;

  /** The request's PredictionRequested or AnonymousPredictionRequested log, decoded. */
  async function findRequestLog(requestId: string) {
    const logs = await rpc.request<RpcLog[]>("eth_getLogs", [{
      address: router, topics: [[PREDICTION_REQUESTED_TOPIC, ANONYMOUS_PREDICTION_REQUESTED_TOPIC], requestId], fromBlock: toQuantity(settings.START_BLOCK), toBlock: "latest",
    }]);
    const log = logs.find((l) => !l.removed);
    return log ? decodeRouterRequestLog(log) : undefined;
  }

  async function evaluate(requestId: string): Promise<{ failureCode: number; resultHash: string; resultUri: string }> {
    const onChain = await reader.getRequest(requestId);
    if (onChain.status !== RequestStatus.Pending) throw new AdapterInputError("Request is not pending on-chain", { status: onChain.status });
    const log = await findRequestLog(requestId);
    if (!log) throw new AdapterInputError("No PredictionRequested or AnonymousPredictionRequested log for this request id");
    try {
      const model = await reader.getModel(log.modelId);
      if (!model || !(await reader.modelActive(model.modelId))) throw new BadRequestInputError(FailureReason.ModelUnavailable, "model unknown or retired");
      const inputHash = log.inputHash.toLowerCase();
      const keysHash = log.keysHash.toLowerCase();
      if (inputHash !== onChain.inputHash.toLowerCase()) throw new BadRequestInputError(FailureReason.InputHashMismatch, "log and router disagree on the input hash");
      const input = await blobs.fetch(inputHash, "input", requestId);
      const keys = await blobs.fetch(keysHash, "keys", requestId, keysCaching(log));
      if (sha256Hex(input) !== inputHash) throw new BadRequestInputError(FailureReason.InputHashMismatch, "input hash mismatch");
      if (sha256Hex(keys) !== keysHash) throw new BadRequestInputError(FailureReason.KeysHashMismatch, "keys hash mismatch");
      const task: EvalTask = {
        model: { name: model.name, version: model.version, weightsHash: model.weightsHash, isPrivate: model.isPrivate },
        paramSetId: model.paramSetId, input, evaluationKeys: keys,
      };
      validate?.(task);
      const outcome = await pool.evaluate(task);
      if (!outcome.ok) throw new BadRequestInputError((outcome.reason ?? FailureReason.EvaluationFailed) as FailureReason, outcome.message);
      const stored = await blobs.storeResult(outcome.result, blobOwnerOf(log), requestId);
      return { failureCode: 0, ...stored };
    } catch (error) {
      if (error instanceof BadRequestInputError) {
        logger.warn({ requestId, reason: failureReasonName(error.reason) }, "adapter: request cannot be served; answering with a failure code");
        return { failureCode: error.reason, resultHash: "0x" + "00".repeat(32), resultUri: "" };
      }
      throw error;
    }
  }

  return {
    async handle(body: unknown): Promise<AdapterResponse> {
      let jobRunID = "1";
      try {
        const parsed = parseAdapterRequest(body);
        jobRunID = parsed.jobRunID;
        const { failureCode, resultHash, resultUri } = await evaluate(parsed.requestId);
        const fulfilmentData = AbiCoder.defaultAbiCoder().encode(
          ["bytes32", "uint16", "bytes32", "string", "bytes"], [parsed.requestId, failureCode, resultHash, resultUri, "0x"],
        );
        metrics.adapterRequests.inc({ status: "ok" });
        return { jobRunID, data: { requestId: parsed.requestId, failureCode, resultHash, resultUri, fulfilmentData, result: resultHash }, result: resultHash, statusCode: 200 };
      } catch (error) {
        const e = error as { name?: string; shortMessage?: string; message?: string; retryable?: boolean };
        const statusCode = e.name === "AdapterInputError" || e.name === "ForbiddenFieldError" ? 400 : 500;
        metrics.adapterRequests.inc({ status: String(statusCode) });
        return { jobRunID, status: "errored", statusCode, error: { name: e.name ?? "Error", message: e.shortMessage ?? e.message ?? String(error) } };
      }
    },
  };
}
