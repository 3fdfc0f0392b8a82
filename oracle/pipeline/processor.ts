import { sha256Hex } from "../../core/hash.js";
import { jobStateOfClosedRequest, RequestStatus } from "../chain/abi.js";
import type { ChainReader, OnChainModel } from "../chain/reader.js";
import type { TxManager } from "../chain/txManager.js";
import type { Common } from "../common.js";
import type { EvalPool } from "../eval/pool.js";
import type { EvalTask } from "../eval/types.js";
import { BadRequestInputError, errorMessage, FailureReason, failureReasonName, GatewayRefusalError, isRetryable, RetryableError } from "../errors.js";
import { failpoint, failpointsArmed } from "../failpoints.js";
import { backoffDelayMs, sleep } from "../retry.js";
import { blobOwnerOf, type Job, type JobStore } from "../store/jobStore.js";
import type { JobState } from "../store/states.js";
import { keysCaching, type OracleBlobs } from "./blobs.js";
import type { QuorumSchedule } from "./standby.js";

/**
 * Drives each confirmed job through fetch → verify → evaluate → store, one committed step at a
 * time, and hands jobs that reached `stored` (a result, or a failure reason) to the transaction
 * manager in batches. Bad input becomes a failure reported on-chain; outages back off and retry.
 */
export type Processor = ReturnType<typeof createProcessor>;

export type CreateProcessorParameters = {
  common: Common;
  store: JobStore;
  reader: ChainReader;
  blobs: OracleBlobs;
  pool: EvalPool;
  txManager: TxManager;
  /** Cheap checks of an input against the model's parameter set before a worker sees it (throws BadRequestInputError). */
  validate?: (task: EvalTask) => void;
  /** Replicas on a shared store: work only on jobs this replica claimed (renewed while in hand, released after). */
  claims?: JobClaims;
  /** False while this replica may not send transactions (another holds the nonce lease): stored jobs wait. */
  canSubmit?: () => boolean;
  /** Behind an OracleQuorum: when this operator starts on a request (primaries at once, standbys later; standby.ts). */
  schedule?: QuorumSchedule;
};

export type JobClaims = {
  replicaId: string;
  claimMs: number;
  claimDueJobs(replicaId: string, limit: number, claimMs: number): Promise<string[]>;
  renewClaim(requestId: string, replicaId: string, claimMs: number): Promise<boolean>;
  releaseClaim(requestId: string, replicaId: string): Promise<void>;
};

/** Wait between passes when nothing woke the processor. */
const IDLE_PASS_MS = 250;
/** Collect jobs reaching `stored` for this long so they leave in one batch. */
const SUBMIT_BATCH_WINDOW_MS = 15;
/** Fulfilment batches in flight at once: one simulated while another is signed and broadcast. */
const SUBMIT_PIPELINE_DEPTH = 2;

export function createProcessor({ common, store, reader, blobs, pool, txManager, validate, claims, canSubmit = () => true, schedule }: CreateProcessorParameters) {
  const { settings, logger, metrics, shutdown } = common;
  const inFlight = new Map<string, Promise<void>>();
  let submitting: Promise<void> | undefined;
  let submitFailures = 0;
  let submitNotBefore = 0;
  let wakeUp: (() => void) | undefined;
  let passScheduled = false;
  let lastRenewal = 0;

  function wake(): void {
    wakeUp?.();
  }

  async function loadModel(job: Job): Promise<OnChainModel> {
    const model = await reader.getModel(job.request.prediction.modelId);
    if (!model) throw new BadRequestInputError(FailureReason.ModelUnavailable, "model unknown to the registry", { details: { modelId: job.request.prediction.modelId } });
    return model;
  }

  async function moved(job: Job, from: JobState, to: JobState, patch: Parameters<JobStore["transition"]>[3] = {}): Promise<boolean> {
    // A step that went through ends a run of gateway refusals: the window starts again at the next.
    const ok = await store.transition(job.requestId, from, to, { ...patch, attempts: 0, lastError: null, refusedSince: null });
    if (ok) {
      metrics.jobTransitions.inc({ to });
      logger.debug({ requestId: job.requestId, from, to }, "job advanced");
    }
    return ok;
  }

  /**
   * A standby's job waits for its turn (nextAttemptAt): false while it does. Its rank, when it is
   * a standby, so the confirmed step can say whether the primaries needed it.
   */
  async function scheduled(job: Job): Promise<{ waiting: boolean; standbyRank?: number }> {
    if (!schedule) return { waiting: false };
    const { at, standbyRank } = await schedule.startAt(job.requestId, job.seenAt);
    if (at <= Date.now()) return { waiting: false, ...(standbyRank !== undefined ? { standbyRank } : {}) };
    await store.patch(job.requestId, "confirmed", { nextAttemptAt: at });
    logger.debug({ requestId: job.requestId, standbyRank, until: at }, "standby for this request: waiting for its primaries");
    return { waiting: true };
  }

  /** One step from the job's current state; returns false when the job left our hands. */
  async function step(job: Job): Promise<boolean> {
    const { prediction } = job.request;
    switch (job.state) {
      case "confirmed": {
        const turn = await scheduled(job);
        if (turn.waiting) return false;
        const onChain = await reader.getRequest(job.requestId);
        if (onChain.status === RequestStatus.None) throw new RetryableError("router does not know the request yet", { code: "ORACLE_REQUEST_NOT_VISIBLE" });
        if (turn.standbyRank !== undefined && onChain.status === RequestStatus.Fulfilled) {
          // The expected end of a standby's wait: the primaries' votes finalised the request.
          const state = jobStateOfClosedRequest(onChain.status);
          if (await store.transition(job.requestId, "confirmed", state, { lastError: "standby: the quorum's primaries finalised the request; nothing evaluated or sent" })) {
            metrics.quorumStandby.inc({ outcome: "not_needed" });
            logger.debug({ requestId: job.requestId, standbyRank: turn.standbyRank }, "standby not needed: the primaries finalised the request");
          }
          return false;
        }
        if (onChain.status !== RequestStatus.Pending) {
          // The store says what the chain says (fulfilled there, perhaps by our own transaction
          // re-included after a reorg, is `fulfilled`, not `refused`).
          const state = jobStateOfClosedRequest(onChain.status);
          const ok = await store.transition(job.requestId, "confirmed", state, { lastError: `request no longer pending (router status ${onChain.status}); nothing sent` });
          if (ok) logger.warn({ requestId: job.requestId, status: onChain.status, state }, "request already settled or cancelled on-chain; skipping");
          return false;
        }
        if (turn.standbyRank !== undefined && job.attempts === 0) {
          metrics.quorumStandby.inc({ outcome: "stepped_in" });
          logger.info({ requestId: job.requestId, standbyRank: turn.standbyRank }, "standby steps in: the request is still pending after its primaries' time");
        }
        const model = await loadModel(job);
        if (!(await reader.modelActive(model.modelId))) throw new BadRequestInputError(FailureReason.ModelUnavailable, "model retired");
        if (onChain.inputHash.toLowerCase() !== prediction.inputHash.toLowerCase()) {
          throw new BadRequestInputError(FailureReason.InputHashMismatch, "request log and router disagree on the input hash");
        }
        await Promise.all([blobs.fetch(prediction.inputHash, "input", job.requestId), blobs.fetch(prediction.keysHash, "keys", job.requestId, keysCaching(prediction))]);
        return moved(job, "confirmed", "fetched");
      }
      case "fetched": {
        const input = await blobs.fetch(prediction.inputHash, "input", job.requestId);
        const keys = await blobs.fetch(prediction.keysHash, "keys", job.requestId, keysCaching(prediction));
        if (sha256Hex(input) !== prediction.inputHash.toLowerCase()) throw new BadRequestInputError(FailureReason.InputHashMismatch, "input does not hash to the on-chain inputHash");
        if (sha256Hex(keys) !== prediction.keysHash.toLowerCase()) throw new BadRequestInputError(FailureReason.KeysHashMismatch, "keys do not hash to the on-chain keysHash");
        const model = await loadModel(job);
        validate?.(taskOf(model, input, keys));
        return moved(job, "fetched", "verified");
      }
      case "verified": {
        const model = await loadModel(job);
        const input = await blobs.fetch(prediction.inputHash, "input", job.requestId);
        const keys = await blobs.fetch(prediction.keysHash, "keys", job.requestId, keysCaching(prediction));
        const outcome = await pool.evaluate(taskOf(model, input, keys));
        if (!outcome.ok) {
          const reason = (outcome.reason ?? FailureReason.EvaluationFailed) as FailureReason;
          throw new BadRequestInputError(reason, `evaluation rejected the input: ${outcome.message}`, { details: { engineCode: outcome.code } });
        }
        const resultHash = sha256Hex(outcome.result);
        blobs.keep(resultHash, outcome.result);
        return moved(job, "verified", "evaluated", { resultHash });
      }
      case "evaluated": {
        const bytes = job.resultHash ? blobs.cached(job.resultHash) : undefined;
        if (!bytes) {
          // The cached result is gone (disk cleaned): evaluate again; it is deterministic.
          return moved(job, "evaluated", "verified", { resultHash: null });
        }
        const { resultHash, resultUri } = await blobs.storeResult(bytes, blobOwnerOf(prediction), job.requestId);
        return moved(job, "evaluated", "stored", { resultHash, resultUri });
      }
      default:
        return false;
    }
  }

  function taskOf(model: OnChainModel, input: Uint8Array, keys: Uint8Array): EvalTask {
    return {
      model: { name: model.name, version: model.version, weightsHash: model.weightsHash, isPrivate: model.isPrivate },
      paramSetId: model.paramSetId,
      input,
      evaluationKeys: keys,
    };
  }

  async function advance(requestId: string): Promise<void> {
    while (!shutdown.isKilled()) {
      const job = await store.getJob(requestId);
      if (!job || !["confirmed", "fetched", "verified", "evaluated"].includes(job.state) || job.nextAttemptAt > Date.now()) return;
      try {
        if (!(await step(job))) return;
        if (failpointsArmed) {
          const after = (await store.getJob(requestId))?.state;
          if (after) await failpoint(`after:${after}`);
        }
      } catch (error) {
        if (error instanceof GatewayRefusalError && (await closedOnChain(job))) return;
        await handleFailure(job, error);
        return;
      }
    }
  }

  /**
   * The gateway refuses an oracle's reads and writes for a request that is no longer pending. A
   * refusal is therefore first checked against the chain: a request closed there (fulfilled by
   * our own transaction re-included after a reorg, say) is recorded as the chain says at once,
   * instead of being retried for GATEWAY_REFUSAL_WINDOW_MS with the store disagreeing with the
   * chain meanwhile (seen in the RPC-fault soak: `evaluated` in the store, Fulfilled on-chain).
   */
  async function closedOnChain(job: Job): Promise<boolean> {
    let status: number;
    try {
      status = Number((await reader.getRequest(job.requestId)).status);
    } catch {
      return false; // the chain is not answering: the refusal is handled as a refusal
    }
    if (status === RequestStatus.Pending || status === RequestStatus.None) return false;
    const state = jobStateOfClosedRequest(status);
    const ok = await store.transition(job.requestId, job.state, state, { lastError: `gateway refused and the request is no longer pending (router status ${status}); nothing sent` });
    if (ok) logger.warn({ requestId: job.requestId, status, state }, "request already settled or cancelled on-chain; skipping");
    return ok;
  }

  /**
   * A gateway refusal (401/403/409) is retried with backoff. After GATEWAY_REFUSAL_WINDOW_MS the
   * job goes back to `confirmed`, whose step re-reads the request from the chain (closed there →
   * the chain's verdict; changed → the new content) before it asks the gateway again; a read
   * refused in that step, past the window, is the answer for a request still pending with the
   * same input: reported on-chain. An upload refusal never is.
   */
  async function handleRefusal(job: Job, error: GatewayRefusalError): Promise<void> {
    const since = job.refusedSince ?? Date.now();
    const expired = Date.now() - since >= settings.GATEWAY_REFUSAL_WINDOW_MS;
    if (expired && job.state === "confirmed" && error.reason !== FailureReason.StorageFailed) {
      await handleFailure(job, new BadRequestInputError(error.reason, error.shortMessage, { cause: error }));
      return;
    }
    if (expired && job.state !== "confirmed") {
      await store.transition(job.requestId, job.state, "confirmed", { lastError: `${error.shortMessage}; re-checking the request on-chain`, refusedSince: since, attempts: 0, nextAttemptAt: 0, resultHash: null, resultUri: null });
      logger.warn({ requestId: job.requestId, status: error.status }, "gateway still refuses; re-checking the request against the chain");
      return;
    }
    const attempts = job.attempts + 1;
    const delayMs = backoffDelayMs(attempts);
    await store.patch(job.requestId, job.state, { attempts, refusedSince: since, lastError: error.shortMessage, nextAttemptAt: Date.now() + delayMs });
    logger.warn({ requestId: job.requestId, state: job.state, status: error.status, err: error.shortMessage, attempts, delayMs }, "gateway refused; will retry");
  }

  async function handleFailure(job: Job, error: unknown): Promise<void> {
    if (error instanceof GatewayRefusalError) {
      await handleRefusal(job, error);
      return;
    }
    if (error instanceof BadRequestInputError) {
      const ok = await store.transition(job.requestId, job.state, "stored", { reasonCode: error.reason, lastError: error.shortMessage, resultHash: null, resultUri: null });
      if (ok) {
        metrics.jobTransitions.inc({ to: "stored" });
        logger.warn({ requestId: job.requestId, reason: failureReasonName(error.reason), err: error.shortMessage }, "request cannot be served; reporting the failure on-chain");
      }
      return;
    }
    const attempts = job.attempts + 1;
    const retryable = isRetryable(error);
    if (!retryable && attempts >= settings.MAX_JOB_ATTEMPTS) {
      // An unexpected, persistent failure: end the request on-chain rather than strand it.
      await store.transition(job.requestId, job.state, "stored", { reasonCode: FailureReason.OracleInternal, lastError: errorMessage(error) });
      logger.error({ requestId: job.requestId, err: errorMessage(error), attempts }, "job failed repeatedly; reporting ORACLE_INTERNAL on-chain");
      return;
    }
    const delayMs = backoffDelayMs(attempts);
    await store.patch(job.requestId, job.state, { attempts, lastError: errorMessage(error), nextAttemptAt: Date.now() + delayMs });
    logger[retryable ? "warn" : "error"]({ requestId: job.requestId, state: job.state, err: errorMessage(error), attempts, delayMs }, "job step failed; will retry");
  }

  /**
   * Hands stored jobs to the transaction manager in batches, two batches in flight: the next is
   * simulated while the previous is signed and broadcast. A job is in one batch at a time.
   */
  async function submitReady(): Promise<void> {
    await sleep(SUBMIT_BATCH_WINDOW_MS);
    const claimed = new Set<string>();
    const running = new Set<Promise<void>>();
    let stop = false;
    let failure: { error: unknown } | undefined;
    while (!stop && !failure) {
      const ready = (await store.jobsInState("stored", settings.MAX_TX_BATCH + claimed.size))
        .filter((job) => !claimed.has(job.requestId))
        .slice(0, settings.MAX_TX_BATCH);
      if (ready.length === 0) break;
      for (const job of ready) claimed.add(job.requestId);
      const batch: Promise<void> = txManager.submit(ready)
        .then(
          (sent) => {
            // Some were held back (simulation): they wait for their retry time, not this loop.
            if (sent.length < ready.length) stop = true;
          },
          (error: unknown) => {
            failure ??= { error };
          },
        )
        .finally(() => {
          for (const job of ready) claimed.delete(job.requestId);
          running.delete(batch);
        });
      running.add(batch);
      if (running.size >= SUBMIT_PIPELINE_DEPTH) await Promise.race(running);
    }
    // Every batch started is awaited before the next round; a failure is reported once.
    await Promise.all(running);
    if (failure) throw failure.error;
  }

  /**
   * The due jobs to take now. On a shared store they are claimed first (SKIP LOCKED: replicas
   * split them); jobs already in hand come back in the claim (renewed), the ones beyond the free
   * slots are given back at once.
   */
  async function dueIds(slots: number): Promise<string[]> {
    if (!claims) return (await store.dueJobIds(settings.MAX_JOBS_IN_FLIGHT + slots)).filter((id) => !inFlight.has(id)).slice(0, slots);
    const claimed = (await claims.claimDueJobs(claims.replicaId, inFlight.size + slots, claims.claimMs)).filter((id) => !inFlight.has(id));
    for (const id of claimed.slice(slots)) await claims.releaseClaim(id, claims.replicaId);
    return claimed.slice(0, slots);
  }

  /** Keeps the claims on jobs in hand (a long evaluation) from expiring: renewed every third of JOB_CLAIM_MS. */
  async function renewClaims(): Promise<void> {
    if (!claims || Date.now() - lastRenewal < claims.claimMs / 3) return;
    lastRenewal = Date.now();
    for (const id of inFlight.keys()) {
      if (!(await claims.renewClaim(id, claims.replicaId, claims.claimMs))) logger.warn({ requestId: id, replicaId: claims.replicaId }, "claim on a job in hand expired and was taken; the other replica's step or ours is refused by the store");
    }
  }

  async function pass(): Promise<void> {
    const slots = settings.MAX_JOBS_IN_FLIGHT - inFlight.size;
    if (slots > 0) {
      const ids = await dueIds(slots);
      const admitted = (await Promise.all(ids.map((id) => store.getJob(id)))).filter((job): job is Job => job !== undefined);
      // The on-chain checks of newly confirmed jobs, all in one round trip.
      const fresh = admitted.filter((job) => job.state === "confirmed");
      const prefetched = fresh.length > 1
        ? reader.prefetch(fresh.map((j) => j.requestId), fresh.map((j) => j.request.prediction.modelId)).catch((error: unknown) => {
          logger.debug({ err: errorMessage(error) }, "prefetch failed; jobs read one by one");
        })
        : Promise.resolve();
      for (const job of admitted) {
        const work = prefetched.then(() => advance(job.requestId)).finally(async () => {
          if (claims) await claims.releaseClaim(job.requestId, claims.replicaId).catch(() => undefined);
          inFlight.delete(job.requestId);
          wake();
        });
        inFlight.set(job.requestId, work);
      }
    }
    if (claims) await renewClaims();
    if (!submitting && !shutdown.isKilled() && Date.now() >= submitNotBefore && canSubmit()) {
      submitting = submitReady()
        .then(() => {
          submitFailures = 0;
        })
        .catch((error: unknown) => {
          submitFailures++;
          const delayMs = backoffDelayMs(submitFailures);
          submitNotBefore = Date.now() + delayMs;
          logger.warn({ err: errorMessage(error), failures: submitFailures, delayMs }, "submitting fulfilments failed; will retry");
        })
        .finally(() => {
          submitting = undefined;
        });
    }
  }

  async function run(): Promise<void> {
    while (!shutdown.isKilled()) {
      passScheduled = false;
      // The pass reads the store (asynchronously): a wake-up meanwhile asks for another pass at once.
      let wokenDuringPass = false;
      wakeUp = () => {
        wokenDuringPass = true;
      };
      try {
        await pass();
      } catch (error) {
        // A store that is briefly unreachable (a Postgres failover) costs one pass, not the loop.
        logger.warn({ err: errorMessage(error) }, "processor pass failed; will retry");
      }
      await new Promise<void>((resolve) => {
        if (wokenDuringPass) {
          setImmediate(resolve);
          return;
        }
        const timer = setTimeout(resolve, IDLE_PASS_MS);
        wakeUp = () => {
          if (passScheduled) return;
          passScheduled = true;
          clearTimeout(timer);
          setImmediate(resolve);
        };
      });
    }
  }

  return {
    run,
    wake,
    inFlight: () => inFlight.size,
    /** Lets the steps in hand finish (each is one committed transition) within `timeoutMs`. */
    async drain(timeoutMs: number): Promise<void> {
      const all = Promise.allSettled([...inFlight.values(), submitting ?? Promise.resolve()]);
      await Promise.race([all, sleep(timeoutMs)]);
    },
  };
}
