/**
 * How the gateway client moves bytes (browser-safe). The default is `fetch`; Node processes that
 * move many blobs pass the keep-alive node:http transport from the Node entry
 * (`createNodeHttpTransport`, sdk/node/transport.ts).
 */
export { createFetchTransport } from "../../core/http.js";
/** The SDK's public names for core/http.ts's transport types. */
export type { HttpRequest as GatewayHttpRequest, HttpResponse as GatewayHttpResponse, HttpTransport as GatewayTransport } from "../../core/http.js";
