/**
 * The SDK's gateway client. It is the client's half of the gateway wire protocol and lives in
 * protocol/ (the oracle uses it too, and must not import sdk/); the SDK re-exports it.
 */
export {
  createGatewayClient,
  type GatewayClient,
  type GatewayClientOptions,
  type GatewaySigner,
  type GetBlobParameters,
  type PutBlobParameters,
} from "../../protocol/gatewayClient.js";
