/**
 * The local stack's development faucet: POST /faucet { address } sends 1 ETH from a funded
 * account, and gives the address a prediction sponsor budget (LINK from the router's pool), so
 * keys made in the page can register, consent and request predictions at once. Development only:
 * no real network has it, and every answer says so.
 */
import { getAddress, isAddress, parseEther, type Signer } from "ethers";

import type { PredictionRouter } from "../../types/ethers-contracts/index.js";
import { AppBadRequestError } from "./errors.js";
import { createSerialQueue } from "./serial.js";

export const FAUCET_AMOUNT_WEI = parseEther("1");
/** An address holding this much already gets nothing more: the faucet cannot be drained by one page. */
export const FAUCET_BALANCE_CAP_WEI = parseEther("10");

export type FaucetReply = {
  address: string;
  /** 0 when the address already held FAUCET_BALANCE_CAP_WEI. */
  amountWei: string;
  transactionHash?: string;
  /** The address can draw on the router's LINK pool for its predictions (sponsorPatients). */
  sponsored: boolean;
  note: string;
};

export type Faucet = { fund(body: unknown): Promise<FaucetReply> };

export function createFaucet(options: {
  funder: Signer;
  /** The router connected to governance: it grants the sponsor budget. */
  router: Pick<PredictionRouter, "sponsorPatients" | "accountOf">;
  sponsorBudget: bigint;
}): Faucet {
  const serial = createSerialQueue();
  const provider = options.funder.provider!;
  return {
    async fund(body) {
      const raw = (body as { address?: unknown } | null)?.address;
      if (typeof raw !== "string" || !isAddress(raw)) throw new AppBadRequestError("POST /faucet", ["send { \"address\": \"0x…\" } with an Ethereum address"]);
      const address = getAddress(raw);
      return serial(async () => {
        let transactionHash: string | undefined;
        let amount = 0n;
        if ((await provider.getBalance(address)) < FAUCET_BALANCE_CAP_WEI) {
          const tx = await options.funder.sendTransaction({ to: address, value: FAUCET_AMOUNT_WEI });
          await tx.wait();
          transactionHash = tx.hash;
          amount = FAUCET_AMOUNT_WEI;
        }
        if ((await options.router.accountOf(address)).sponsorBudget === 0n) await (await options.router.sponsorPatients([address], options.sponsorBudget)).wait();
        return {
          address, amountWei: amount.toString(), transactionHash, sponsored: true,
          note: "development faucet of the local stack (npm run app): test ETH on a throwaway chain, no real network has this",
        };
      });
    },
  };
}
