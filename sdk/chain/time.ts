import type { Provider } from "ethers";

/**
 * The chain's notion of now (the latest block's timestamp, seconds). On-chain validity — consent
 * periods, signature deadlines, device expiries — is judged against block time, which can sit
 * minutes away from this machine's clock (a paused local chain, a test that moved time, a slow
 * testnet). Computing them from `Date.now()` makes a fresh grant "not yet valid" or a fresh
 * signature "expired" on such chains.
 */
export async function chainNow(provider: Provider): Promise<number> {
  const block = await provider.getBlock("latest");
  return block ? block.timestamp : Math.floor(Date.now() / 1000);
}

/** Signature deadlines the SDK sets: one hour of chain time. */
export const SIGNATURE_LIFETIME_SECONDS = 3_600;
