/**
 * The SDK's Node entry: everything in the browser-safe entry (./index.ts) plus what only Node
 * can do (files, node:http). package.json `exports` sends Node here and browsers to ./index.ts.
 */
export * from "./index.js";
export { loadDeployment } from "./node/deployment.js";
export { createNodeHttpTransport } from "./node/transport.js";
