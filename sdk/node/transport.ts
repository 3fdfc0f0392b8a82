/**
 * The Node-only gateway transport: node:http(s) keep-alive connections, about half the CPU of
 * Node's fetch per blob (see core/node/httpTransport.ts). It lives in core/node/ because the
 * oracle uses it too and must not import sdk/; the SDK's Node entry re-exports it from here.
 *
 * @example
 * const gateway = createGatewayClient({ url, signer, chainId, gatewayAddress, transport: createNodeHttpTransport() });
 */
export { createNodeHttpTransport } from "../../core/node/httpTransport.js";
