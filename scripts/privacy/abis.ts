/**
 * ABIs for deployed contracts that protocol/abi/generated.ts does not carry (yet), read from the
 * build's artifacts by contract name: so the observer decodes a contract the moment it is
 * deployed, before anyone adds it to the generator. Needs the Hardhat runtime (a test or
 * `hardhat run`).
 */
import { artifacts } from "hardhat";
import type { InterfaceAbi } from "ethers";

import { generatedAbis } from "./observer.js";

export async function artifactAbis(addresses: Record<string, string>): Promise<Record<string, InterfaceAbi>> {
  const known = generatedAbis();
  const out: Record<string, InterfaceAbi> = {};
  for (const name of Object.keys(addresses)) {
    if (known[name]) continue;
    if (await artifacts.artifactExists(name)) out[name] = (await artifacts.readArtifact(name)).abi as InterfaceAbi;
  }
  return out;
}
