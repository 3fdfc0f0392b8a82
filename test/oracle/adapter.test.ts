import { expect } from "chai";
import { Wallet } from "ethers";

import { sha256Hex } from "../../core/hash.js";
import { startOracle, type OracleHandle } from "../../oracle/daemon.js";
import { parseAdapterRequest } from "../../oracle/server/adapter.js";
import { createWorld, logSink, waitFor, type World } from "./helpers/world.js";

describe("oracle as a Chainlink external adapter", function () {
  this.timeout(120_000);
  let world: World;
  let oracle: OracleHandle;
  const TOKEN = "bridge-secret-token";

  before(async function () {
    world = await createWorld({ patients: 1 });
    // Adapter only: a Chainlink node fulfils, the daemon neither follows the chain nor sends.
    oracle = await startOracle({ settings: world.settings({ ADAPTER_ONLY: true, ADAPTER_TOKEN: TOKEN }), logDestination: logSink().stream });
  });
  after(async function () {
    await oracle?.stop();
    await world?.close();
  });

  const post = (body: unknown, token = TOKEN) => fetch(`${oracle.url}/adapter`, {
    method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify(body),
  });

  it("answers { id, data: { requestId } } with the adapter shape, and a Chainlink node can fulfil with it", async function () {
    const patient = world.patients[0]!;
    const { requestId, input } = await world.request(patient);
    const response = await post({ id: "run-7", data: { requestId } });
    expect(response.status).to.equal(200);
    const body = (await response.json()) as { jobRunID: string; statusCode: number; result: string; data: { resultHash: string; failureCode: number; fulfilmentData: string } };
    expect(body.jobRunID).to.equal("run-7");
    expect(body.statusCode).to.equal(200);
    expect(body.data.failureCode).to.equal(0);
    expect(body.result).to.equal(body.data.resultHash);

    // What the node's ethtx task does with the answer.
    const [log] = await world.suite.operator.queryFilter(world.suite.operator.filters.OracleRequest(), 0, "latest").then((logs) => logs.filter((l) => l.args.requestId === requestId));
    const node = new Wallet(world.oracleKey.privateKey, world.ethers.provider);
    await (await world.suite.operator.connect(node).fulfillOracleRequest2(requestId, log!.args.payment, log!.args.callbackAddr, log!.args.callbackFunctionId, log!.args.cancelExpiration, body.data.fulfilmentData, { gasLimit: 700_000 })).wait();
    const onChain = await world.status(requestId);
    expect(onChain.status).to.equal(2n);
    const result = await patient.gateway.get(onChain.resultHash, { purpose: 0 });
    const model = world.artifacts.find((m) => m.id === "maternal-risk-v1")!;
    expect(patient.fhe.decrypt(model, result, { inputHash: sha256Hex(input) })).to.have.length(1);
    await waitFor(async () => (await world.fulfilmentCount(requestId)) === 1, "one fulfilment");
  });

  it("answers bad input with a failure code the node can post", async function () {
    const { requestId } = await world.requestRaw(world.patients[0]!, new TextEncoder().encode("garbage"));
    const body = (await (await post({ id: 2, data: { requestId } })).json()) as { data: { failureCode: number } };
    expect(body.data.failureCode).to.equal(7);
  });

  it("refuses callers without the bridge token, unknown fields and anything that could carry a secret", async function () {
    const requestId = "0x" + "12".repeat(32);
    expect((await post({ id: 1, data: { requestId } }, "wrong")).status).to.equal(401);
    for (const body of [
      { id: 1, data: { requestId, secretKey: "AAAA" } },
      { id: 1, data: { requestId, plaintext: [1, 2, 3] } },
      { id: 1, data: { requestId, decryptedScore: 0.7 } },
      { id: 1, privateKey: "0x01", data: { requestId } },
      { id: 1, data: { requestId, extra: 1 } },
      { id: 1, data: { requestId: "0x1234" } },
      { id: 1 },
    ]) {
      const response = await post(body);
      expect(response.status, JSON.stringify(body)).to.equal(400);
      const answer = (await response.json()) as { status: string; error: { name: string } };
      expect(answer.status).to.equal("errored");
    }
    expect(() => parseAdapterRequest({ data: { requestId, sk: "x" } })).to.throw(/not accepted/);
  });

  it("reports a request that is not pending as an error", async function () {
    const response = await post({ id: 3, data: { requestId: "0x" + "34".repeat(32) } });
    expect(response.status).to.equal(400);
  });
});
