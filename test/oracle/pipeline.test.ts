import { expect } from "chai";

import { sha256Hex } from "../../core/hash.js";
import { encodeReading } from "../../fhe/encoding.js";
import { scores } from "../../models/logistic.js";
import { startOracle, type OracleHandle } from "../../oracle/daemon.js";
import { createWorld, logSink, READINGS, waitFor, type World } from "./helpers/world.js";

const Status = { Pending: 1n, Fulfilled: 2n, Failed: 3n, Refused: 4n, Cancelled: 5n };

describe("oracle pipeline, end to end on a real chain and gateway", function () {
  this.timeout(180_000);
  let world: World;
  let oracle: OracleHandle;
  const logs = logSink();

  before(async function () {
    world = await createWorld({ patients: 2 });
    oracle = await startOracle({ settings: world.settings(), logDestination: logs.stream });
  });
  after(async function () {
    await oracle?.stop();
    await world?.close();
  });

  it("fulfils requests for both models with results that decrypt to the plaintext model's answer", async function () {
    const [alice, bob] = world.patients as [World["patients"][0], World["patients"][0]];
    const a = await world.request(alice, "maternal-risk-v1");
    const b = await world.request(bob, "heart-disease-lr-v1");
    for (const { requestId, input } of [a, b]) {
      const request = await waitFor(async () => {
        const r = await world.status(requestId);
        return r.status === Status.Pending ? undefined : r;
      }, "fulfilment");
      expect(request.status).to.equal(Status.Fulfilled);
      const owner = request.patient === alice.address ? alice : bob;
      const result = await owner.gateway.get(request.resultHash, { purpose: 0 });
      expect(sha256Hex(result)).to.equal(request.resultHash);
      const modelId = requestId === a.requestId ? "maternal-risk-v1" : "heart-disease-lr-v1";
      const model = world.artifacts.find((m) => m.id === modelId)!;
      const [prediction] = owner.fhe.decrypt(model, result, { inputHash: sha256Hex(input) });
      const plain = scores(model.weights, encodeReading(model.encodingSpec, READINGS[modelId]));
      expect(prediction!.scores.length).to.equal(plain.length);
      prediction!.scores.forEach((s, i) => expect(Math.abs(s - plain[i]!)).to.be.lessThan(1e-3));
      expect(await world.fulfilmentCount(requestId)).to.equal(1);
    }
  });

  it("serves /metrics, /healthz and /readyz", async function () {
    // The chain says fulfilled as soon as the block is mined; the daemon records it when it sees the receipt.
    const metrics = await waitFor(async () => {
      const text = await (await fetch(`${oracle.url}/metrics`)).text();
      return /oracle_jobs\{state="fulfilled"\} 2/.test(text) ? text : undefined;
    }, "both jobs fulfilled in the store");
    expect(metrics).to.include("oracle_evaluation_seconds_bucket");
    expect(metrics).to.include("oracle_chain_lag_blocks");
    expect(metrics).to.include("oracle_balance_eth");
    expect((await fetch(`${oracle.url}/healthz`)).status).to.equal(200);
    const ready = await waitFor(async () => ((await fetch(`${oracle.url}/readyz`)).status === 200 ? true : undefined), "ready");
    expect(ready).to.equal(true);
  });
});
