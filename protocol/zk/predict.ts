/**
 * The Semaphore scope and message of an anonymous prediction request, and the request id it gets:
 * byte for byte what PredictionRouter computes (IPredictionRouter.anonymousScope,
 * anonymousMessage, anonymousRequestIdFor), so a client knows them before it sends anything.
 *
 *   scope   = uint256(keccak256(abi.encode("medcipher.predict.v1", chainid, router, uint32 epoch, uint16 slot))) >> 8
 *   message = uint256(keccak256(abi.encode("medcipher.predict.v1", chainid, router, uint32 modelId, uint32 epoch,
 *             uint16 slot, address accessKey, bytes32 inputHash, bytes32 keysHash, string inputUri))) >> 8
 *   requestId = keccak256(abi.encodePacked(router, uint256(keccak256(abi.encode("medcipher.anonymous", nullifier)))))
 *
 * The string literals are abi.encode'd as `string` (dynamic), as Solidity encodes a literal.
 * `>> 8` keeps both below the SNARK field; Semaphore hashes them once more inside the proof.
 * The scope names (epoch, slot): one nullifier per patient per slot per epoch, the rate limit.
 */
import { AbiCoder, getAddress, keccak256, solidityPacked } from "ethers";

export const PREDICT_DOMAIN = "medcipher.predict.v1";
export const ANONYMOUS_REQUEST_ID_DOMAIN = "medcipher.anonymous";
/** IPredictionRouter.ANONYMOUS_EPOCH_SECONDS: one day. */
export const ANONYMOUS_EPOCH_SECONDS = 86_400;
/** IPredictionRouter.anonymousRequestsPerEpoch() at deployment (governance may change it; read the view). */
export const DEFAULT_ANONYMOUS_REQUESTS_PER_EPOCH = 4;

/** IPredictionRouter.AnonymousRequest. */
export type AnonymousRequest = {
  modelId: number;
  epoch: number;
  slot: number;
  /** A one-time address: only its signature reads the result at the gateway. */
  accessKey: string;
  /** SHA-256 of the input ciphertext (0x-hex). */
  inputHash: string;
  /** SHA-256 of the fresh key set's public-keys blob (0x-hex). */
  keysHash: string;
  inputUri: string;
};

const abi = AbiCoder.defaultAbiCoder();

export type AnonymousRequestContext = { chainId: bigint | number; router: string };

export function anonymousScope(context: AnonymousRequestContext, epoch: number, slot: number): bigint {
  const encoded = abi.encode(["string", "uint256", "address", "uint32", "uint16"], [PREDICT_DOMAIN, context.chainId, getAddress(context.router), epoch, slot]);
  return BigInt(keccak256(encoded)) >> 8n;
}

export function anonymousMessage(context: AnonymousRequestContext, request: AnonymousRequest): bigint {
  const encoded = abi.encode(
    ["string", "uint256", "address", "uint32", "uint32", "uint16", "address", "bytes32", "bytes32", "string"],
    [PREDICT_DOMAIN, context.chainId, getAddress(context.router), request.modelId, request.epoch, request.slot, getAddress(request.accessKey), request.inputHash, request.keysHash, request.inputUri],
  );
  return BigInt(keccak256(encoded)) >> 8n;
}

/** The Chainlink request id (ChainlinkClient's keccak256(abi.encodePacked(this, nonce))) of the request spending `nullifier`. */
export function anonymousRequestIdFor(router: string, nullifier: bigint | string): string {
  const nonce = BigInt(keccak256(abi.encode(["string", "uint256"], [ANONYMOUS_REQUEST_ID_DOMAIN, BigInt(nullifier)])));
  return keccak256(solidityPacked(["address", "uint256"], [getAddress(router), nonce]));
}

/** The rate-limit epoch at `timestampSeconds` (the router accepts it and the one before). */
export function currentEpoch(timestampSeconds: number | bigint): number {
  const epoch = BigInt(timestampSeconds) / BigInt(ANONYMOUS_EPOCH_SECONDS);
  if (epoch > 0xffffffffn) throw new RangeError(`Epoch ${epoch} does not fit uint32.`);
  return Number(epoch);
}
