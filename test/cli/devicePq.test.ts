import { join } from "node:path";

import { expect } from "chai";

import { readKeystore } from "../../sdk/keystore.js";
import { ExitCode } from "../../cli/exitCodes.js";
import { PASSWORD, ROOT, startCliHarness, type CliHarness } from "./harness.js";

const SAMPLE_READINGS = join(ROOT, "docs/examples/readings.csv");

describe("cli: a post-quantum device (device bind --pq)", function () {
  this.timeout(240_000);
  let cli: CliHarness;
  let patient: { address: string };
  let device: { address: string };

  before(async function () {
    cli = await startCliHarness();
    [patient, device] = await Promise.all([cli.newIdentity("patient"), cli.newIdentity("pq-device")]);
    await cli.newIdentity("vendor", { VENDOR_KEY: cli.fx.vendorKey }, "--import-env", "VENDOR_KEY");
    expect((await cli.medcipher("patient", ["patient", "register"])).code).to.equal(0);
    expect((await cli.medcipher("vendor", ["device", "register", device.address])).code).to.equal(0);
  });
  after(async function () {
    await cli?.close();
  });

  it("bind --pq makes and keeps the device's ML-DSA-65 key, commits to it on-chain; ingest then signs every record; verify says so", async function () {
    const bind = await cli.medcipher("patient", ["--json", "device", "bind", "pq-device", "--days", "1", "--pq"]);
    expect(bind.code, bind.stderr).to.equal(0);
    const { pqKeyHash } = bind.json<{ pqKeyHash: string }>();
    expect((await cli.fx.suite.identity.deviceOf(device.address)).pqKeyHash).to.equal(pqKeyHash);
    const { secrets } = await readKeystore(join(cli.home, "keys", "pq-device.json"), PASSWORD);
    expect(secrets.pqSigning).to.include({ alg: "ML-DSA-65", publicKeyHash: pqKeyHash });
    // Binding again keeps the same key (the chain already commits to it).
    const again = await cli.medcipher("patient", ["--json", "device", "bind", "pq-device", "--days", "1", "--pq"]);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.json<{ pqKeyHash: string }>().pqKeyHash).to.equal(pqKeyHash);

    const ingest = await cli.medcipher("pq-device", ["--json", "ingest", SAMPLE_READINGS, "--patient", patient.address]);
    expect(ingest.code, ingest.stderr).to.equal(0);
    const [record] = ingest.json<{ records: { blobId: string }[] }>().records;
    const verify = await cli.medcipher("patient", ["--json", "verify", record!.blobId]);
    expect(verify.code, verify.stderr).to.equal(0);
    expect(verify.json<{ deviceSignature: { device: string; publicKeyHash: string } }>().deviceSignature).to.include({ device: device.address, publicKeyHash: pqKeyHash });
    const text = await cli.medcipher("patient", ["verify", record!.blobId]);
    expect(text.stdout).to.include(`ML-DSA-65 signature of device ${device.address}`);
  });

  it("a device bound with --pq whose keystore lost its key cannot ingest: the gateway refuses unsigned records (exit 6)", async function () {
    // Another identity with the same address but no ML-DSA key: the device's keystore as it was before `bind --pq`.
    const { secrets } = await readKeystore(join(cli.home, "keys", "pq-device.json"), PASSWORD);
    const bare = await cli.newIdentity("pq-device-without-key", { DEVICE_KEY: secrets.privateKey! }, "--import-env", "DEVICE_KEY");
    expect(bare.address).to.equal(device.address);
    const run = await cli.medcipher("pq-device-without-key", ["ingest", SAMPLE_READINGS, "--patient", patient.address]);
    expect(run.code, run.stderr).to.equal(ExitCode.INTEGRITY);
    expect(run.stderr).to.include("GATEWAY_RECORD_SIGNATURE_MISSING");
  });
});
