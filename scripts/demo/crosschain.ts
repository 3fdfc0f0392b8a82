/**
 * The demo's cross-chain step (issue 15, docs/crosschain.md): consent granted on the patient's
 * home chain, carried by CCIP to a destination chain's ConsentMirror, used there by the clinician
 * to request a prediction from the destination's own PredictionRouter, revoked at home, carried
 * again, and refused on the destination.
 *
 * CCIP is Chainlink's CCIPLocalSimulator here: its router delivers on the same chain inside the
 * sending transaction and charges no fee, so "the destination" is a second suite on the demo's
 * chain and the sync's gas is send and receive together, not what CCIP costs.
 */
import type { NetworkConnection } from "hardhat/types/network";
import type { Wallet } from "ethers";

import { DEST_SELECTOR, deployCrossChainPair } from "../../deploy/crossChain.js";
import { deployMedCipher, DEFAULT_SPONSOR_BUDGET, type MedCipherDeployment, type ModelRegistration } from "../../deploy/local.js";
import type { FheClient, Reading } from "../../fhe/index.js";
import { Category, Purpose, RequestStatus } from "../../protocol/codes.js";
import { decodeRevert, describeRevert, type DecodedRevert } from "../../protocol/revert.js";
import { grantConsent } from "../../sdk/actions/grantConsent.js";
import { requestPrediction } from "../../sdk/actions/requestPrediction.js";
import { revokeConsent } from "../../sdk/actions/revokeConsent.js";
import type { MedCipherClient } from "../../sdk/client.js";
import { createMedCipherClient } from "../../sdk/node.js";
import { stepPrinter } from "./primitives.js";

export type CrossChainDemoContext = {
  print: (line: string) => void;
  connection: NetworkConnection;
  /** The home suite (the demo's). */
  suite: MedCipherDeployment;
  gatewayUrl: string;
  /** The oracle node's address: allowed on the destination's Operator too. */
  oracleAddress: string;
  /** The models the home suite registered, registered the same on the destination. */
  models: ModelRegistration[];
  /** The home model id of `model`'s registration (its position in `models` gives the destination's). */
  modelIndex: number;
  patient: MedCipherClient;
  patientWallet: Wallet;
  /** The patient's CKKS key set: the clinician's app encrypts under its public side only. */
  fhe: Pick<FheClient, "encrypt" | "paramSetId">;
  keysHash: string;
  keysUri: string;
  clinicianWallet: Wallet;
  readings: Reading;
};

export type CrossChainDemoSummary = {
  /** The mirror answered hasAccess for the clinician after the grant's sync. */
  mirroredGrant: boolean;
  /** The clinician's request on the destination router under the mirrored consent. */
  accepted: { requestId: string; status: keyof typeof RequestStatus };
  /** The mirror's answer after the revocation's sync (false). */
  mirroredAfterRevoke: boolean;
  /** The destination router's custom error on the clinician's next request, decoded. */
  refused: Pick<DecodedRevert, "reason" | "args"> | undefined;
  /** CCIP messages the bridge sent to the destination (its sequence). */
  messages: number;
  /** Gas of syncConsent, send and simulated receive in one transaction (not a CCIP cost). */
  gas: { syncGrant: number; syncRevoke: number };
};

const DAY_SECONDS = 86_400;

export async function runCrossChainStep(ctx: CrossChainDemoContext, n: number): Promise<CrossChainDemoSummary> {
  const { print, connection, suite, patient, clinicianWallet } = ctx;
  const info = (text: string) => print(`    ${text}`);
  stepPrinter(print)(n, "Across chains: consent granted at home, mirrored through CCIP, used by the clinician on a destination chain's router, revoked, refused");
  info("CCIP here is Chainlink's local simulator: its router delivers on this same chain, inside the sending transaction, and charges no fee");

  // The destination chain's own suite (identity, models), and the bridge ↔ mirror pair with the
  // destination's PredictionRouter, whose consent contract is the mirror.
  const dest = await deployMedCipher(connection, { governance: suite.governance, oracleSenders: [ctx.oracleAddress], models: ctx.models });
  const pair = await deployCrossChainPair(connection, { home: suite.addresses, dest, governance: suite.governance, oracleSenders: [ctx.oracleAddress] });
  const destRouterAddress = await pair.destRouter.getAddress();
  info(`home ConsentBridge ${await pair.bridge.getAddress()} → destination ConsentMirror ${await pair.mirror.getAddress()}, PredictionRouter ${destRouterAddress}`);
  // The patient registers on the destination with the home key set (the mirror honours a grant only then) and is sponsored there.
  const { encryptionKey } = await suite.identity.patientOf(patient.address);
  await (await dest.identity.connect(ctx.patientWallet).registerPatient(ctx.keysHash, await paramSetOf(suite, patient.address), ctx.keysUri, encryptionKey)).wait();
  await (await pair.destRouter.sponsorPatients([patient.address], DEFAULT_SPONSOR_BUDGET)).wait();

  const now = (await connection.ethers.provider.getBlock("latest"))!.timestamp;
  const clinician = clinicianWallet.address;
  await grantConsent(patient, { grantee: clinician, purpose: Purpose.TREATDS, categories: [Category.PREDICTION], validUntil: now + DAY_SECONDS });
  const bridge = pair.bridge.connect(clinicianWallet);
  const sync = async () => {
    // Anyone may sync a consent as it stands at home; the caller pays CCIP's fee (0 on the simulator).
    const fee = await bridge.quoteFee(DEST_SELECTOR, 1, false);
    const receipt = (await (await bridge.syncConsent(DEST_SELECTOR, patient.address, clinician, Purpose.TREATDS, false, { value: fee })).wait())!;
    return Number(receipt.gasUsed);
  };
  const syncGrant = await sync();
  const mirroredGrant = await pair.mirror.hasAccess(clinician, patient.address, Category.PREDICTION, Purpose.TREATDS);
  info(`home: the patient grants the clinician TREATDS/prediction for a day; the clinician syncs it (syncConsent, ${syncGrant} gas for send + simulated receive); the mirror answers hasAccess = ${mirroredGrant}`);

  // The clinician's app: encrypts under the patient's public CKKS key, stores through the
  // gateway's firewall, and requests on the destination's router and model registry.
  const destModelId = Number(dest.modelIds[ctx.modelIndex]);
  const clinicianApp = await createMedCipherClient({
    account: clinicianWallet,
    addresses: { ...suite.addresses, PredictionRouter: destRouterAddress, ModelRegistry: dest.addresses.ModelRegistry },
    gatewayUrl: ctx.gatewayUrl,
  });
  const accepted = await requestPrediction(clinicianApp, { modelId: destModelId, fhe: ctx.fhe, readings: ctx.readings, patient: patient.address });
  const status = statusName(Number((await pair.destRouter.getRequest(accepted.requestId)).status));
  info(`destination: the clinician's request ${accepted.requestId.slice(0, 10)}… is accepted under the mirrored consent (status ${status})`);
  info("it stays pending in this demo: the oracle and gateway here serve the home chain's router, and the gateway gives an oracle a request's input only for a request that router holds; a destination needs its own gateway + oracle pair (docs/crosschain.md)");

  await revokeConsent(patient, { grantee: clinician, purpose: Purpose.TREATDS });
  const syncRevoke = await sync();
  const mirroredAfterRevoke = await pair.mirror.hasAccess(clinician, patient.address, Category.PREDICTION, Purpose.TREATDS);
  info(`home: the patient revokes; the clinician's sync carries it (${syncRevoke} gas); the mirror answers hasAccess = ${mirroredAfterRevoke} from the moment it lands`);

  let refused: CrossChainDemoSummary["refused"];
  try {
    // The same stored input again: the router refuses before anything is charged or requested.
    await pair.destRouter.connect(clinicianWallet).requestPrediction(patient.address, destModelId, accepted.inputHash, `${ctx.gatewayUrl}/v1/blobs/${accepted.inputHash}`);
  } catch (error) {
    const revert = decodeRevert(error);
    if (!revert) throw error;
    refused = { reason: revert.reason, args: revert.args };
  }
  if (!refused) throw new Error("the destination accepted a request after the revocation landed");
  info(`destination: the clinician's next request is refused: ${describeRevert(refused)}`);

  return {
    mirroredGrant,
    accepted: { requestId: accepted.requestId, status },
    mirroredAfterRevoke,
    refused,
    messages: Number(await pair.bridge.sequenceOf(DEST_SELECTOR)),
    gas: { syncGrant, syncRevoke },
  };
}

async function paramSetOf(suite: MedCipherDeployment, patient: string): Promise<string> {
  return (await suite.identity.keySetOf(patient)).paramSetId;
}

function statusName(status: number): keyof typeof RequestStatus {
  const entry = Object.entries(RequestStatus).find(([, value]) => value === status);
  if (!entry) throw new RangeError(`unknown request status ${status}`);
  return entry[0] as keyof typeof RequestStatus;
}
