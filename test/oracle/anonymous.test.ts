import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";

import { expect } from "chai";
import { Wallet, ZeroAddress, type Signer } from "ethers";

import { sha256Hex } from "../../core/hash.js";
import { FheClient } from "../../fhe/client.js";
import { encodeReading } from "../../fhe/encoding.js";
import { scores } from "../../models/logistic.js";
import { startOracle, type OracleHandle } from "../../oracle/daemon.js";
import type { Settings } from "../../oracle/config/settings.js";
import { createOracleBlobs, keysCaching } from "../../oracle/pipeline/blobs.js";
import type { PredictionDetails } from "../../oracle/store/jobStore.js";
import { releaseProver } from "../../protocol/zk/prove.js";
import { spawnOracle } from "./helpers/child.js";
import { gatewayClientFor, joinPatientGroup, prepareAnonymousRequest, submitAnonymous, uploadBeforeSubmission, type AnonymousMember, type PreparedAnonymousRequest } from "./helpers/anonymous.js";
import { createWorld, logSink, READINGS, waitFor, type World } from "./helpers/world.js";

const Status = { Pending: 1n, Fulfilled: 2n };

function jobRow(dataDir: string, requestId: string): { state: string; request: string } | undefined {
  const db = new DatabaseSync(join(dataDir, "oracle.db"), { readOnly: true });
  try {
    return db.prepare("SELECT state, request FROM jobs WHERE request_id = ?").get(requestId) as { state: string; request: string } | undefined;
  } finally {
    db.close();
  }
}

/** The oracle's whole store on disk (database and its write-ahead log), as text to search. */
function storeText(dataDir: string): string {
  return ["oracle.db", "oracle.db-wal"].map((name) => join(dataDir, name)).filter(existsSync).map((path) => readFileSync(path).toString("latin1")).join("\n").toLowerCase();
}

/**
 * The oracle serving anonymous prediction requests end to end, all real: EDR chain, gateway with
 * the chain policy on loopback, the daemon (in-process and as its own process), SEAL, Semaphore.
 */
describe("oracle: anonymous prediction requests (AnonymousPredictionRequested → result owned by the accessKey)", function () {
  this.timeout(300_000);
  let world: World;
  let member: AnonymousMember;
  let relayer: Signer;
  let settings: Settings;
  let oracle: OracleHandle | undefined;
  const logs = logSink();
  const opened: PreparedAnonymousRequest[] = [];
  let served: PreparedAnonymousRequest;

  const patientHex = () => world.patients[0]!.address.slice(2).toLowerCase();
  const fulfilled = (requestId: string, timeoutMs = 90_000) =>
    waitFor(async () => ((await world.status(requestId)).status !== Status.Pending ? true : undefined), "the request to leave Pending", timeoutMs);

  before(async function () {
    world = await createWorld({ patients: 1 });
    member = await joinPatientGroup(world, world.patients[0]!);
    relayer = (await world.ethers.getSigners())[9]!;
    settings = world.settings({ LOG_LEVEL: "debug" });
    oracle = await startOracle({ settings, logDestination: logs.stream });
  });
  after(async function () {
    await oracle?.stop();
    for (const p of opened) p.fhe.dispose();
    await world?.close();
    await releaseProver();
  });

  it("fetches, evaluates and fulfils an anonymous request; the result (patient zero on-chain) decrypts under the fresh key set", async function () {
    served = await prepareAnonymousRequest(world, member, { slot: 0 });
    opened.push(served);
    await uploadBeforeSubmission(served);
    await submitAnonymous(world, served, relayer);
    await fulfilled(served.requestId);

    const onChain = await world.status(served.requestId);
    expect(onChain.status).to.equal(Status.Fulfilled);
    expect(onChain.patient).to.equal(ZeroAddress);
    expect(onChain.requester).to.equal(ZeroAddress);
    const [event] = await world.suite.router.queryFilter(world.suite.router.filters.PredictionFulfilled(served.requestId));
    expect(event!.args.patient).to.equal(ZeroAddress);
    expect(event!.args.resultHash).to.equal(onChain.resultHash);
    expect(await world.fulfilmentCount(served.requestId)).to.equal(1);

    const result = await served.gateway.get(onChain.resultHash, { purpose: 0 });
    expect(sha256Hex(result)).to.equal(onChain.resultHash);
    const model = world.artifacts.find((m) => m.id === served.modelName)!;
    const [prediction] = served.fhe.decrypt(model, result, { inputHash: sha256Hex(served.input) });
    const plain = scores(model.weights, encodeReading(model.encodingSpec, READINGS[served.modelName]));
    expect(prediction!.scores.length).to.equal(plain.length);
    prediction!.scores.forEach((s, i) => expect(Math.abs(s - plain[i]!)).to.be.lessThan(1e-3));
  });

  it("only the accessKey reads the result: another key and the patient's own key are refused", async function () {
    const { resultHash } = await world.status(served.requestId);
    for (const reader of [gatewayClientFor(world, Wallet.createRandom()), world.patients[0]!.gateway]) {
      const error = await reader.get(resultHash, { purpose: 4 }).then(() => undefined, (e: unknown) => e as { code?: string });
      expect(error?.code).to.equal("GATEWAY_FORBIDDEN");
    }
    // The oracle's own read rule ends with the request: it is no longer pending.
    const oracleClient = gatewayClientFor(world, world.oracleKey);
    const stale = await oracleClient.get(served.request.inputHash, { purpose: 4, ref: served.requestId }).then(() => undefined, (e: unknown) => e as { code?: string; details?: { reason?: string } });
    expect(stale?.details?.reason).to.match(/not pending/);
  });

  it("stores the job under the accessKey and logs nothing that names the patient", async function () {
    await waitFor(() => jobRow(settings.DATA_DIR, served.requestId)?.state === "fulfilled", "the job store to record the fulfilment", 30_000);
    const job = JSON.parse(jobRow(settings.DATA_DIR, served.requestId)!.request) as { prediction: Record<string, string> };
    expect(job.prediction).to.include({ patient: ZeroAddress, requester: ZeroAddress, accessKey: served.request.accessKey, keysHash: served.request.keysHash });
    expect(storeText(settings.DATA_DIR)).not.to.include(patientHex());
    // The request's one-time key set was kept in memory only, never in the oracle's disk cache.
    expect(existsSync(join(settings.DATA_DIR, "blobs", served.request.keysHash.slice(2)))).to.equal(false);
    expect(logs.text().toLowerCase()).to.include(served.requestId.slice(2));
    expect(logs.text().toLowerCase()).not.to.include(patientHex());
  });

  it("never fulfils twice: a restart on the same store, and a fresh store reading the chain from the start, leave one fulfilment", async function () {
    await oracle!.stop();
    oracle = await startOracle({ settings, logDestination: logs.stream });
    const fresh = world.settings({ START_BLOCK: 0 });
    const other = await startOracle({ settings: fresh, logDestination: logs.stream });
    try {
      await waitFor(() => jobRow(fresh.DATA_DIR, served.requestId)?.state, "the fresh store to see the request", 30_000);
      await waitFor(() => jobRow(fresh.DATA_DIR, served.requestId)?.state === "fulfilled", "the fresh store to take the chain's verdict", 30_000);
      await world.networkHelpers.mine(3);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(await world.fulfilmentCount(served.requestId)).to.equal(1);
    } finally {
      await other.stop();
      await oracle.stop();
      oracle = undefined;
    }
  });

  for (const [slot, point] of [[1, "after:evaluated"], [2, "after:submitted"]] as const) {
    it(`killed (SIGKILL ${point}) mid anonymous job, restarted: exactly one fulfilment`, async function () {
      const crashSettings = world.settings({ START_BLOCK: await world.ethers.provider.getBlockNumber() + 1, LOG_LEVEL: "debug" });
      const first = spawnOracle(crashSettings, { ORACLE_FAILPOINT: point });
      await waitFor(() => first.output.some((l) => l.includes("oracle started")) || (first.process.exitCode !== null && "exited"), "start");
      const prepared = await prepareAnonymousRequest(world, member, { slot });
      opened.push(prepared);
      await uploadBeforeSubmission(prepared);
      await submitAnonymous(world, prepared, relayer);
      const { signal } = await first.exited;
      expect(signal, first.text().slice(-2000)).to.equal("SIGKILL");
      expect(jobRow(crashSettings.DATA_DIR, prepared.requestId)?.state).to.equal(point.slice("after:".length));

      const second = spawnOracle(crashSettings);
      try {
        await fulfilled(prepared.requestId, 60_000);
        await waitFor(() => jobRow(crashSettings.DATA_DIR, prepared.requestId)?.state === "fulfilled", "job store catches up", 30_000);
        expect((await world.status(prepared.requestId)).status).to.equal(Status.Fulfilled);
        expect(await world.fulfilmentCount(prepared.requestId)).to.equal(1);
        const { resultHash } = await world.status(prepared.requestId);
        expect(sha256Hex(await prepared.gateway.get(resultHash, { purpose: 0 }))).to.equal(resultHash);
      } finally {
        second.process.kill("SIGTERM");
        await second.exited;
      }
      for (const text of [first.text(), second.text(), storeText(crashSettings.DATA_DIR)]) expect(text.toLowerCase()).not.to.include(patientHex());
    });
  }

  it("as a Chainlink external adapter: answers for an anonymous request, stores the result under the accessKey", async function () {
    const TOKEN = "bridge-secret-token";
    const adapter = await startOracle({ settings: world.settings({ ADAPTER_ONLY: true, ADAPTER_TOKEN: TOKEN }), logDestination: logs.stream });
    try {
      const prepared = await prepareAnonymousRequest(world, member, { slot: 3 });
      opened.push(prepared);
      await uploadBeforeSubmission(prepared);
      await submitAnonymous(world, prepared, relayer);
      const { requestId } = prepared;
      const response = await fetch(`${adapter.url}/adapter`, {
        method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ id: "anon-1", data: { requestId } }),
      });
      const body = (await response.json()) as { statusCode: number; data: { failureCode: number; resultHash: string; fulfilmentData: string } };
      expect(body.statusCode, JSON.stringify(body)).to.equal(200);
      expect(body.data.failureCode).to.equal(0);
      // What the node's ethtx task does with the answer.
      const [log] = (await world.suite.operator.queryFilter(world.suite.operator.filters.OracleRequest(), 0, "latest")).filter((l) => l.args.requestId === requestId);
      const node = new Wallet(world.oracleKey.privateKey, world.ethers.provider);
      await (await world.suite.operator.connect(node).fulfillOracleRequest2(requestId, log!.args.payment, log!.args.callbackAddr, log!.args.callbackFunctionId, log!.args.cancelExpiration, body.data.fulfilmentData, { gasLimit: 700_000 })).wait();
      const onChain = await world.status(requestId);
      expect(onChain.status).to.equal(Status.Fulfilled);
      expect(onChain.resultHash).to.equal(body.data.resultHash);
      const model = world.artifacts.find((m) => m.id === prepared.modelName)!;
      expect(prepared.fhe.decrypt(model, await prepared.gateway.get(onChain.resultHash, { purpose: 0 }), { inputHash: sha256Hex(prepared.input) })).to.have.length(1);
    } finally {
      await adapter.stop();
    }
  });
});

describe("oracle: an anonymous request's one-time key set stays off the disk cache", function () {
  this.timeout(60_000);

  it("caches a patient's key set on disk and a one-time key set in memory only (forgotten when the request settles)", async function () {
    const fhe = await FheClient.generate("ckks-2048-v1");
    const other = await FheClient.generate("ckks-2048-v1");
    const dir = await mkdtemp(join(tmpdir(), "medcipher-oracle-onetime-"));
    try {
      const named = fhe.evaluationKeys();
      const oneTime = other.evaluationKeys();
      const served = new Map<string, Uint8Array>([[sha256Hex(named), named], [sha256Hex(oneTime), oneTime]]);
      let gets = 0;
      const blobs = createOracleBlobs({
        cacheDir: dir,
        gateway: {
          url: "http://gateway.invalid",
          async get(blobId) {
            gets++;
            return served.get(blobId)!;
          },
          async put() {
            throw new Error("not used");
          },
        },
      });
      const ref = `0x${"11".repeat(32)}`;
      await blobs.fetch(sha256Hex(named), "keys", ref, keysCaching({ patient: Wallet.createRandom().address } as PredictionDetails));
      await blobs.fetch(sha256Hex(oneTime), "keys", ref, keysCaching({ patient: ZeroAddress, accessKey: Wallet.createRandom().address } as PredictionDetails));
      for (let i = 0; i < 50 && !existsSync(join(dir, sha256Hex(named).slice(2))); i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect((await readdir(dir)).filter((name) => !name.endsWith(".tmp"))).to.deep.equal([sha256Hex(named).slice(2)]);
      // In memory until forgotten: a second fetch asks the gateway again only afterwards.
      await blobs.fetch(sha256Hex(oneTime), "keys", ref, { oneTime: true });
      expect(gets).to.equal(2);
      blobs.forget(sha256Hex(oneTime));
      await blobs.fetch(sha256Hex(oneTime), "keys", ref, { oneTime: true });
      expect(gets).to.equal(3);
    } finally {
      fhe.dispose();
      other.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
