import { getAddress } from "ethers";

import type { OracleRequest, RequestLog } from "../store/jobStore.js";
import { operatorInterface, ORACLE_REQUEST_TOPIC, PREDICTION_REQUESTED_TOPIC, routerInterface } from "./abi.js";
import type { RpcLog } from "./rpc.js";

/**
 * Joins the Operator's OracleRequest and the router's PredictionRequested logs on requestId
 * (both are emitted by the same request transaction, so they share a block). Only requests from
 * our router (requester = callbackAddr = router) are kept. The Operator log is the one that is
 * consumed: its (blockHash, logIndex) is the log's identity in the job store.
 */
export function createRequestDecoder({ operator, router }: { operator: string; router: string }) {
  const operatorAddress = operator.toLowerCase();
  const routerAddress = router.toLowerCase();

  return function decodeLogs(logs: RpcLog[]): RequestLog[] {
    const predictions = new Map<string, OracleRequest["prediction"]>();
    for (const log of logs) {
      if (log.address.toLowerCase() !== routerAddress || log.topics[0] !== PREDICTION_REQUESTED_TOPIC) continue;
      const parsed = safeParse(() => routerInterface.parseLog({ topics: log.topics, data: log.data }));
      if (!parsed) continue;
      predictions.set(`${log.transactionHash}:${parsed.args.requestId as string}`, {
        patient: getAddress(parsed.args.patient as string),
        modelId: Number(parsed.args.modelId),
        requester: getAddress(parsed.args.requester as string),
        inputHash: parsed.args.inputHash as string,
        inputUri: parsed.args.inputUri as string,
        keysHash: parsed.args.keysHash as string,
      });
    }
    const out: RequestLog[] = [];
    for (const log of logs) {
      if (log.address.toLowerCase() !== operatorAddress || log.topics[0] !== ORACLE_REQUEST_TOPIC) continue;
      const parsed = safeParse(() => operatorInterface.parseLog({ topics: log.topics, data: log.data }));
      if (!parsed) continue;
      const args = parsed.args;
      if ((args.requester as string).toLowerCase() !== routerAddress || (args.callbackAddr as string).toLowerCase() !== routerAddress) continue;
      const requestId = args.requestId as string;
      const prediction = predictions.get(`${log.transactionHash}:${requestId}`);
      if (!prediction) continue;
      out.push({
        blockNumber: Number(log.blockNumber),
        blockHash: log.blockHash,
        logIndex: Number(log.logIndex),
        transactionHash: log.transactionHash,
        request: {
          requestId,
          specId: args.specId as string,
          requester: getAddress(args.requester as string),
          payment: (args.payment as bigint).toString(),
          callbackAddr: getAddress(args.callbackAddr as string),
          callbackFunctionId: args.callbackFunctionId as string,
          cancelExpiration: (args.cancelExpiration as bigint).toString(),
          dataVersion: (args.dataVersion as bigint).toString(),
          data: args.data as string,
          prediction,
        },
      });
    }
    return out;
  };
}

function safeParse<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}
