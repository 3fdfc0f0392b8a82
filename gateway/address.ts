import { getAddress } from "ethers";

const checksummed = new Map<string, string>();

/**
 * `getAddress` (EIP-55) with a memo: ethers recomputes a keccak256 per call, and the gateway
 * normalises the same few signer and owner addresses on every request.
 */
export function checksumAddress(address: string): string {
  let value = checksummed.get(address);
  if (value === undefined) {
    value = getAddress(address);
    if (checksummed.size >= 50_000) checksummed.clear();
    checksummed.set(address, value);
  }
  return value;
}
