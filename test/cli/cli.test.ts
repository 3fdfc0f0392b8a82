import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";
import { Wallet } from "ethers";

import { ExitCode } from "../../cli/exitCodes.js";
import { startFixture, type Fixture } from "../sdk/fixture.js";
import { serveJsonRpc } from "../../deploy/jsonRpcServer.js";

/** Hardhat's first development account: the deployer, hence governance, of the fixture's suite. */
const HARDHAT_ACCOUNT_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

type Run = { code: number; stdout: string; stderr: string; json: <T>() => T };

describe("cli: medcipher against a real chain (JSON-RPC over loopback) and gateway", function () {
  this.timeout(180_000);
  let fx: Fixture;
  let rpc: Awaited<ReturnType<typeof serveJsonRpc>>;
  let home: string;
  let deployment: string;

  function medcipher(identity: string, ...args: string[]): Promise<Run> {
    return medcipherWithEnv({}, identity, ...args);
  }

  function medcipherWithEnv(env: Record<string, string>, identity: string, ...args: string[]): Promise<Run> {
    const argv = ["--import", "tsx", "cli/medcipher.ts", "--home", home, "--rpc", rpc.url, "--deployment", deployment, "--gateway", fx.service.url, "--identity", identity, ...args];
    return new Promise((resolve) => {
      execFile(process.execPath, argv, { env: { ...process.env, MEDCIPHER_PASSWORD: "test password", VENDOR_KEY: fx.vendorKey, ...env } }, (error, stdout, stderr) => {
        const code = error ? Number((error as { code?: number }).code ?? 1) : 0;
        resolve({ code, stdout, stderr, json: <T>() => JSON.parse(stdout) as T });
      });
    });
  }

  before(async function () {
    fx = await startFixture();
    rpc = await serveJsonRpc(fx.rpc);
    home = await mkdtemp(join(tmpdir(), "medcipher-cli-"));
    deployment = join(home, "deployment.json");
    const chainId = Number((await fx.provider.getNetwork()).chainId);
    await writeFile(deployment, JSON.stringify({ chainId, contracts: Object.fromEntries(Object.entries(fx.addresses).map(([name, address]) => [name, { address }])) }));
  });
  after(async function () {
    await rpc?.close();
    await fx?.close();
    await rm(home, { recursive: true, force: true });
  });

  it("explains every command and flag", async function () {
    const run = await medcipher("default", "ingest", "--help");
    expect(run.code).to.equal(0);
    for (const flag of ["--patient", "--per-record", "--skip-invalid", "--relayer", "--json", "--rpc"]) expect(run.stdout).to.include(flag);
  });

  it("runs register → bind → ingest → grant → share → read → revoke → refused → verify → audit", async function () {
    const init = (name: string, ...extra: string[]) => medcipher(name, "--json", "keys", "init", "--scrypt-n", "1024", ...extra);
    const [patient, device, clinician] = (await Promise.all([init("patient"), init("device"), init("clinician"), init("vendor", "--import-env", "VENDOR_KEY")]))
      .map((run) => { expect(run.code, run.stderr).to.equal(0); return run.json<{ address: string; encryptionPublicKey: string }>(); });
    for (const who of [patient!, device!, clinician!]) await fx.fund(who.address);

    expect((await medcipher("patient", "patient", "register")).code).to.equal(0);
    expect((await medcipher("vendor", "device", "register", device!.address)).code).to.equal(0);
    expect((await medcipher("patient", "device", "bind", "device", "--days", "1")).code).to.equal(0);

    // A file with malformed rows is refused whole, with each bad line named.
    const bad = join(home, "bad.csv");
    await writeFile(bad, "time,metric,value\n2026-03-01T00:00:00Z,heart_rate,71\n2026-03-01T00:01:00Z,heart_rate,seventy\n2026-03-01T00:02:00Z,pulse,70\n");
    const refused = await medcipher("device", "ingest", bad, "--patient", patient!.address);
    expect(refused.code).to.equal(ExitCode.INVALID_INPUT);
    expect(refused.stderr).to.include("line 3").and.include("line 4");

    const good = join(home, "readings.csv");
    await writeFile(good, ["time,metric,value,unit", ...Array.from({ length: 12 }, (_, i) => `2026-03-01T00:${String(i).padStart(2, "0")}:00Z,heart_rate,${60 + i},/min`)].join("\n"));
    const ingest = await medcipher("device", "--json", "ingest", good, "--patient", patient!.address, "--per-record", "5");
    expect(ingest.code, ingest.stderr).to.equal(0);
    const { records } = ingest.json<{ records: { blobId: string }[] }>();
    expect(records).to.have.length(3);

    expect((await medcipher("patient", "consent", "grant", "--grantee", clinician!.address, "--purpose", "TREAT", "--categories", "VITAL_SIGNS", "--days", "1")).code).to.equal(0);
    const share = await medcipher("patient", "--json", "share", records[0]!.blobId, "--grantee", clinician!.address, "--grantee-key", clinician!.encryptionPublicKey);
    expect(share.code, share.stderr).to.equal(0);
    const { shareId } = share.json<{ shareId: string }>();

    const read = await medcipher("clinician", "--json", "read", shareId, "--purpose", "TREAT");
    expect(read.code, read.stderr).to.equal(0);
    expect(read.json<{ readings: { value: number }[] }>().readings.map((r) => r.value)).to.deep.equal([60, 61, 62, 63, 64]);

    const list = await medcipher("patient", "--json", "consent", "list");
    expect(list.json<{ active: boolean }[]>()[0]!.active).to.equal(true);

    expect((await medcipher("patient", "consent", "revoke", "--grantee", clinician!.address, "--purpose", "TREAT")).code).to.equal(0);
    const denied = await medcipher("clinician", "--json", "read", shareId, "--purpose", "TREAT");
    expect(denied.code).to.equal(ExitCode.FORBIDDEN);
    expect(JSON.parse(denied.stderr).error.code).to.equal("GATEWAY_FORBIDDEN");

    const verify = await medcipher("patient", "verify", records[2]!.blobId);
    expect(verify.code, verify.stderr).to.equal(0);
    expect(verify.stdout).to.include("verified");

    await fx.service.anchorer!.anchorNow();
    // Predictions: governance registers a model, the patient requests (no oracle runs here, so
    // waiting for the result times out with its own exit code).
    const governance = await medcipherWithEnv({ GOV_KEY: HARDHAT_ACCOUNT_0 }, "governance", "--json", "keys", "init", "--scrypt-n", "1024", "--import-env", "GOV_KEY");
    expect(governance.code, governance.stderr).to.equal(0);
    const model = await medcipher("governance", "--json", "admin", "register-model", "maternal-risk-v1");
    expect(model.code, model.stderr).to.equal(0);
    const sponsor = await medcipher("governance", "--json", "admin", "sponsor", patient!.address, "--budget", "1");
    expect(sponsor.code, sponsor.stderr).to.equal(0);
    const features = join(home, "features.json");
    await writeFile(features, JSON.stringify({ age: 30, systolicBP: 120, diastolicBP: 80, bloodGlucose: 7, bodyTemp: 98, heartRate: 76 }));
    const predict = await medcipher("patient", "--json", "predict", "--model", String(model.json<{ modelId: number }>().modelId), "--input", features);
    expect(predict.code, predict.stderr).to.equal(0);
    const { requestId } = predict.json<{ requestId: string }>();
    expect((await medcipher("patient", "result", requestId, "--timeout", "1")).code).to.equal(ExitCode.TIMEOUT);
    // Or from the patient's own device readings (heart rate here), the rest given.
    const fromRecords = await medcipher("patient", "--json", "predict", "--model", String(model.json<{ modelId: number }>().modelId), "--from-records", "--known", "age=30,systolicBP=120,diastolicBP=80,bloodGlucose=7,bodyTemp=98");
    expect(fromRecords.code, fromRecords.stderr).to.equal(0);
    // Oracles: admitted (role + Operator) and removed (both) by one command each.
    const newOracle = Wallet.createRandom().address;
    const authorised = await medcipher("governance", "admin", "authorise-oracle", newOracle);
    expect(authorised.code, authorised.stderr).to.equal(0);
    expect(await fx.suite.operator.isAuthorizedSender(newOracle)).to.equal(true);
    const removed = await medcipher("governance", "admin", "remove-oracle", newOracle);
    expect(removed.code, removed.stderr).to.equal(0);
    expect(await fx.suite.operator.isAuthorizedSender(newOracle)).to.equal(false);
    expect(await fx.suite.identity.hasRole(await fx.suite.identity.ORACLE_ROLE(), newOracle)).to.equal(false);

    const audit = await medcipher("patient", "--json", "audit");
    expect(audit.code, audit.stderr).to.equal(0);
    const trail = audit.json<{ anchoredHead: { verified: boolean }; gateway: { outcome: string; actor: string }[] }>();
    expect(trail.anchoredHead.verified).to.equal(true);
    expect(trail.gateway.some((e) => e.outcome === "refused" && e.actor === clinician!.address)).to.equal(true);
  });

  it("serves the gateway until SIGTERM", async function () {
    expect((await medcipher("gateway-operator", "keys", "init", "--scrypt-n", "1024")).code).to.equal(0);
    const child = spawn(process.execPath, ["--import", "tsx", "cli/medcipher.ts", "--home", home, "--rpc", rpc.url, "--deployment", deployment, "--identity", "gateway-operator",
      "gateway", "serve", "--port", "0", "--anchor-interval", "0", "--data-dir", join(home, "gateway-data")], { env: { ...process.env, MEDCIPHER_PASSWORD: "test password" } });
    const url = await new Promise<string>((resolve, reject) => {
      let buffered = "";
      child.stdout.on("data", (chunk: Buffer) => {
        buffered += chunk.toString();
        const match = /"url":"(http:\/\/[^"]+)"/.exec(buffered);
        if (match) resolve(match[1]!);
      });
      child.once("exit", (code) => reject(new Error(`gateway exited early (${code})`)));
    });
    expect(await (await fetch(`${url}/healthz`)).json()).to.deep.equal({ ok: true });
    const info = (await (await fetch(`${url}/v1/info`)).json()) as { chainId: number; gateway: string };
    expect(info.chainId).to.equal(Number((await fx.provider.getNetwork()).chainId));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    expect(await exited).to.equal(0);
  });

  it("tells failure kinds apart by exit code", async function () {
    const run = await medcipher("patient", "--rpc", "http://127.0.0.1:9", "consent", "list");
    expect(run.code).to.equal(ExitCode.UNAVAILABLE);
    const wrongPassword = await medcipherWithEnv({ MEDCIPHER_PASSWORD: "not the password" }, "patient", "consent", "list");
    expect(wrongPassword.code).to.equal(ExitCode.KEYSTORE);
    const unknownRecord = await medcipher("patient", "verify", `0x${"ab".repeat(32)}`);
    expect(unknownRecord.code).to.equal(ExitCode.INVALID_INPUT);
  });
});
