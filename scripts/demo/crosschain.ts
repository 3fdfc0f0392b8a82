/**
 * The demo's cross-chain step (issue 15, docs/crosschain.md): consent granted on the patient's
 * home chain, carried by CCIP to a destination chain's ConsentMirror, used there by the clinician
 * to request a prediction from the destination's own PredictionRouter, served by the
 * destination's own gateway and oracle daemon and decrypted by the patient, revoked at home,
 * carried again, and refused on the destination (by its gateway and its router).
 *
 * CCIP is Chainlink's CCIPLocalSimulator here: its router delivers on the same chain inside the
 * sending transaction and charges no fee, so "the destination" is a second suite on the demo's
 * chain and the sync's gas is send and receive together, not what CCIP costs. Being one chain,
 * the destination's daemon has a key of its own: sharing the home daemon's would race nonces.
 */
import { join } from "node:path";

import type { NetworkConnection } from "hardhat/types/network";
import { hexlify, randomBytes, type Wallet } from "ethers";
import { pino } from "pino";

import { DEST_SELECTOR, deployCrossChainPair, destinationAddresses } from "../../deploy/crossChain.js";
import { deployMedCipher, DEFAULT_SPONSOR_BUDGET, type MedCipherDeployment, type ModelRegistration } from "../../deploy/local.js";
import { predictionFromScores, scoreReading, type FheClient, type ModelArtifact, type Reading } from "../../fhe/index.js";
import { startGatewayService } from "../../gateway/service.js";
import { loadSettings } from "../../oracle/config/settings.js";
import { startOracle } from "../../oracle/daemon.js";
import { Category, Purpose, RequestStatus } from "../../protocol/codes.js";
import { GatewayRequestError } from "../../protocol/errors.js";
import { decodeRevert, describeRevert, type DecodedRevert } from "../../protocol/revert.js";
import { getPredictionResult } from "../../sdk/actions/getPredictionResult.js";
import { grantConsent } from "../../sdk/actions/grantConsent.js";
import { requestPrediction } from "../../sdk/actions/requestPrediction.js";
import { revokeConsent } from "../../sdk/actions/revokeConsent.js";
import { waitForPrediction } from "../../sdk/actions/waitForPrediction.js";
import { requireGateway, type MedCipherClient } from "../../sdk/client.js";
import { createMedCipherClient } from "../../sdk/node.js";
import { stepPrinter } from "./primitives.js";

export type CrossChainDemoContext = {
  print: (line: string) => void;
  connection: NetworkConnection;
  /** The chain over JSON-RPC on loopback, for the destination's oracle daemon. */
  rpcUrl: string;
  /** The home suite (the demo's). */
  suite: MedCipherDeployment;
  /** A new funded account on the chain. */
  fresh: () => Promise<Wallet>;
  /** The destination's gateway and oracle keep their files (and logs) under here. */
  dataDir: string;
  /** The demo's closers: the destination's gateway and daemon are stopped with the rest. */
  closers: (() => Promise<unknown>)[];
  /** The models the home suite registered, registered the same on the destination. */
  models: ModelRegistration[];
  /** The home model id of `model`'s registration (its position in `models` gives the destination's). */
  modelIndex: number;
  /** The artifact of `models[modelIndex]`: decodes the result and gives the plaintext answer. */
  artifact: ModelArtifact;
  patient: MedCipherClient;
  patientWallet: Wallet;
  /** The patient's CKKS key set: the clinician's app encrypts under its public side only; the patient decrypts. */
  fhe: Pick<FheClient, "encrypt" | "decrypt" | "paramSetId">;
  keysHash: string;
  clinicianWallet: Wallet;
  readings: Reading;
};

export type CrossChainDemoSummary = {
  /** The mirror answered hasAccess for the clinician after the grant's sync. */
  mirroredGrant: boolean;
  /** The clinician's request on the destination router under the mirrored consent, once the destination's oracle served it. */
  accepted: { requestId: string; inputHash: string; status: keyof typeof RequestStatus };
  /** What the patient decrypted from the destination gateway, and the plaintext model's answer on the same reading. */
  served: { label: string; probabilities: number[]; plaintext: { label: string; probabilities: number[] }; maxProbabilityDifference: number };
  /** The mirror's answer after the revocation's sync (false). */
  mirroredAfterRevoke: boolean;
  /** The destination gateway's refusal of the clinician's next input upload. */
  gatewayRefused: { status: number; code: string; reason: string } | undefined;
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
  stepPrinter(print)(n, "Across chains: consent granted at home, mirrored through CCIP, used by the clinician on a destination chain, served by its gateway and oracle, revoked, refused");
  info("CCIP here is Chainlink's local simulator: its router delivers on this same chain, inside the sending transaction, and charges no fee");

  // The destination chain's own suite (identity, models), its gateway's and oracle's keys holding
  // their roles there, and the bridge ↔ mirror pair with the destination's PredictionRouter,
  // whose consent contract is the mirror.
  const gatewayKey = await ctx.fresh();
  const oracleKey = await ctx.fresh();
  const dest = await deployMedCipher(connection, { governance: suite.governance, oracleSenders: [oracleKey.address], roles: { gateways: [gatewayKey.address] }, models: ctx.models });
  const pair = await deployCrossChainPair(connection, { home: suite.addresses, dest, governance: suite.governance, oracleSenders: [oracleKey.address] });
  const addresses = await destinationAddresses(dest, pair);
  info(`home ConsentBridge ${await pair.bridge.getAddress()} → destination ConsentMirror ${addresses.ConsentManager}, PredictionRouter ${addresses.PredictionRouter}`);
  const served = await startDestinationServices(ctx, addresses, gatewayKey, oracleKey);
  info(`destination gateway ${served.gatewayUrl} (consent contract: the mirror) and oracle ${oracleKey.address} (the destination's Operator and router, a key of its own)`);

  // The patient registers on the destination with the home key set (the mirror honours a grant
  // only then), its evaluation keys stored at the destination's gateway first, and is sponsored there.
  const patientApp = await createMedCipherClient({ account: ctx.patientWallet, addresses, gatewayUrl: served.gatewayUrl });
  const evaluationKeys = await requireGateway(patient).get(ctx.keysHash, { purpose: Purpose.PATRQT });
  await requireGateway(patientApp).put(evaluationKeys, { owner: patient.address, kind: "he-keys", category: Category.PREDICTION, ref: ctx.keysHash });
  const { encryptionKey } = await suite.identity.patientOf(patient.address);
  await (await dest.identity.connect(ctx.patientWallet).registerPatient(ctx.keysHash, await paramSetOf(suite, patient.address), `${served.gatewayUrl}/v1/blobs/${ctx.keysHash}`, encryptionKey)).wait();
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
  // destination gateway's firewall, and requests on the destination's router and model registry.
  const destModelId = Number(dest.modelIds[ctx.modelIndex]);
  const clinicianApp = await createMedCipherClient({ account: clinicianWallet, addresses, gatewayUrl: served.gatewayUrl });
  const request = () => requestPrediction(clinicianApp, { modelId: destModelId, fhe: ctx.fhe, readings: ctx.readings, patient: patient.address });
  const accepted = await request();
  info(`destination: the clinician's request ${accepted.requestId.slice(0, 10)}… is accepted under the mirrored consent`);
  await waitForPrediction(patientApp, { requestId: accepted.requestId, timeoutMs: 120_000, pollMs: 100 });
  const status = statusName(Number((await pair.destRouter.getRequest(accepted.requestId)).status));
  const result = await getPredictionResult(patientApp, { requestId: accepted.requestId, fhe: ctx.fhe, keysHash: ctx.keysHash });
  const encrypted = result.predictions[0]!;
  const plaintext = predictionFromScores(ctx.artifact, scoreReading(ctx.artifact, ctx.readings));
  const maxProbabilityDifference = Math.max(...encrypted.probabilities.map((p, i) => Math.abs(p - plaintext.probabilities[i]!)));
  info(`destination: its oracle served it (status ${status}); the patient fetched the result from the destination gateway, checked its hash against the destination router and decrypted ${encrypted.label} (${encrypted.probabilities.map((p) => p.toFixed(3)).join(" / ")}), plaintext model ${plaintext.label}, max |Δp| ${maxProbabilityDifference.toExponential(1)}`);

  await revokeConsent(patient, { grantee: clinician, purpose: Purpose.TREATDS });
  const syncRevoke = await sync();
  const mirroredAfterRevoke = await pair.mirror.hasAccess(clinician, patient.address, Category.PREDICTION, Purpose.TREATDS);
  info(`home: the patient revokes; the clinician's sync carries it (${syncRevoke} gas); the mirror answers hasAccess = ${mirroredAfterRevoke} from the moment it lands`);

  const gatewayRefused = await request().then(() => undefined, (error: unknown) => {
    if (!(error instanceof GatewayRequestError)) throw error;
    return { status: error.status, code: String(error.code), reason: error.shortMessage };
  });
  if (!gatewayRefused) throw new Error("the destination gateway took an input after the revocation landed");
  info(`destination gateway: the clinician's next input upload is refused (${gatewayRefused.status}): ${gatewayRefused.reason}`);
  let refused: CrossChainDemoSummary["refused"];
  try {
    // The input already stored, requested directly: the router refuses before anything is charged or requested.
    await pair.destRouter.connect(clinicianWallet).requestPrediction(patient.address, destModelId, accepted.inputHash, `${served.gatewayUrl}/v1/blobs/${accepted.inputHash}`);
  } catch (error) {
    const revert = decodeRevert(error);
    if (!revert) throw error;
    refused = { reason: revert.reason, args: revert.args };
  }
  if (!refused) throw new Error("the destination accepted a request after the revocation landed");
  info(`destination router: the clinician's next request is refused: ${describeRevert(refused)}`);

  return {
    mirroredGrant,
    accepted: { requestId: accepted.requestId, inputHash: accepted.inputHash, status },
    served: {
      label: encrypted.label, probabilities: encrypted.probabilities,
      plaintext: { label: plaintext.label, probabilities: plaintext.probabilities }, maxProbabilityDifference,
    },
    mirroredAfterRevoke,
    gatewayRefused,
    refused,
    messages: Number(await pair.bridge.sequenceOf(DEST_SELECTOR)),
    gas: { syncGrant, syncRevoke },
  };
}

/**
 * The destination's own gateway (consent contract: the mirror; router: the mirrored one) and
 * oracle daemon (the destination's Operator and router), as the home ones are started in
 * run.ts, with files and logs under the demo's data directory and stopped by its closers.
 */
async function startDestinationServices(ctx: CrossChainDemoContext, addresses: Awaited<ReturnType<typeof destinationAddresses>>, gatewayKey: Wallet, oracleKey: Wallet): Promise<{ gatewayUrl: string }> {
  const gateway = await startGatewayService({
    dataDir: join(ctx.dataDir, "dest-gateway"),
    provider: ctx.connection.ethers.provider,
    addresses,
    signingKey: gatewayKey.signingKey,
    anchorIntervalMs: 0,
    logger: pino({ level: "info" }, pino.destination({ dest: join(ctx.dataDir, "dest-gateway.log"), sync: true })),
  });
  ctx.closers.push(() => gateway.close());
  const oracle = await startOracle({
    settings: loadSettings({
      env: {},
      overrides: {
        RPC_URL: ctx.rpcUrl,
        OPERATOR_ADDRESS: addresses.Operator,
        ROUTER_ADDRESS: addresses.PredictionRouter,
        PRIVATE_KEY: oracleKey.privateKey,
        GATEWAY_URL: gateway.url,
        GATEWAY_ADDRESS: gateway.address,
        PRIVATE_MODEL_MASK_KEY: hexlify(randomBytes(32)),
        DATA_DIR: join(ctx.dataDir, "dest-oracle"),
        HTTP_PORT: 0,
        POLL_INTERVAL_MS: 100,
        CONFIRMATIONS: 1,
      },
    }),
    logDestination: pino.destination({ dest: join(ctx.dataDir, "dest-oracle.log"), sync: true }),
  });
  ctx.closers.push(() => oracle.stop());
  return { gatewayUrl: gateway.url };
}

async function paramSetOf(suite: MedCipherDeployment, patient: string): Promise<string> {
  return (await suite.identity.keySetOf(patient)).paramSetId;
}

function statusName(status: number): keyof typeof RequestStatus {
  const entry = Object.entries(RequestStatus).find(([, value]) => value === status);
  if (!entry) throw new RangeError(`unknown request status ${status}`);
  return entry[0] as keyof typeof RequestStatus;
}
