/**
 * The SDK's gateway client. It is the client's half of the gateway wire protocol and lives in
 * protocol/ (the oracle uses it too, and must not import sdk/); the SDK re-exports it.
 */
export {
  createGatewayClient,
  newAccessKey,
  type GatewayClient,
  type GatewayClientOptions,
  type GatewaySigner,
  type GetBlobParameters,
  type ListSharesParameters,
  type PutAnonymousParameters,
  type PutBlobParameters,
} from "../../protocol/gatewayClient.js";
export { decodeAnonymousUpload, encodeAnonymousUpload, HEADER_ANONYMOUS, type AnonymousUpload } from "../../protocol/gateway.js";
