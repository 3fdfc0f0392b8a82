/**
 * The privacy canary for the private forms: after an anonymous prediction (planted readings, a
 * fresh key set, a one-time access key, a Semaphore proof, the relayer) and a relayed private
 * consent, nothing that decrypts or identifies may be anywhere but the client. Searched: every
 * block, transaction, receipt and storage trace of the chain; every file under the world's
 * directory (the gateway's blobs, metadata and audit log, the oracle's job store and cache); the
 * oracle's and the relayer's logs. Looked for: the planted feature values (as float64 in both byte
 * orders), the fresh secret key, the patient's signing key, the Semaphore identity's secret, the
 * access key's private key, and the revocation secret before revocation.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

import { expect } from "chai";
import { Wallet, ZeroAddress } from "ethers";
import { pino } from "pino";

import { encodeReading } from "../../fhe/encoding.js";
import { openSecretKey } from "../../fhe/keys.js";
import { startOracle, type OracleHandle } from "../../oracle/daemon.js";
import { Category, Purpose } from "../../protocol/codes.js";
import { deriveRevocationSecret } from "../../protocol/privateConsent.js";
import { releaseProver } from "../../protocol/zk/prove.js";
import { loadRelayerSettings } from "../../relayer/settings.js";
import { startRelayerService, type RelayerService } from "../../relayer/service.js";
import { readSemaphoreArtifacts } from "../../sdk/node/semaphoreArtifacts.js";
import { getAnonymousPredictionResult, grantConsentPrivate, joinPatientGroup, requestPredictionAnonymous, type AnonymousGateway, type AnonymousRequestSecrets } from "../../sdk/privacy/index.js";
import { gatewayClientFor } from "../oracle/helpers/anonymous.js";
import { createWorld, logSink, type World } from "../oracle/helpers/world.js";

const MODEL = "maternal-risk-v1";
/** Distinctive values no artefact would hold by chance, within the model's input ranges. */
const PLANTED = { age: 37.3141, systolicBP: 141.2468, diastolicBP: 91.5926, bloodGlucose: 13.1592, bodyTemp: 98.6535, heartRate: 81.7932 };

type Needle = { what: string; bytes: Buffer };

function float64Needles(values: Iterable<number>): Needle[] {
  const out: Needle[] = [];
  for (const value of values) {
    const be = Buffer.alloc(8);
    be.writeDoubleBE(value);
    const le = Buffer.alloc(8);
    le.writeDoubleLE(value);
    out.push({ what: `feature ${value} (float64 BE)`, bytes: be }, { what: `feature ${value} (float64 LE)`, bytes: le });
  }
  return out;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** Where each needle shows, as raw bytes or as hex text (chain JSON carries bytes as 0x-hex). */
function findIn(haystack: Buffer, where: string, needles: readonly Needle[]): string[] {
  const hexText = haystack.toString("latin1").toLowerCase();
  return needles.flatMap((n) => (haystack.indexOf(n.bytes) !== -1 || hexText.includes(n.bytes.toString("hex")) ? [`${n.what} in ${where}`] : []));
}

describe("canary: an anonymous prediction and a private consent leave no plaintext and no secret outside the client", function () {
  this.timeout(300_000);
  let world: World;
  let oracle: OracleHandle;
  let relayer: RelayerService;
  const oracleLogs = logSink();
  const relayerLogs = logSink();
  const relayerKey = Wallet.createRandom();

  before(async function () {
    world = await createWorld({ patients: 2 });
    oracle = await startOracle({ settings: world.settings({ LOG_LEVEL: "debug" }), logDestination: oracleLogs.stream });
    await world.networkHelpers.setBalance(relayerKey.address, 10n ** 20n);
    relayer = await startRelayerService(
      loadRelayerSettings({ env: {}, overrides: { RPC_URL: world.rpc.url, PRIVATE_KEY: relayerKey.privateKey, ROUTER_ADDRESS: world.suite.addresses.PredictionRouter, CONSENT_MANAGER_ADDRESS: world.suite.addresses.ConsentManager, PORT: 0, LOG_LEVEL: "debug" } }),
      { logger: pino({ level: "debug" }, relayerLogs.stream) },
    );
  });
  after(async function () {
    await relayer?.close();
    await oracle?.stop();
    await world?.close();
    await releaseProver();
  });

  it("finds none of them on the chain, in the gateway's and the oracle's files, or in any log", async function () {
    const [patient, neighbour] = world.patients as [World["patients"][number], World["patients"][number]];
    const patientKey = Wallet.createRandom();
    const patientSecret = Buffer.from(patientKey.privateKey.slice(2), "hex");
    const { identity } = await joinPatientGroup({ privacyGroups: world.suite.groups.connect(patient.signer) as never, chainId: BigInt(world.chainId), patient: patient.address, patientSecret });
    await joinPatientGroup({ privacyGroups: world.suite.groups.connect(neighbour.signer) as never, chainId: BigInt(world.chainId), patient: neighbour.address, patientSecret: Buffer.from(Wallet.createRandom().privateKey.slice(2), "hex") });

    const model = world.artifacts.find((m) => m.id === MODEL)!;
    const gateway: AnonymousGateway = { url: world.gatewayUrl, clientFor: (accessKey) => gatewayClientFor(world, accessKey) };
    const contracts = { router: world.suite.router as never, privacyGroups: world.suite.groups as never };
    const password = "canary keystore password";
    let secrets: AnonymousRequestSecrets | undefined;
    const sent = await requestPredictionAnonymous({
      contracts, provider: world.ethers.provider, chainId: BigInt(world.chainId), identity, artifacts: await readSemaphoreArtifacts(),
      model, modelId: world.modelIds[MODEL]!, readings: PLANTED, gateway, relayerUrl: relayer.url, keystorePassword: password,
      saveRequestSecrets: async (s) => void (secrets = s),
    });
    const { predictions } = await getAnonymousPredictionResult({ contracts, gateway, secrets: secrets!, model, keystorePassword: password, timeoutMs: 120_000, pollIntervalMs: 200 });
    // The planted values did go through the system: the result is the model's answer to them.
    expect(predictions[0]!.scores.every(Number.isFinite)).to.equal(true);

    const now = (await world.ethers.provider.getBlock("latest"))!.timestamp;
    const consent = await grantConsentPrivate({
      signer: patient.signer as never, patientSecret, chainId: world.chainId, consentManager: world.suite.addresses.ConsentManager,
      consent: { grantee: Wallet.createRandom().address, groupId: 0n, purpose: Purpose.TREAT, categories: 1 << Category.VITAL_SIGNS, validFrom: now - 60, validUntil: now + 86_400, epoch: Number(await world.suite.consent.epochOf(patient.address)) },
      relayerUrl: relayer.url,
    });

    const { secretKeyBytes } = await openSecretKey(Buffer.from(secrets!.keySet.secretKey, "base64"), password);
    const middle = Math.floor(secretKeyBytes.length / 2);
    const scalar = Buffer.from(identity.secretScalar.toString(16).padStart(64, "0"), "hex");
    const needles: Needle[] = [
      ...float64Needles(Array.from(encodeReading(model.encodingSpec, PLANTED)).filter((v) => v !== 0 && v !== 1)),
      ...float64Needles(Object.values(PLANTED)),
      { what: "the fresh secret key", bytes: Buffer.from(secretKeyBytes.subarray(middle, middle + 48)) },
      { what: "the patient's signing key", bytes: patientSecret },
      { what: "the Semaphore identity's secret scalar", bytes: scalar },
      { what: "the Semaphore identity's secret scalar (decimal)", bytes: Buffer.from(identity.secretScalar.toString()) },
      { what: "the access key's private key", bytes: Buffer.from(secrets!.accessKey.slice(2), "hex") },
      { what: "the revocation secret", bytes: Buffer.from(deriveRevocationSecret(patientSecret, consent.grant.opening.salt).slice(2), "hex") },
    ];
    expect(needles.length).to.be.greaterThan(15);

    const leaks: string[] = [];
    const provider = world.ethers.provider;
    const latest = await provider.getBlockNumber();
    for (let n = 0; n <= latest; n++) {
      const block = (await provider.send("eth_getBlockByNumber", [`0x${n.toString(16)}`, true])) as { transactions: { hash: string }[] };
      leaks.push(...findIn(Buffer.from(JSON.stringify(block)), `block ${n}`, needles));
      for (const tx of block.transactions) {
        leaks.push(...findIn(Buffer.from(JSON.stringify(await provider.send("eth_getTransactionReceipt", [tx.hash]))), `receipt ${tx.hash}`, needles));
        const trace = await provider.send("debug_traceTransaction", [tx.hash, { disableMemory: true, disableStack: false, disableStorage: false }]);
        leaks.push(...findIn(Buffer.from(JSON.stringify(trace)), `trace ${tx.hash}`, needles));
      }
    }
    const files = filesUnder(world.dir);
    for (const file of files) leaks.push(...findIn(readFileSync(file), file, needles));
    leaks.push(...findIn(Buffer.from(oracleLogs.text()), "the oracle's log", needles));
    leaks.push(...findIn(Buffer.from(relayerLogs.text()), "the relayer's log", needles));

    // The search sees what it should: the input blob is on the gateway's disk, the logs are not empty,
    // and a planted needle is found when it is there.
    expect(files.some((f) => readFileSync(f).length > 10_000)).to.equal(true);
    expect(oracleLogs.text().length).to.be.greaterThan(1_000);
    expect(relayerLogs.text()).to.include(sent.transactionHash!.slice(2, 12));
    expect(findIn(Buffer.from(`{"data":"0x${needles[0]!.bytes.toString("hex")}"}`), "self-check", needles)).to.have.length.greaterThan(0);
    expect((await world.suite.router.getRequest(sent.requestId)).patient).to.equal(ZeroAddress);
    expect(leaks).to.deep.equal([]);
  });
});
