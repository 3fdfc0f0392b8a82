/**
 * Issue 15's last must-show, everything real: a prediction requested on the destination chain
 * under consent mirrored from the home chain, served there. One EDR chain holds the home suite
 * (test/oracle/helpers/world.ts, with its JSON-RPC endpoint on loopback), a destination suite and
 * the CCIP local simulator between them (deploy/crossChain.ts). The destination runs its own
 * gateway (startGatewayService, consent contract = the ConsentMirror, router = the mirrored
 * PredictionRouter) and its own oracle daemon (startOracle, on the destination's Operator and
 * router, with a key no home daemon uses: the same chain, so a shared key would race nonces).
 */
import { mkdtempSync } from "node:fs";
import { join } from "node:path";

import { expect } from "chai";
import { Wallet } from "ethers";
import { pino } from "pino";

import { sha256Hex } from "../../core/hash.js";
import { DEST_SELECTOR, deployCrossChainPair, destinationAddresses, type CrossChainDeployment } from "../../deploy/crossChain.js";
import { deployMedCipher, DEFAULT_SPONSOR_BUDGET, type MedCipherAddresses, type MedCipherDeployment } from "../../deploy/local.js";
import { modelRegistration } from "../../deploy/models.js";
import { predictionFromScores, scoreReading } from "../../fhe/index.js";
import { startGatewayService, type GatewayService } from "../../gateway/service.js";
import { startOracle, type OracleHandle } from "../../oracle/daemon.js";
import { Category, Purpose, RequestStatus } from "../../protocol/codes.js";
import { GatewayRequestError } from "../../protocol/errors.js";
import { decodeRevert } from "../../protocol/revert.js";
import { getPredictionResult } from "../../sdk/actions/getPredictionResult.js";
import { requestPrediction } from "../../sdk/actions/requestPrediction.js";
import { waitForPrediction } from "../../sdk/actions/waitForPrediction.js";
import { requireGateway, type MedCipherClient } from "../../sdk/client.js";
import { createMedCipherClient } from "../../sdk/node.js";
import { createWorld, logSink, READINGS, waitFor, type Patient, type World } from "../oracle/helpers/world.js";

const MODEL = "maternal-risk-v1";
const DAY_SECONDS = 86_400;

describe("e2e: a prediction on the destination chain under consent mirrored from home, served by the destination's gateway and oracle", function () {
  this.timeout(300_000);
  let world: World;
  let dest: MedCipherDeployment;
  let pair: CrossChainDeployment;
  let addresses: MedCipherAddresses;
  let gateway: GatewayService;
  let oracle: OracleHandle;
  let patient: Patient;
  let patientApp: MedCipherClient;
  let clinicianApp: MedCipherClient;
  const oracleLog = logSink();
  const destOracleKey = Wallet.createRandom();
  const destGatewayKey = Wallet.createRandom();

  before(async function () {
    world = await createWorld({ patients: 1 });
    patient = world.patients[0]!;
    const governance = world.suite.governance;
    await world.networkHelpers.setBalance(destOracleKey.address, 10n ** 20n);
    // The destination's own suite, its oracle and gateway keys holding their roles there only.
    dest = await deployMedCipher(world.connection, {
      governance,
      oracleSenders: [destOracleKey.address],
      roles: { gateways: [destGatewayKey.address] },
      models: world.artifacts.map((artifact) => modelRegistration(artifact)),
    });
    pair = await deployCrossChainPair(world.connection, { home: world.suite.addresses, dest, governance, oracleSenders: [destOracleKey.address] });
    addresses = await destinationAddresses(dest, pair);
    expect(destOracleKey.address).to.not.equal(world.oracleKey.address);

    gateway = await startGatewayService({
      dataDir: mkdtempSync(join(world.dir, "dest-gateway-")),
      provider: world.ethers.provider,
      addresses,
      signingKey: destGatewayKey.signingKey,
      anchorIntervalMs: 0,
      logger: pino({ level: "silent" }),
    });
    oracle = await startOracle({
      settings: world.settings({
        OPERATOR_ADDRESS: addresses.Operator, ROUTER_ADDRESS: addresses.PredictionRouter, PRIVATE_KEY: destOracleKey.privateKey,
        GATEWAY_URL: gateway.url, GATEWAY_ADDRESS: gateway.address,
      }),
      logDestination: oracleLog.stream,
    });

    // The patient's destination identity carries the home key set (the mirror honours a grant
    // only then); the evaluation keys go to the destination's gateway, which keysUri names.
    patientApp = await createMedCipherClient({ account: patient.signer, addresses, gatewayUrl: gateway.url });
    const keys = await patient.gateway.get(patient.keysHash, { purpose: 0 });
    expect(await requireGateway(patientApp).put(keys, { owner: patient.address, kind: "he-keys", category: Category.PREDICTION, ref: patient.keysHash })).to.equal(patient.keysHash);
    const home = await world.suite.identity.keySetOf(patient.address);
    const { encryptionKey } = await world.suite.identity.patientOf(patient.address);
    await (await dest.identity.connect(patient.signer).registerPatient(patient.keysHash, home.paramSetId, `${gateway.url}/v1/blobs/${patient.keysHash}`, encryptionKey)).wait();
    await (await pair.destRouter.sponsorPatients([patient.address], DEFAULT_SPONSOR_BUDGET)).wait();

    const clinician = (await world.ethers.getSigners())[10]!;
    clinicianApp = await createMedCipherClient({ account: clinician, addresses, gatewayUrl: gateway.url });
  });

  after(async function () {
    await oracle?.stop();
    await gateway?.close();
    await world?.close();
  });

  /** The destination gateway's refusal of a clinician's input upload: 403 with the reason. */
  function expectForbidden(error: unknown) {
    expect(error, "the destination gateway took the clinician's input").to.be.instanceOf(GatewayRequestError);
    const refused = error as GatewayRequestError;
    expect([refused.status, refused.code]).to.deep.equal([403, "GATEWAY_FORBIDDEN"]);
    expect(refused.shortMessage).to.match(/no live consent for PREDICTION records for purpose TREATDS/);
  }

  /** Anyone may carry the home consent as it stands now (the simulator delivers in the same transaction). */
  async function syncConsent() {
    await (await pair.bridge.syncConsent(DEST_SELECTOR, patient.address, clinicianApp.address, Purpose.TREATDS, false)).wait();
  }

  it("fulfils the clinician's destination request; the patient's result matches the chain and decrypts to the plaintext model's answer; after the revocation lands the gateway and the router refuse", async function () {
    const model = world.artifacts.find((m) => m.id === MODEL)!;
    const modelId = Number(dest.modelIds[world.artifacts.indexOf(model)]);
    const reading = READINGS[MODEL];
    const request = () => requestPrediction(clinicianApp, { modelId, fhe: patient.fhe, readings: reading, patient: patient.address });

    const now = (await world.ethers.provider.getBlock("latest"))!.timestamp;
    await (await world.suite.consent.connect(patient.signer).grantConsent(clinicianApp.address, Purpose.TREATDS, 1 << Category.PREDICTION, 0, now + DAY_SECONDS)).wait();
    // The destination gateway asks the mirror, not the home chain: granted at home, not yet carried, refused.
    expectForbidden(await request().then(() => undefined, (error: unknown) => error));
    await syncConsent();
    expect(await pair.mirror.hasAccess(clinicianApp.address, patient.address, Category.PREDICTION, Purpose.TREATDS)).to.equal(true);

    // The clinician encrypts under the patient's public key, stores the input through the
    // destination gateway's firewall and requests on the destination router.
    const accepted = await request();
    const fulfilled = await waitForPrediction(patientApp, { requestId: accepted.requestId, timeoutMs: 120_000, pollMs: 100 });
    const onChain = await pair.destRouter.getRequest(accepted.requestId);
    expect(Number(onChain.status)).to.equal(RequestStatus.Fulfilled);
    expect(onChain.requester).to.equal(clinicianApp.address);
    // The result is stored where the destination's requests point: its own gateway.
    expect([fulfilled.resultHash, fulfilled.resultUri]).to.deep.equal([onChain.resultHash, `${gateway.url}/v1/blobs/${onChain.resultHash}`]);
    // Served by the destination's daemon through the destination's Operator; the home Operator saw nothing.
    expect(await pair.destOperator.queryFilter(pair.destOperator.filters.OracleResponse(accepted.requestId), 0, "latest")).to.have.length(1);
    expect(await world.fulfilmentCount(accepted.requestId)).to.equal(0);
    expect((await waitFor(async () => ((await oracle.jobCounts()).fulfilled === 1 ? oracle.jobCounts() : undefined), "the daemon's job recorded fulfilled")).fulfilled).to.equal(1);

    const blob = await requireGateway(patientApp).get(onChain.resultHash, { purpose: Purpose.TREATDS, ref: accepted.requestId });
    expect(sha256Hex(blob)).to.equal(onChain.resultHash);
    const result = await getPredictionResult(patientApp, { requestId: accepted.requestId, fhe: patient.fhe, keysHash: patient.keysHash });
    const [encrypted] = result.predictions;
    const plaintext = predictionFromScores(model, scoreReading(model, reading));
    expect(encrypted!.label).to.equal(plaintext.label);
    encrypted!.probabilities.forEach((p, i) => expect(Math.abs(p - plaintext.probabilities[i]!)).to.be.lessThan(2e-3));

    await (await world.suite.consent.connect(patient.signer).revokeConsent(clinicianApp.address, Purpose.TREATDS)).wait();
    // Revoked at home, not yet carried: the destination still honours the grant (the latency
    // window of docs/crosschain.md), its gateway included.
    expect(await pair.mirror.hasAccess(clinicianApp.address, patient.address, Category.PREDICTION, Purpose.TREATDS)).to.equal(true);
    const upload = { owner: patient.address, category: Category.PREDICTION, purpose: Purpose.TREATDS };
    expect((await requireGateway(clinicianApp).putFirewalled(patient.fhe.encrypt(model, reading), upload)).blobId).to.match(/^0x[0-9a-f]{64}$/);
    await syncConsent();

    expectForbidden(await request().then(() => undefined, (error: unknown) => error));

    const again = await pair.destRouter.connect(clinicianApp.account).requestPrediction(patient.address, modelId, accepted.inputHash, `${gateway.url}/v1/blobs/${accepted.inputHash}`)
      .then(() => undefined, (error: unknown) => decodeRevert(error));
    expect(again?.reason).to.equal("NotAuthorisedToRequest");
    expect(Object.values(again?.args ?? {})).to.deep.equal([clinicianApp.address, patient.address]);
  });
});
