/**
 * Two MedCipher suites on one EDR chain joined by Chainlink's CCIP local simulator: the home suite
 * with its ConsentBridge, and a destination suite whose ConsentMirror (fed by the simulator's
 * router) is the consent contract of a PredictionRouter of its own. The simulator's router
 * delivers inside the sending transaction and its `routeMessage` lets anyone hand the mirror a
 * crafted message as the router: the tests use it for replays, late and foreign messages.
 */
import type { NetworkConnection } from "hardhat/types/network";
import { AbiCoder, type BigNumberish } from "ethers";

import { deployMedCipher, type MedCipherDeployment } from "../../deploy/local.js";
import { HOME_SELECTOR, deployCrossChainPair, type CrossChainDeployment } from "../../deploy/crossChain.js";
import { DEMO_MODEL, PARAM_SET, blobUri, deploySuite, randomHash, registerPatient, type Suite } from "./fixtures.js";

export { DEST_SELECTOR, HOME_SELECTOR } from "../../deploy/crossChain.js";

/** ConsentMessages kinds. */
export const Kind = { Consent: 1, Epoch: 2, Record: 3, PrivateConsent: 4 } as const;

export type CrossChain = CrossChainDeployment & {
  home: Suite;
  dest: MedCipherDeployment;
  /** The patient's home key-set hash (registered with the same on the destination). */
  keysHash: string;
};

export async function deployCrossChain(connection: NetworkConnection): Promise<CrossChain> {
  const home = await deploySuite(connection);
  const { governance, oracle, provider, researcher } = home.actors;
  // A second suite: the destination chain's identity, models and privacy groups.
  const dest = await deployMedCipher(connection, {
    governance,
    oracleSenders: [oracle.address],
    roles: { providers: [provider.address], researchers: [researcher.address] },
    models: [DEMO_MODEL],
  });

  const pair = await deployCrossChainPair(connection, {
    home: home.addresses,
    dest,
    governance,
    oracleSenders: [oracle.address],
  });
  const { destRouter } = pair;

  // The patient registers on both chains with the same key set, and is sponsored on both.
  const { patient } = home.actors;
  const keysHash = await registerPatient(home, patient);
  await (await dest.identity.connect(patient).registerPatient(keysHash, PARAM_SET, blobUri(keysHash), randomHash())).wait();
  await (await destRouter.sponsorPatients([patient.address], 10n * 10n ** 18n)).wait();

  return {
    home,
    dest,
    ...pair,
    keysHash,
  };
}

const coder = AbiCoder.defaultAbiCoder();

export type ConsentSnapshot = {
  patient: string;
  grantee: string;
  purpose: number;
  categories: BigNumberish;
  validFrom: BigNumberish;
  validUntil: BigNumberish;
  epoch: BigNumberish;
  keysHash: string;
};

const CONSENT_TUPLE = "tuple(address patient,address grantee,uint8 purpose,uint32 categories,uint40 validFrom,uint40 validUntil,uint32 epoch,bytes32 keysHash)";
const PRIVATE_TUPLE = "tuple(bytes32 commitment,tuple(uint40 grantedAt,uint40 revokedAt) state)";

/** The bridge's wire format (ConsentMessages.sol): abi.encode(kind, sequence, body). */
export function encodeMessage(kind: number, sequence: BigNumberish, body: string): string {
  return coder.encode(["uint8", "uint64", "bytes"], [kind, sequence, body]);
}

export function consentBody(s: ConsentSnapshot): string {
  return coder.encode([CONSENT_TUPLE], [s]);
}

export function privateConsentBody(commitment: string, grantedAt: BigNumberish, revokedAt: BigNumberish): string {
  return coder.encode([PRIVATE_TUPLE], [{ commitment, state: { grantedAt, revokedAt } }]);
}

/** A CCIP Any2EVMMessage as the router hands it to `ccipReceive`. */
export function any2Evm(data: string, options: { sender: string; sourceChainSelector?: bigint; messageId?: string }) {
  return {
    messageId: options.messageId ?? randomHash(),
    sourceChainSelector: options.sourceChainSelector ?? HOME_SELECTOR,
    sender: coder.encode(["address"], [options.sender]),
    data,
    destTokenAmounts: [],
  };
}
