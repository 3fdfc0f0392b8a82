/**
 * A whole anonymous prediction, everything real: the EDR chain served over HTTP JSON-RPC, the
 * gateway on loopback with the chain policy, the oracle daemon, the relayer service, SEAL, Groth16
 * proofs with the pinned circuit files, a file keystore. The patient joins the patients' group with
 * the identity derived from its key, the SDK makes a fresh key set, encrypts, picks a free slot,
 * proves, uploads as a one-time accessKey and has the relayer send the request; the oracle
 * evaluates it; after a "restart" (the keystore read back from disk) the SDK reads the result as the
 * accessKey and decrypts it with the request's own secret key. The answer must be the plaintext
 * model's, and nothing on-chain about the request may name the patient.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";
import { randomBytes, Wallet } from "ethers";
import { pino } from "pino";

import { scoreReading } from "../../fhe/model.js";
import { startOracle, type OracleHandle } from "../../oracle/daemon.js";
import { RequestStatus } from "../../protocol/codes.js";
import { anonymousScope } from "../../protocol/zk/predict.js";
import { releaseProver } from "../../protocol/zk/prove.js";
import { loadRelayerSettings } from "../../relayer/settings.js";
import { startRelayerService, type RelayerService } from "../../relayer/service.js";
import { readKeystore, saveAnonymousRequest, writeKeystore } from "../../sdk/keystore/file.js";
import { readSemaphoreArtifacts } from "../../sdk/node/semaphoreArtifacts.js";
import { anonymousNullifier, anonymousRequestsOf, findFreeSlot, getAnonymousPredictionResult, joinPatientGroup, requestPredictionAnonymous, type AnonymousGateway } from "../../sdk/privacy/index.js";
import { gatewayClientFor } from "../oracle/helpers/anonymous.js";
import { createWorld, logSink, READINGS, type World } from "../oracle/helpers/world.js";

const FAST_KDF = { N: 1 << 10, r: 8, p: 1 };
const MODEL = "maternal-risk-v1";

describe("e2e: an anonymous prediction through the relayer, gateway and oracle", function () {
  this.timeout(300_000);
  let world: World;
  let oracle: OracleHandle;
  let relayer: RelayerService;
  const relayerKey = Wallet.createRandom();
  const dir = mkdtempSync(join(tmpdir(), "anonymous-e2e-"));
  const keystorePath = join(dir, "patient.json");
  const password = "correct horse battery staple";

  before(async function () {
    world = await createWorld({ patients: 1 });
    oracle = await startOracle({ settings: world.settings(), logDestination: logSink().stream });
    await world.networkHelpers.setBalance(relayerKey.address, 10n ** 20n);
    relayer = await startRelayerService(
      loadRelayerSettings({ env: {}, overrides: { RPC_URL: world.rpc.url, PRIVATE_KEY: relayerKey.privateKey, ROUTER_ADDRESS: world.suite.addresses.PredictionRouter, CONSENT_MANAGER_ADDRESS: world.suite.addresses.ConsentManager, PORT: 0 } }),
      { logger: pino({ level: "silent" }) },
    );
  });
  after(async function () {
    await relayer?.close();
    await oracle?.stop();
    await world?.close();
    await releaseProver();
    rmSync(dir, { recursive: true, force: true });
  });

  it("decrypts to the plaintext model's answer, survives a restart, and names no patient on-chain", async function () {
    const patient = world.patients[0]!;
    const patientKey = randomBytes(32); // the keystore's root secret (a wallet key in a real client)
    await writeKeystore(keystorePath, patient.address, { privateKey: `0x${Buffer.from(patientKey).toString("hex")}` }, password, FAST_KDF);
    const { identity } = await joinPatientGroup({ privacyGroups: world.suite.groups.connect(patient.signer) as never, chainId: BigInt(world.chainId), patient: patient.address, patientSecret: patientKey });

    const model = world.artifacts.find((m) => m.id === MODEL)!;
    const gateway: AnonymousGateway = { url: world.gatewayUrl, clientFor: (accessKey) => gatewayClientFor(world, accessKey) };
    const contracts = { router: world.suite.router as never, privacyGroups: world.suite.groups as never };
    const sent = await requestPredictionAnonymous({
      contracts, provider: world.ethers.provider, chainId: BigInt(world.chainId), identity, artifacts: await readSemaphoreArtifacts(),
      model, modelId: world.modelIds[MODEL]!, readings: READINGS[MODEL], gateway, relayerUrl: relayer.url, keystorePassword: password,
      saveRequestSecrets: async (secrets) => void (await saveAnonymousRequest(keystorePath, password, secrets)),
    });
    expect(sent.request.slot).to.equal(0);
    // The slot search's nullifier is the proof's.
    const scope = anonymousScope({ chainId: world.chainId, router: world.suite.addresses.PredictionRouter }, sent.request.epoch, 0);
    expect(anonymousNullifier(identity, scope).toString()).to.equal(sent.proof.nullifier);
    // A fresh key set, not the registered one.
    expect(sent.request.keysHash).not.to.equal(patient.keysHash);

    // "Restart": only what the keystore on disk holds.
    const { secrets } = await readKeystore(keystorePath, password);
    const [saved] = anonymousRequestsOf(secrets);
    expect(saved!.requestId).to.equal(sent.requestId);
    const { predictions } = await getAnonymousPredictionResult({ contracts, gateway, secrets: saved!, model, keystorePassword: password, timeoutMs: 120_000, pollIntervalMs: 200 });
    const plain = scoreReading(model, READINGS[MODEL]);
    expect(predictions).to.have.length(1);
    expect(predictions[0]!.scores.length).to.equal(plain.length);
    predictions[0]!.scores.forEach((s, i) => expect(Math.abs(s - plain[i]!)).to.be.lessThan(1e-3));

    // The on-chain footprint: the request and its fulfilment name no patient.
    const onChain = await world.suite.router.getRequest(sent.requestId);
    expect(Number(onChain.status)).to.equal(RequestStatus.Fulfilled);
    expect(onChain.patient).to.equal(world.ethers.ZeroAddress);
    expect(onChain.requester).to.equal(world.ethers.ZeroAddress);
    const tx = (await world.ethers.provider.getTransaction(sent.transactionHash!))!;
    expect(tx.from).to.equal(relayerKey.address);
    const logs = await world.ethers.provider.getLogs({ fromBlock: tx.blockNumber!, toBlock: "latest" });
    const requestLogs = logs.filter((l) => l.transactionHash === tx.hash || l.topics.includes(sent.requestId) || l.data.includes(sent.requestId.slice(2)));
    expect(requestLogs.length).to.be.greaterThan(1); // the request's events and the fulfilment's
    const me = patient.address.slice(2).toLowerCase();
    for (const text of [tx.data, ...requestLogs.map((l) => l.topics.join("") + l.data)]) expect(text.toLowerCase()).not.to.include(me);
    for (const hash of new Set(requestLogs.map((l) => l.transactionHash))) {
      const carrier = (await world.ethers.provider.getTransaction(hash))!;
      expect(carrier.from.toLowerCase()).not.to.equal(`0x${me}`);
      expect(carrier.data.toLowerCase()).not.to.include(me);
    }

    // The slot is spent: the next request of the epoch takes slot 1.
    const next = await findFreeSlot({ router: world.suite.router as never, chainId: world.chainId, identity, epoch: sent.request.epoch });
    expect(next.slot).to.equal(1);
  });
});
