import { RequestStatus } from "../../protocol/codes.js";
import type { MedCipherClient } from "../client.js";
import { PredictionNotFulfilledError, TimeoutError } from "../errors.js";

export type WaitForPredictionParameters = { requestId: string; timeoutMs?: number; pollMs?: number };
export type WaitForPredictionReturnType = { requestId: string; patient: string; resultHash: string; resultUri: string; onChain: boolean };

/**
 * Waits until the request leaves Pending. Fulfilled → the result's hash and URI from the
 * `PredictionFulfilled` event; Failed / Refused / Cancelled → PredictionNotFulfilledError with
 * the reason code.
 *
 * @example
 * const { resultHash } = await waitForPrediction(client, { requestId, timeoutMs: 60_000 });
 */
export async function waitForPrediction(client: MedCipherClient, parameters: WaitForPredictionParameters): Promise<WaitForPredictionReturnType> {
  const timeoutMs = parameters.timeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  const router = client.contracts.router;
  for (;;) {
    const request = await router.getRequest(parameters.requestId);
    const status = Number(request.status);
    if (status === RequestStatus.Fulfilled) {
      const [log] = await router.queryFilter(router.filters.PredictionFulfilled(parameters.requestId));
      if (!log) throw new PredictionNotFulfilledError(parameters.requestId, status, 0);
      return {
        requestId: parameters.requestId,
        patient: request.patient,
        resultHash: log.args.resultHash,
        resultUri: log.args.resultUri,
        onChain: log.args.onChain,
      };
    }
    if (status !== RequestStatus.Pending) throw new PredictionNotFulfilledError(parameters.requestId, status, Number(request.failureCode));
    if (Date.now() > deadline) throw new TimeoutError(`prediction ${parameters.requestId}`, timeoutMs);
    await new Promise((resolve) => setTimeout(resolve, parameters.pollMs ?? 500));
  }
}
