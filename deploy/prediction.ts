/**
 * The oracle side of a prediction request, as the contracts define it: recovering a request from
 * the logs of its transaction, and encoding the data passed to `Operator.fulfillOracleRequest2`.
 * A reference for the oracle daemon; the tests and the gas benchmark use it.
 */
import { AbiCoder, Interface, ZeroAddress, type Log, type TransactionReceipt } from "ethers";

import { IPredictionRouter__factory, Operator__factory } from "../types/ethers-contracts/index.js";

const operatorInterface = new Interface(Operator__factory.abi);
const routerInterface = new Interface(IPredictionRouter__factory.abi);

/** Everything the oracle needs, joined from the Operator's and the router's logs on requestId. */
export type OracleJob = {
  requestId: string;
  specId: string;
  payment: bigint;
  callbackAddress: string;
  callbackFunctionId: string;
  expiration: bigint;
  /** Zero for an anonymous request. */
  patient: string;
  /** Zero for an anonymous request. */
  requester: string;
  /** An anonymous request's one-time gateway key; absent for the others. */
  accessKey?: string;
  modelId: bigint;
  inputHash: string;
  inputUri: string;
  keysHash: string;
};

/**
 * Reads the jobs of one request transaction: `OracleRequest` logs of `operator` joined with
 * `PredictionRequested` or `AnonymousPredictionRequested` logs of `router` (both addresses
 * compared case-insensitively).
 */
export function jobsFromReceipt(receipt: TransactionReceipt, operator: string, router: string): OracleJob[] {
  return jobsFromLogs(receipt.logs, operator, router);
}

export function jobsFromLogs(logs: readonly Log[], operator: string, router: string): OracleJob[] {
  const oracleRequests = new Map<string, { specId: string; payment: bigint; callbackAddress: string; callbackFunctionId: string; expiration: bigint }>();
  const predictions: Omit<OracleJob, "specId" | "payment" | "callbackAddress" | "callbackFunctionId" | "expiration">[] = [];
  for (const log of logs) {
    const address = log.address.toLowerCase();
    if (address === operator.toLowerCase()) {
      const parsed = operatorInterface.parseLog(log);
      if (parsed?.name !== "OracleRequest") continue;
      oracleRequests.set(parsed.args.requestId as string, {
        specId: parsed.args.specId as string,
        payment: parsed.args.payment as bigint,
        callbackAddress: parsed.args.callbackAddr as string,
        callbackFunctionId: parsed.args.callbackFunctionId as string,
        expiration: parsed.args.cancelExpiration as bigint,
      });
    } else if (address === router.toLowerCase()) {
      const parsed = routerInterface.parseLog(log);
      if (parsed?.name === "AnonymousPredictionRequested") {
        predictions.push({
          requestId: parsed.args.requestId as string,
          patient: ZeroAddress,
          requester: ZeroAddress,
          accessKey: parsed.args.accessKey as string,
          modelId: parsed.args.modelId as bigint,
          inputHash: parsed.args.inputHash as string,
          inputUri: parsed.args.inputUri as string,
          keysHash: parsed.args.keysHash as string,
        });
        continue;
      }
      if (parsed?.name !== "PredictionRequested") continue;
      predictions.push({
        requestId: parsed.args.requestId as string,
        patient: parsed.args.patient as string,
        requester: parsed.args.requester as string,
        modelId: parsed.args.modelId as bigint,
        inputHash: parsed.args.inputHash as string,
        inputUri: parsed.args.inputUri as string,
        keysHash: parsed.args.keysHash as string,
      });
    }
  }
  return predictions.flatMap((p) => {
    const request = oracleRequests.get(p.requestId);
    return request ? [{ ...p, ...request }] : [];
  });
}

export type Fulfilment = {
  requestId: string;
  /** 0 on success, else a PredictionCodes value (1-999 for the oracle). */
  failureCode?: number;
  resultHash?: string;
  resultUri?: string;
  /** The result ciphertext itself, only on deployments with `onChainResults`. */
  resultCiphertext?: Uint8Array;
};

const ZERO_HASH = `0x${"00".repeat(32)}`;

/** The `data` argument of `Operator.fulfillOracleRequest2` (its first word is the requestId). */
export function encodeFulfilment(f: Fulfilment): string {
  return AbiCoder.defaultAbiCoder().encode(
    ["bytes32", "uint16", "bytes32", "string", "bytes"],
    [f.requestId, f.failureCode ?? 0, f.resultHash ?? ZERO_HASH, f.resultUri ?? "", f.resultCiphertext ?? new Uint8Array()],
  );
}
