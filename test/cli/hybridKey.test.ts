import { join } from "node:path";

import { expect } from "chai";

import { readKeystore } from "../../sdk/keystore.js";
import { PASSWORD, ROOT, startCliHarness, type CliHarness } from "./harness.js";

const SAMPLE_READINGS = join(ROOT, "docs/examples/readings.csv");

describe("cli: keys publish-hybrid (post-quantum encryption key)", function () {
  this.timeout(240_000);
  let cli: CliHarness;
  let patient: { address: string };

  before(async function () {
    cli = await startCliHarness();
    patient = await cli.newIdentity("patient");
    expect((await cli.medcipher("patient", ["patient", "register"])).code).to.equal(0);
  });
  after(async function () {
    await cli?.close();
  });

  it("keeps the ML-KEM seed in the keystore, publishes the hybrid key once, and the patient then reads records wrapped to it", async function () {
    const path = join(cli.home, "keys", "patient.json");
    const before = (await readKeystore(path, PASSWORD)).secrets;
    const published = await cli.medcipher("patient", ["--json", "keys", "publish-hybrid"]);
    expect(published.code, published.stderr).to.equal(0);
    const result = published.json<{ keyHash: string; version: number; published: boolean }>();
    expect([result.published, result.version]).to.deep.equal([true, 1]);
    const { secrets } = await readKeystore(path, PASSWORD);
    expect(secrets.encryption, "the X25519 pair is kept as it was").to.deep.equal(before.encryption);
    expect(secrets.hybridEncryption).to.include({ alg: "X25519MLKEM768", publicKeyHash: result.keyHash });
    expect((await cli.fx.suite.identity.hybridEncryptionKeyOf(patient.address)).keyHash).to.equal(result.keyHash);

    const again = await cli.medcipher("patient", ["--json", "keys", "publish-hybrid"]);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.json<{ keyHash: string; published: boolean }>()).to.include({ keyHash: result.keyHash, published: false });
    expect((await readKeystore(path, PASSWORD)).secrets.hybridEncryption, "the same key is kept").to.deep.equal(secrets.hybridEncryption);

    const ingest = await cli.medcipher("patient", ["--json", "ingest", SAMPLE_READINGS, "--patient", patient.address]);
    expect(ingest.code, ingest.stderr).to.equal(0);
    const [record] = ingest.json<{ records: { blobId: string }[] }>().records;
    const read = await cli.medcipher("patient", ["--json", "read", record!.blobId]);
    expect(read.code, read.stderr).to.equal(0);
    expect(read.json<{ readings: unknown[] }>().readings.length).to.be.greaterThan(0);
  });
});
