import type { OracleRequest, RequestLog } from "../store/jobStore.js";
import { ANONYMOUS_PREDICTION_REQUESTED_TOPIC, ORACLE_REQUEST_TOPIC, PREDICTION_REQUESTED_TOPIC } from "./abi.js";
import { decodeAnonymousPredictionRequestedLog, decodeOracleRequestLog, decodePredictionRequestedLog, type PredictionRequestedLogArgs } from "./abiCodec.js";
import type { RpcLog } from "./rpc.js";

/**
 * Joins the Operator's OracleRequest and the router's PredictionRequested (or
 * AnonymousPredictionRequested) logs on requestId (both are emitted by the same request
 * transaction, so they share a block). Only requests from
 * our router (requester = callbackAddr = router) are kept. The Operator log is the one that is
 * consumed: its (blockHash, logIndex) is the log's identity in the job store.
 */
export function createRequestDecoder({ operator, router }: { operator: string; router: string }) {
  const operatorAddress = operator.toLowerCase();
  const routerAddress = router.toLowerCase();

  return function decodeLogs(logs: RpcLog[]): RequestLog[] {
    const predictions = new Map<string, OracleRequest["prediction"]>();
    for (const log of logs) {
      if (log.address.toLowerCase() !== routerAddress) continue;
      const args = decodeRouterRequestLog(log);
      if (!args) continue;
      predictions.set(`${log.transactionHash}:${args.requestId}`, {
        patient: args.patient,
        modelId: args.modelId,
        requester: args.requester,
        inputHash: args.inputHash,
        inputUri: args.inputUri,
        keysHash: args.keysHash,
        // Only anonymous jobs carry the key: a named job's stored JSON stays as it always was.
        ...(args.accessKey ? { accessKey: args.accessKey } : {}),
      });
    }
    const out: RequestLog[] = [];
    for (const log of logs) {
      if (log.address.toLowerCase() !== operatorAddress || log.topics[0] !== ORACLE_REQUEST_TOPIC) continue;
      const args = decodeOracleRequestLog(log.topics, log.data);
      if (!args) continue;
      if (args.requester.toLowerCase() !== routerAddress || args.callbackAddr.toLowerCase() !== routerAddress) continue;
      const requestId = args.requestId;
      const prediction = predictions.get(`${log.transactionHash}:${requestId}`);
      if (!prediction) continue;
      out.push({
        blockNumber: Number(log.blockNumber),
        blockHash: log.blockHash,
        logIndex: Number(log.logIndex),
        transactionHash: log.transactionHash,
        request: {
          requestId,
          specId: args.specId,
          requester: args.requester,
          payment: args.payment.toString(),
          callbackAddr: args.callbackAddr,
          callbackFunctionId: args.callbackFunctionId,
          cancelExpiration: args.cancelExpiration.toString(),
          dataVersion: args.dataVersion.toString(),
          data: args.data,
          prediction,
        },
      });
    }
    return out;
  };
}


/** A router request log of either kind (named or anonymous); undefined for other logs. */
export function decodeRouterRequestLog(log: Pick<RpcLog, "topics" | "data">): PredictionRequestedLogArgs | undefined {
  if (log.topics[0] === PREDICTION_REQUESTED_TOPIC) return decodePredictionRequestedLog(log.topics, log.data);
  if (log.topics[0] === ANONYMOUS_PREDICTION_REQUESTED_TOPIC) return decodeAnonymousPredictionRequestedLog(log.topics, log.data);
  return undefined;
}
