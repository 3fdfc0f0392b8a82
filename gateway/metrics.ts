import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * The gateway's Prometheus metrics, on a registry of its own (several gateways live in one test
 * process). Gauges that mirror state (audit log size, anchoring, uploads in flight) are read on
 * each scrape through `observe`, so they are never stale. Documented in docs/gateway.md.
 */
export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;

/** What the gauges read on each scrape. */
export type GatewayObservations = {
  auditEntries?: () => number;
  /** Size of the last anchored tree and when it was anchored (Unix seconds); undefined: never. */
  lastAnchor?: () => { seq: number; at: number } | undefined;
  uploadBytesInFlight?: () => number;
};

export function createGatewayMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "gateway_process_" });
  const registers = [registry];
  const observations: GatewayObservations = {};
  const metrics = {
    registry,
    /** Wires the state gauges to their sources (createGateway, startGatewayService). */
    observe(sources: GatewayObservations) {
      Object.assign(observations, sources);
    },
    requests: new Counter({ name: "gateway_requests_total", help: "Requests answered, by route and HTTP status", labelNames: ["route", "status"] as const, registers }),
    requestSeconds: new Histogram({
      name: "gateway_request_seconds", help: "Time from request to answer, by route", labelNames: ["route"] as const, registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    }),
    bytesIn: new Counter({ name: "gateway_request_bytes_total", help: "Request body bytes received, by route", labelNames: ["route"] as const, registers }),
    bytesOut: new Counter({ name: "gateway_response_bytes_total", help: "Response body bytes sent, by route", labelNames: ["route"] as const, registers }),
    refusals: new Counter({ name: "gateway_refusals_total", help: "Requests refused, by error code (GATEWAY_FORBIDDEN, GATEWAY_AUTH_REPLAY, …)", labelNames: ["code"] as const, registers }),
    chainViews: new Counter({ name: "gateway_chain_view_lookups_total", help: "Chain views asked by authorisation: result `hit` (cached for the head block) or `miss` (an eth_call)", labelNames: ["result"] as const, registers }),
    anchorFailures: new Counter({ name: "gateway_audit_anchor_failures_total", help: "anchorHead transactions that failed (retried at the next interval)", registers }),
    auditEntries: new Gauge({
      name: "gateway_audit_entries", help: "Entries in the audit log (its tree size)", registers,
      collect() { if (observations.auditEntries) this.set(observations.auditEntries()); },
    }),
    unanchoredEntries: new Gauge({
      name: "gateway_audit_unanchored_entries", help: "Audit entries not yet covered by an on-chain anchor", registers,
      collect() { if (observations.auditEntries) this.set(observations.auditEntries() - (observations.lastAnchor?.()?.seq ?? 0)); },
    }),
    lastAnchorTimestamp: new Gauge({
      name: "gateway_audit_last_anchor_timestamp_seconds", help: "When the audit head was last anchored on-chain (Unix seconds; 0: not since start). Alert on time() minus this", registers,
      collect() { this.set(observations.lastAnchor?.()?.at ?? 0); },
    }),
    uploadBytesInFlight: new Gauge({
      name: "gateway_upload_bytes_in_flight", help: "Upload bytes reserved by uploads in progress (against MAX_IN_FLIGHT_UPLOAD_BYTES)", registers,
      collect() { if (observations.uploadBytesInFlight) this.set(observations.uploadBytesInFlight()); },
    }),
    ready: new Gauge({ name: "gateway_ready", help: "1 when the last /readyz found every check passing, 0 otherwise", registers }),
  };
  return metrics;
}

/** The route label of a path: ids folded, unknown paths one label, so cardinality stays fixed. */
export function routeLabel(path: string | undefined): string {
  if (path === undefined) return "invalid";
  if (path.startsWith("/v1/blobs/")) return "/v1/blobs/:id";
  if (path.startsWith("/v1/firewall/he-input/")) return "/v1/firewall/he-input/:rawId";
  return ["/v1/audit", "/v1/audit/head", "/v1/shares", "/v1/info", "/healthz", "/readyz", "/metrics"].includes(path) ? path : "other";
}
