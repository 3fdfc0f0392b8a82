/**
 * The relayer service against a real chain: EDR in-process, served over HTTP JSON-RPC
 * (rpcProxy), the relayer started from its settings as `medcipher relayer start` does, real
 * Semaphore proofs, the SDK's client (sdk/privacy) on real loopback HTTP. What it must do: send
 * the three allow-listed calls from its own wallet, refuse everything else with a code before
 * anything is sent, answer a simulated revert decoded, treat an already-published grant as done,
 * cap gas, budget each client, and log no calldata.
 */
import { expect } from "chai";
import { network } from "hardhat";
import { getBytes, hexlify, keccak256, randomBytes, Wallet } from "ethers";
import { pino } from "pino";

import { Category, Purpose } from "../../protocol/codes.js";
import { consentInterface, RELAY_PATH, RELAYER_INFO_PATH, relayedSelector, routerInterface } from "../../protocol/relayer.js";
import type { SemaphoreArtifacts } from "../../protocol/zk/artifacts.js";
import { fetchGroup } from "../../protocol/zk/groupHistory.js";
import { derivePatientIdentity } from "../../protocol/zk/identity.js";
import { anonymousMessage, anonymousRequestIdFor, anonymousScope, type AnonymousRequest } from "../../protocol/zk/predict.js";
import { proveMembership, releaseProver, toSolidityProof } from "../../protocol/zk/prove.js";
import { loadRelayerSettings } from "../../relayer/settings.js";
import { startRelayerService, type RelayerService } from "../../relayer/service.js";
import { readSemaphoreArtifacts } from "../../sdk/node/semaphoreArtifacts.js";
import { grantConsentPrivate, joinPatientGroup, relay, RelayerError, revokeConsentPrivate } from "../../sdk/privacy/index.js";
import { blobUri, deploySuite, randomHash, registerPatient, type Suite } from "../contracts/fixtures.js";
import { logSink } from "../oracle/helpers/world.js";
import { startRpcProxy, type RpcProxy } from "../oracle/helpers/rpcProxy.js";

const connection = await network.create();
const { ethers, networkHelpers } = connection;

type Answer = { status: number; body: { transactionHash?: string | null; outcome?: string; error?: { code: string; details?: { revert?: { reason: string } } } }; headers: Headers };

async function post(url: string, body: unknown): Promise<Answer> {
  const response = await fetch(`${url}${RELAY_PATH}`, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Answer["body"], headers: response.headers };
}

describe("relayer: the relaying service on a real chain", function () {
  this.timeout(300_000);
  let suite: Suite;
  let rpc: RpcProxy;
  let artifacts: SemaphoreArtifacts;
  const relayerKey = Wallet.createRandom();
  const logs = logSink();
  const services: RelayerService[] = [];

  async function startRelayer(overrides: NonNullable<Parameters<typeof loadRelayerSettings>[0]>["overrides"] = {}): Promise<RelayerService> {
    const settings = loadRelayerSettings({
      env: {},
      overrides: { RPC_URL: rpc.url, PRIVATE_KEY: relayerKey.privateKey, ROUTER_ADDRESS: suite.addresses.PredictionRouter, CONSENT_MANAGER_ADDRESS: suite.addresses.ConsentManager, PORT: 0, RECEIPT_TIMEOUT_MS: 20_000, ...overrides },
    });
    const service = await startRelayerService(settings, { logger: pino({ level: "info" }, logs.stream) });
    services.push(service);
    return service;
  }

  before(async () => {
    suite = await deploySuite(connection, false);
    await networkHelpers.setBalance(relayerKey.address, 10n ** 20n);
    rpc = await startRpcProxy(connection.provider as never);
    artifacts = await readSemaphoreArtifacts();
  });
  after(async () => {
    for (const service of services) await service.close();
    await rpc.close();
    await releaseProver();
  });

  it("relays an anonymous request from its own wallet; the chain names no patient; a replay is refused decoded, unsent", async () => {
    const { url } = await startRelayer();
    const { patient } = suite.actors;
    await registerPatient(suite, patient);
    const patientSecret = randomBytes(32);
    const { identity } = await joinPatientGroup({ privacyGroups: suite.groups.connect(patient) as never, chainId: suite.chainId, patient: patient.address, patientSecret });
    expect(identity.commitment).to.equal(derivePatientIdentity(patientSecret, { chainId: suite.chainId, privacyGroups: suite.addresses.PrivacyGroups }).commitment);
    expect(await suite.groups.commitmentOf(patient.address)).to.equal(identity.commitment);
    // Joining again (a restored keystore) derives the same identity and sends nothing.
    const blockBefore = await ethers.provider.getBlockNumber();
    const rejoin = await joinPatientGroup({ privacyGroups: suite.groups.connect(patient) as never, chainId: suite.chainId, patient: patient.address, patientSecret });
    expect([rejoin.alreadyJoined, rejoin.transactionHash, rejoin.identity.commitment]).to.deep.equal([true, null, identity.commitment]);
    expect(await ethers.provider.getBlockNumber()).to.equal(blockBefore);

    const router = suite.addresses.PredictionRouter;
    const inputHash = randomHash();
    const request: AnonymousRequest = { modelId: 1, epoch: Number(await suite.router.anonymousEpoch()), slot: 0, accessKey: Wallet.createRandom().address, inputHash, keysHash: randomHash(), inputUri: blobUri(inputHash) };
    const group = await fetchGroup(ethers.provider, suite.addresses.Semaphore, await suite.groups.patientGroupId());
    const context = { chainId: suite.chainId, router };
    const proof = toSolidityProof(await proveMembership({ identity, group, message: anonymousMessage(context, request), scope: anonymousScope(context, request.epoch, request.slot), artifacts }));

    const relayed = await relay({ relayerUrl: url, to: router, method: "requestPredictionAnonymous", args: [request, proof], wait: true });
    expect(relayed.outcome).to.equal("mined");
    expect(relayed.receipt?.status).to.equal(1);
    const tx = (await ethers.provider.getTransaction(relayed.transactionHash!))!;
    expect(tx.from).to.equal(relayerKey.address);
    const requestId = anonymousRequestIdFor(router, proof.nullifier);
    const stored = await suite.router.getRequest(requestId);
    expect(stored.patient).to.equal(ethers.ZeroAddress);
    const receipt = (await ethers.provider.getTransactionReceipt(relayed.transactionHash!))!;
    const footprint = (tx.data + receipt.logs.map((l) => l.topics.join("") + l.data).join("")).toLowerCase();
    expect(footprint).not.to.include(patient.address.slice(2).toLowerCase());

    const nonce = await ethers.provider.getTransactionCount(relayerKey.address);
    const again = await post(url, { to: router, data: routerInterface.encodeFunctionData("requestPredictionAnonymous", [request, proof]) });
    expect(again.status).to.equal(422);
    expect(again.body.error?.code).to.equal("RELAYER_REVERT");
    expect(again.body.error?.details?.revert?.reason).to.equal("NullifierSpent");
    expect(await ethers.provider.getTransactionCount(relayerKey.address)).to.equal(nonce); // simulated, never sent
  });

  it("publishes and revokes a private consent; an identical grant already on-chain is success", async () => {
    const { url } = await startRelayer();
    const patient = new Wallet(Wallet.createRandom().privateKey);
    const patientSecret = getBytes(patient.privateKey);
    const consentManager = suite.addresses.ConsentManager;
    const now = (await ethers.provider.getBlock("latest"))!.timestamp;
    const consent = { grantee: Wallet.createRandom().address, groupId: 0n, purpose: Purpose.TREAT, categories: 1 << Category.VITAL_SIGNS, validFrom: now - 60, validUntil: now + 86_400, epoch: Number(await suite.consent.epochOf(patient.address)) };
    const { grant, transactionHash, outcome } = await grantConsentPrivate({ signer: patient, patientSecret, chainId: Number(suite.chainId), consentManager, consent, relayerUrl: url });
    expect(outcome).to.equal("mined");
    expect((await ethers.provider.getTransaction(transactionHash!))!.from).to.equal(relayerKey.address);
    const allows = () => suite.consent.privateConsentAllows(grant.opening, grant.revocationHash, grant.signature, Category.VITAL_SIGNS, Purpose.TREAT);
    expect(await allows()).to.equal(true);

    // A second publication of the same commitment (a retry, a front-runner's copy): done, and the hash of the one that did it.
    const nonce = await ethers.provider.getTransactionCount(relayerKey.address);
    const twice = await relay({ relayerUrl: url, to: consentManager, method: "grantConsentPrivate", args: [grant.commitment] });
    expect(twice).to.deep.equal({ transactionHash, outcome: "already-published" });
    expect(await ethers.provider.getTransactionCount(relayerKey.address)).to.equal(nonce);

    const revoked = await revokeConsentPrivate({ opening: grant.opening, patientSecret, consentManager, relayerUrl: url });
    expect(revoked.outcome).to.equal("mined");
    expect(await allows()).to.equal(false);
    try {
      await revokeConsentPrivate({ opening: grant.opening, patientSecret, consentManager, relayerUrl: url });
      expect.fail("a second revocation should be refused");
    } catch (error) {
      expect(error).to.be.instanceOf(RelayerError);
      expect((error as RelayerError).details).to.include({ status: 422, code: "RELAYER_REVERT", reason: "PrivateConsentAlreadyRevoked" });
    }
  });

  it("a front-runner who publishes the same commitment first, in the same block, leaves the grant done (its hash)", async () => {
    const { url } = await startRelayer();
    const commitment = hexlify(randomBytes(32));
    const { stranger } = suite.actors;
    await connection.provider.request({ method: "evm_setAutomine", params: [false] });
    try {
      const pending = () => ethers.provider.getTransactionCount(relayerKey.address, "pending");
      const before = await pending();
      const relayed = relay({ relayerUrl: url, to: suite.addresses.ConsentManager, method: "grantConsentPrivate", args: [commitment], wait: true });
      // Once the relayer's transaction is in the mempool, copy it with a higher tip and mine one block.
      while ((await pending()) === before) await new Promise((r) => setTimeout(r, 20));
      const copy = await suite.consent.connect(stranger).grantConsentPrivate(commitment, { maxPriorityFeePerGas: 50n * 10n ** 9n, maxFeePerGas: 100n * 10n ** 9n, gasLimit: 200_000 });
      await connection.provider.request({ method: "evm_mine", params: [] });
      const block = (await ethers.provider.getBlock("latest"))!;
      expect(block.transactions, "both in one block, the copy first").to.have.length(2);
      expect(block.transactions[0]).to.equal(copy.hash);
      const answer = await relayed;
      expect(answer.outcome).to.equal("already-published");
      expect(answer.transactionHash).to.equal(copy.hash);
      expect(answer.receipt?.status).to.equal(0); // the relayer's own, mined after the copy, reverted
    } finally {
      await connection.provider.request({ method: "evm_setAutomine", params: [true] });
    }
  });

  it("refuses every other target, selector and malformed body with a code, sending nothing", async () => {
    const { url } = await startRelayer({ BURST: 50 });
    const nonce = await ethers.provider.getTransactionCount(relayerKey.address);
    const commitment = hexlify(randomBytes(32));
    const grantData = consentInterface.encodeFunctionData("grantConsentPrivate", [commitment]);
    const cases: [unknown, number, string][] = [
      [{ to: suite.addresses.IdentityRegistry, data: grantData }, 403, "RELAYER_TARGET"],
      // grantConsentPrivate's selector sent to the router, and a public ConsentManager function
      [{ to: suite.addresses.PredictionRouter, data: grantData }, 403, "RELAYER_SELECTOR"],
      [{ to: suite.addresses.ConsentManager, data: consentInterface.encodeFunctionData("revokeConsent", [suite.addresses.IdentityRegistry, 1]) }, 403, "RELAYER_SELECTOR"],
      [{ to: suite.addresses.ConsentManager, data: `${grantData}00` }, 400, "RELAYER_CALLDATA"],
      [{ to: suite.addresses.ConsentManager, data: grantData.slice(0, 40) }, 400, "RELAYER_CALLDATA"],
      [{ to: suite.addresses.ConsentManager, data: grantData, gasLimit: 10 }, 400, "RELAYER_BAD_REQUEST"],
      [{ to: suite.addresses.ConsentManager, data: grantData, wait: "yes" }, 400, "RELAYER_BAD_REQUEST"],
      ["{not json", 400, "RELAYER_BAD_REQUEST"],
      [{ to: suite.addresses.ConsentManager, data: `0x${"00".repeat(20_000)}` }, 413, "RELAYER_BODY_TOO_LARGE"],
    ];
    for (const [body, status, code] of cases) {
      const answer = await post(url, body);
      expect([answer.status, answer.body.error?.code], JSON.stringify(body).slice(0, 120)).to.deep.equal([status, code]);
    }
    expect(await ethers.provider.getTransactionCount(relayerKey.address)).to.equal(nonce);
    expect((await fetch(`${url}/v1/other`)).status).to.equal(404);
    const info = (await (await fetch(`${url}${RELAYER_INFO_PATH}`)).json()) as { address: string; calls: { method: string; selector: string; to: string }[] };
    expect(info.address).to.equal(relayerKey.address);
    expect(info.calls.map((c) => [c.method, c.selector, c.to])).to.deep.equal([
      ["requestPredictionAnonymous", relayedSelector("requestPredictionAnonymous"), suite.addresses.PredictionRouter],
      ["grantConsentPrivate", relayedSelector("grantConsentPrivate"), suite.addresses.ConsentManager],
      ["revokeConsentPrivate", relayedSelector("revokeConsentPrivate"), suite.addresses.ConsentManager],
    ]);
  });

  it("caps gas and budgets each client", async () => {
    const capped = await startRelayer({ MAX_GAS: 30_000 });
    const answer = await post(capped.url, { to: suite.addresses.ConsentManager, data: consentInterface.encodeFunctionData("grantConsentPrivate", [hexlify(randomBytes(32))]) });
    expect(answer.status).to.equal(422);
    expect(answer.body.error?.code).to.equal("RELAYER_GAS_CAP");

    const budgeted = await startRelayer({ BURST: 2, RATE_PER_MINUTE: 1 });
    const grant = () => post(budgeted.url, { to: suite.addresses.ConsentManager, data: consentInterface.encodeFunctionData("grantConsentPrivate", [hexlify(randomBytes(32))]) });
    expect((await grant()).status).to.equal(200);
    expect((await grant()).status).to.equal(200);
    const third = await grant();
    expect(third.status).to.equal(429);
    expect(third.body.error?.code).to.equal("RELAYER_RATE_LIMITED");
    expect(Number(third.headers.get("retry-after"))).to.be.greaterThan(0);
  });

  it("answers browsers only from the listed origins", async () => {
    const app = "http://127.0.0.1:5173";
    const { url } = await startRelayer({ CORS_ORIGINS: app });
    const preflight = (origin: string) => fetch(`${url}${RELAY_PATH}`, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" } });
    const ok = await preflight(app);
    expect(ok.status).to.equal(204);
    expect(ok.headers.get("access-control-allow-origin")).to.equal(app);
    expect(ok.headers.get("access-control-allow-methods")).to.include("POST");
    const other = await preflight("https://evil.example");
    expect(other.status).to.equal(403);
    expect(other.headers.get("access-control-allow-origin")).to.equal(null);
    const info = await fetch(`${url}${RELAYER_INFO_PATH}`, { headers: { origin: app } });
    expect(info.headers.get("access-control-allow-origin")).to.equal(app);
    expect(() => loadRelayerSettings({ env: {}, overrides: { PRIVATE_KEY: relayerKey.privateKey, DEPLOYMENT_FILE: "x", CORS_ORIGINS: "https://app.example/" } })).to.throw(/CORS_ORIGINS/);
  });

  it("logs selectors, calldata hashes and transaction hashes, never calldata or the client's address", async () => {
    const commitment = hexlify(randomBytes(32));
    const { url } = await startRelayer();
    const data = consentInterface.encodeFunctionData("grantConsentPrivate", [commitment]);
    const answer = await post(url, { to: suite.addresses.ConsentManager, data });
    expect(answer.status).to.equal(200);
    const text = logs.text();
    expect(text).to.include(keccak256(data));
    expect(text).to.include(answer.body.transactionHash!);
    expect(text).not.to.include(commitment.slice(2));

    expect(text).not.to.match(/remoteAddress|"ip"/);
    expect(text).not.to.include(relayerKey.privateKey.slice(2));
  });
});
