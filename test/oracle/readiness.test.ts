import { createServer } from "node:net";

import { expect } from "chai";

import { startOracle, type OracleHandle } from "../../oracle/daemon.js";
import { ORACLE_ROLE } from "../../oracle/server/readiness.js";
import { createWorld, logSink, waitFor, type World } from "./helpers/world.js";

type Readyz = { ready: boolean; failing: string[]; checks: Record<string, { ok: boolean; error?: string }> };

async function readyz(oracle: OracleHandle): Promise<{ status: number; body: Readyz }> {
  const response = await fetch(`${oracle.url}/readyz`);
  return { status: response.status, body: (await response.json()) as Readyz };
}

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("oracle /readyz: its role on-chain and the gateway", function () {
  this.timeout(180_000);
  let world: World;
  const oracles: OracleHandle[] = [];

  before(async function () {
    world = await createWorld({ patients: 0 });
  });
  after(async function () {
    for (const oracle of oracles) await oracle.stop();
    await world?.close();
  });

  async function start(overrides: Parameters<World["settings"]>[0] = {}): Promise<OracleHandle> {
    const oracle = await startOracle({ settings: world.settings({ WORKER_THREADS: 1, ...overrides }), logDestination: logSink().stream });
    oracles.push(oracle);
    return oracle;
  }

  it("is ready when its account holds ORACLE_ROLE, is the Operator's sender and the gateway answers as GATEWAY_ADDRESS; the body names each check", async function () {
    const oracle = await start();
    const ready = await waitFor(async () => { const r = await readyz(oracle); return r.status === 200 ? r : undefined; }, "ready");
    expect(ready.body).to.deep.include({ ready: true, failing: [] });
    expect(Object.keys(ready.body.checks)).to.include.members(["oracleRole", "authorisedSender", "gateway", "chainFresh", "chainLag", "workers", "notStopping"]);
    for (const check of Object.values(ready.body.checks)) expect(check.ok).to.equal(true);
  });

  it("answers 503 naming ORACLE_ROLE once the role is revoked, and is ready again when it is granted back", async function () {
    const oracle = oracles[0]!;
    await (await world.suite.identity.revokeRole(ORACLE_ROLE, world.oracleKey.address)).wait();
    const refused = await readyz(oracle);
    expect(refused.status).to.equal(503);
    expect(refused.body.failing).to.deep.equal(["oracleRole"]);
    expect(refused.body.checks.oracleRole!.error).to.include("ORACLE_ROLE").and.include(world.oracleKey.address);

    await (await world.suite.identity.grantRole(ORACLE_ROLE, world.oracleKey.address)).wait();
    expect((await readyz(oracle)).status).to.equal(200);
  });

  it("answers 503 naming the gateway when the gateway does not answer, or answers as another address", async function () {
    const down = await start({ GATEWAY_URL: `http://127.0.0.1:${await closedPort()}` });
    const refused = await waitFor(async () => { const r = await readyz(down); return r.body.checks.chainFresh?.ok ? r : undefined; }, "following the chain");
    expect(refused.status).to.equal(503);
    expect(refused.body.failing).to.deep.equal(["gateway"]);
    expect(refused.body.checks.gateway!.error).to.match(/gateway does not answer/);

    const impostor = await start({ GATEWAY_ADDRESS: world.oracleKey.address });
    const wrong = await waitFor(async () => { const r = await readyz(impostor); return r.body.checks.chainFresh?.ok ? r : undefined; }, "following the chain");
    expect(wrong.status).to.equal(503);
    expect(wrong.body.failing).to.deep.equal(["gateway"]);
    expect(wrong.body.checks.gateway!.error).to.include(`not GATEWAY_ADDRESS ${world.oracleKey.address}`);
  });
});
