import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

import { JOB_STATES } from "./store/states.js";

/**
 * The daemon's Prometheus metrics, on a registry of its own (several daemons can live in one
 * test process). `oracle_jobs` is filled from the job store on each scrape.
 */
export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "oracle_process_" });
  const registers = [registry];
  return {
    registry,
    jobs: new Gauge({ name: "oracle_jobs", help: "Jobs in the store by state", labelNames: ["state"] as const, registers }),
    jobTransitions: new Counter({ name: "oracle_job_transitions_total", help: "Job state changes", labelNames: ["to"] as const, registers }),
    evaluationSeconds: new Histogram({
      name: "oracle_evaluation_seconds", help: "Homomorphic evaluation time in a worker", registers,
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    }),
    requestToFulfilSeconds: new Histogram({
      name: "oracle_request_to_fulfilment_seconds", help: "From request seen to fulfilment mined", registers,
      buckets: [0.5, 1, 2, 3, 5, 10, 30, 60, 300],
    }),
    rpcSeconds: new Histogram({
      name: "oracle_rpc_seconds", help: "JSON-RPC round trips (a batch counts once)", labelNames: ["method"] as const, registers,
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    }),
    gatewaySeconds: new Histogram({
      name: "oracle_gateway_seconds", help: "Gateway requests", labelNames: ["op"] as const, registers,
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    }),
    evalQueueDepth: new Gauge({ name: "oracle_eval_queue_depth", help: "Evaluations waiting for a worker", registers }),
    chainHead: new Gauge({ name: "oracle_chain_head_block", help: "Latest block number seen", registers }),
    chainCursor: new Gauge({ name: "oracle_chain_cursor_block", help: "Last block whose logs are recorded", registers }),
    chainLag: new Gauge({ name: "oracle_chain_lag_blocks", help: "Head minus cursor", registers }),
    reorgs: new Counter({ name: "oracle_reorgs_total", help: "Reorgs detected", registers }),
    duplicateLogs: new Counter({ name: "oracle_duplicate_logs_total", help: "Request logs already consumed", registers }),
    rpcErrors: new Counter({ name: "oracle_rpc_errors_total", help: "Failed JSON-RPC calls", labelNames: ["method"] as const, registers }),
    gatewayErrors: new Counter({ name: "oracle_gateway_errors_total", help: "Failed gateway calls", registers }),
    txSent: new Counter({ name: "oracle_tx_sent_total", help: "Transactions broadcast (replacements included)", labelNames: ["kind"] as const, registers }),
    txPending: new Gauge({ name: "oracle_tx_pending", help: "Our transactions not yet mined", registers }),
    nonceOwner: new Gauge({ name: "oracle_nonce_owner", help: "1 when this replica holds the nonce lease (follows the chain, sends transactions); always 1 with SQLite", registers }),
    balanceEth: new Gauge({ name: "oracle_balance_eth", help: "Balance of the oracle account, in ether", registers }),
    balanceLow: new Gauge({ name: "oracle_balance_low", help: "1 when the balance is below MIN_BALANCE_WEI", registers }),
    quorumVotes: new Counter({
      name: "oracle_quorum_votes_total",
      help: "Our votes on an OracleQuorum by outcome: finalised (ours completed k), counted (k not reached yet), late (already final), already (the quorum had our vote)",
      labelNames: ["outcome"] as const, registers,
    }),
    quorumStandby: new Counter({
      name: "oracle_quorum_standby_total",
      help: "Requests this operator was a standby for (QUORUM_STANDBY_MS): not_needed (the primaries finalised it first), stepped_in (still pending at its turn: evaluated and voted)",
      labelNames: ["outcome"] as const, registers,
    }),
    adapterRequests: new Counter({ name: "oracle_adapter_requests_total", help: "External-adapter requests", labelNames: ["status"] as const, registers }),
  };
}

export function resetJobGauge(metrics: Metrics, counts: Record<string, number>): void {
  for (const state of JOB_STATES) metrics.jobs.set({ state }, counts[state] ?? 0);
}
