/**
 * Hybrid encryption keys on a real chain with a real gateway: publishing (IdentityRegistry
 * `publishHybridEncryptionKey`), resolving (`resolveEncryptionKey`), and the records and delegated
 * shares that are then wrapped post-quantum end to end.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

import { expect } from "chai";
import { getBytes, hexlify, keccak256 } from "ethers";

import { Category, Purpose } from "../../protocol/codes.js";
import { bindDevice } from "../../sdk/actions/bindDevice.js";
import { NO_ENCRYPTION_KEY } from "../../sdk/actions/delegateRecordKey.js";
import { grantConsent } from "../../sdk/actions/grantConsent.js";
import { ingestReadings } from "../../sdk/actions/ingestReadings.js";
import { publishHybridEncryptionKey } from "../../sdk/actions/publishHybridEncryptionKey.js";
import { readDelegatedRecords } from "../../sdk/actions/readDelegatedRecords.js";
import { readRecord } from "../../sdk/actions/readRecord.js";
import { registerDevice } from "../../sdk/actions/registerDevice.js";
import { registerPatient } from "../../sdk/actions/registerPatient.js";
import type { RecordShare } from "../../sdk/actions/shareRecord.js";
import { resolveEncryptionKey } from "../../sdk/actions/resolveEncryptionKey.js";
import { sendTransaction } from "../../sdk/chain/send.js";
import { chainNow } from "../../sdk/chain/time.js";
import type { MedCipherClient } from "../../sdk/client.js";
import { HYBRID_WRAP_ALG, parseSealedRecord } from "../../sdk/crypto/envelope.js";
import { generateHybridKeyPair, hybridPublicKey, type HybridKeyPair } from "../../sdk/crypto/hybrid.js";
import { openBox } from "../../sdk/crypto/sealedBox.js";
import { ChainError } from "../../sdk/errors.js";
import type { Reading } from "../../sdk/fhir/observations.js";
import { freshEvaluationKeys, startFixture, TEST_PARAM_SET, type Actor, type Fixture } from "./fixture.js";

const DAY = 86_400;

function heartRates(count: number, startValue: number): Reading[] {
  const start = Date.parse("2026-03-01T00:00:00Z");
  return Array.from({ length: count }, (_, i) => ({ time: new Date(start + i * 60_000).toISOString(), metric: "heart_rate", value: startValue + i }));
}

async function failure(promise: Promise<unknown>): Promise<{ name?: string; code?: string; details?: Record<string, unknown>; message?: string }> {
  const error = await promise.then(() => undefined, (e: unknown) => e as { name?: string; code?: string; details?: Record<string, unknown> });
  expect(error, "expected a failure").not.to.equal(undefined);
  return error!;
}

describe("sdk: hybrid encryption keys on-chain (publish, resolve) and records wrapped to them", function () {
  this.timeout(180_000);
  let fx: Fixture;

  before(async function () {
    fx = await startFixture();
  });
  after(async function () {
    await fx?.close();
  });

  const registerAsPatient = async (actor: Actor) =>
    registerPatient(actor.client, { encryptionPublicKey: actor.encryptionKey.publicKey, evaluationKeys: await freshEvaluationKeys(), paramSetId: TEST_PARAM_SET });

  /** The actor now holds (and its client uses) a hybrid pair on its X25519 pair, published on-chain. */
  async function goHybrid(actor: Actor): Promise<HybridKeyPair> {
    const hybrid = await generateHybridKeyPair(actor.encryptionKey);
    await publishHybridEncryptionKey(actor.client, { key: hybrid });
    actor.client.encryptionKey = hybrid;
    return hybrid;
  }

  it("publishes a key (version 1), sends nothing for the same key again, republishes a new one (version 2); the contract refuses an unchanged key and a wrong length", async function () {
    const clinician = await fx.actor("clinician");
    const identity = clinician.client.contracts.identity;
    const first = await generateHybridKeyPair();
    const published = await publishHybridEncryptionKey(clinician.client, { key: first });
    expect([published.published, published.version, published.keyHash]).to.deep.equal([true, 1, keccak256(hybridPublicKey(first))]);
    const onChain = await identity.hybridEncryptionKeyOf(clinician.wallet.address);
    expect([onChain.keyHash, Number(onChain.version)]).to.deep.equal([published.keyHash, 1]);
    const receipt = await fx.provider.getTransactionReceipt(published.transactionHash!);
    expect(Number(onChain.publishedAt)).to.equal(receipt!.blockNumber);
    const [event] = await identity.queryFilter(identity.filters.HybridEncryptionKeyPublished(clinician.wallet.address));
    expect(event && "args" in event ? getBytes(event.args.key) : undefined, "the event carries the whole public key").to.deep.equal(hybridPublicKey(first));

    const nonceBefore = await fx.provider.getTransactionCount(clinician.wallet.address);
    const again = await publishHybridEncryptionKey(clinician.client, { key: hybridPublicKey(first) });
    expect([again.published, again.version, again.transactionHash]).to.deep.equal([false, 1, null]);
    expect(await fx.provider.getTransactionCount(clinician.wallet.address), "idempotent: no transaction sent").to.equal(nonceBefore);

    const second = await generateHybridKeyPair();
    const republished = await publishHybridEncryptionKey(clinician.client, { key: second });
    expect([republished.published, republished.version]).to.deep.equal([true, 2]);
    expect(await resolveEncryptionKey(clinician.client, clinician.wallet.address), "the latest key is the one resolved").to.deep.equal(hybridPublicKey(second));

    const unchanged = await failure(sendTransaction("publishHybridEncryptionKey", () => identity.publishHybridEncryptionKey(hexlify(hybridPublicKey(second)))));
    expect(unchanged).to.be.instanceOf(ChainError);
    expect([(unchanged as ChainError).reason, (unchanged as ChainError).args.keyHash]).to.deep.equal(["HybridKeyUnchanged", republished.keyHash]);
    const wrongLength = await failure(sendTransaction("publishHybridEncryptionKey", () => identity.publishHybridEncryptionKey(hexlify(new Uint8Array(1184)))));
    expect([(wrongLength as ChainError).reason, (wrongLength as ChainError).args.length]).to.deep.equal(["InvalidHybridKey", "1184"]);
    // The SDK refuses a wrong length before sending anything.
    const local = await failure(publishHybridEncryptionKey(clinician.client, { key: new Uint8Array(1215) }));
    expect([local.code, local.details?.reason]).to.deep.equal(["SDK_INVALID_INPUT", "bad-encryption-key-length"]);
  });

  it("resolveEncryptionKey: the published hybrid key, else the registered X25519 key, else NO_ENCRYPTION_KEY; a key that does not match its hash is an integrity error", async function () {
    const reader = await fx.actor("reader");
    const patient = await fx.actor("patient");
    await registerAsPatient(patient);
    expect(await resolveEncryptionKey(reader.client, patient.wallet.address), "registered patient, no hybrid key: its X25519 key").to.deep.equal(patient.encryptionKey.publicKey);
    const hybrid = await goHybrid(patient);
    expect(await resolveEncryptionKey(reader.client, patient.wallet.address)).to.deep.equal(hybridPublicKey(hybrid));

    const nobody = await fx.actor("nobody");
    const none = await failure(resolveEncryptionKey(reader.client, nobody.wallet.address));
    expect([none.code, none.details?.reason]).to.deep.equal(["SDK_INVALID_INPUT", NO_ENCRYPTION_KEY]);

    // An RPC node that answers the event with another key (the commitment still holds the real hash).
    const identity = reader.client.contracts.identity;
    const lying = new Proxy(identity, {
      get(target, property, receiver) {
        if (property !== "queryFilter") return Reflect.get(target, property, receiver) as unknown;
        return async (...args: Parameters<typeof identity.queryFilter>) => {
          const events = await target.queryFilter(...args);
          return events.map((e) => {
            if (!("args" in e)) return e;
            const key = getBytes(e.args.key);
            key[100] = key[100]! ^ 0x01;
            return { ...e, args: { ...e.args, keyHash: e.args.keyHash, key: hexlify(key) } };
          });
        };
      },
    });
    const lied: MedCipherClient = { ...reader.client, contracts: { ...reader.client.contracts, identity: lying } };
    const integrity = await failure(resolveEncryptionKey(lied, patient.wallet.address));
    expect([integrity.code, integrity.details?.keyHash]).to.deep.equal(["SDK_INTEGRITY", keccak256(hybridPublicKey(hybrid))]);
  });

  it("end to end: the device wraps to the patient's hybrid key, the patient reads; a clinician who is not a patient gets a hybrid delegated share and reads it", async function () {
    const patient = await fx.actor("patient");
    const device = await fx.actor("device");
    const vendor = await fx.actor("vendor");
    const clinician = await fx.actor("clinician");
    await registerAsPatient(patient);
    await registerDevice(vendor.client, { device: device.wallet.address });
    await bindDevice(patient.client, { device: device.wallet, expiresAt: (await chainNow(fx.provider)) + 30 * DAY });
    await goHybrid(patient);
    await goHybrid(clinician);
    expect((await clinician.client.contracts.identity.patientOf(clinician.wallet.address)).registeredAt, "the clinician is not a patient").to.equal(0n);
    await grantConsent(patient.client, { grantee: clinician.wallet.address, purpose: Purpose.TREAT, categories: [Category.VITAL_SIGNS], validUntil: (await chainNow(fx.provider)) + DAY });

    const ingested = await ingestReadings(device.client, { patient: patient.wallet.address, readings: heartRates(30, 70), readingsPerRecord: 20 });
    expect(ingested.records).to.have.length(2);
    expect(ingested.delegation?.skipped).to.deep.equal([]);
    expect(ingested.delegation?.shares.map((s) => s.grantee)).to.deep.equal([clinician.wallet.address, clinician.wallet.address]);

    for (const record of ingested.records) {
      const blob = await patient.client.gateway!.get(record.blobId, { purpose: Purpose.PATRQT });
      expect(parseSealedRecord(blob).header.wrap.alg, "the record's header wrap is hybrid").to.equal(HYBRID_WRAP_ALG);
    }
    const read = await readRecord(patient.client, { record: ingested.records[0]! });
    expect(read.readings.map((r) => r.value)).to.deep.equal(heartRates(20, 70).map((r) => r.value));
    // The patient's X25519 pair alone no longer opens it, and says why.
    const classicOnly: MedCipherClient = { ...patient.client, encryptionKey: patient.encryptionKey };
    const refused = await failure(readRecord(classicOnly, { record: ingested.records[0]! }));
    expect([refused.code, refused.details?.reason]).to.deep.equal(["SDK_DECRYPTION", "mlkem-key-needed"]);

    const share = await clinician.client.gateway!.get(ingested.delegation!.shares[0]!.shareId, { purpose: Purpose.TREAT });
    expect(new TextDecoder().decode(share.subarray(0, 4)), "the share is a hybrid sealed box").to.equal("MCH1");
    const opened = JSON.parse(new TextDecoder().decode(await openBox(share, clinician.client.encryptionKey!))) as RecordShare;
    expect(opened.wrap.alg, "the share's wrap is hybrid").to.equal(HYBRID_WRAP_ALG);

    const delegated = await readDelegatedRecords(clinician.client, { patient: patient.wallet.address, purpose: Purpose.TREAT });
    expect(delegated.rejected).to.deep.equal([]);
    expect(delegated.records.flatMap((r) => r.readings.map((reading) => reading.value))).to.deep.equal(heartRates(30, 70).map((r) => r.value));

    // Canary: no ML-KEM seed (nor X25519 private key) reached the chain or the gateway's files and log.
    const secrets = [patient, clinician].flatMap((actor) => {
      const pair = actor.client.encryptionKey as HybridKeyPair;
      return [pair.mlkem.seed, pair.x25519.privateKey];
    });
    const publicHex = Buffer.from(hybridPublicKey(clinician.client.encryptionKey as HybridKeyPair)).toString("hex");
    const chain: string[] = [];
    const latest = await fx.provider.getBlockNumber();
    for (let n = 0; n <= latest; n++) {
      const block = (await fx.provider.send("eth_getBlockByNumber", [`0x${n.toString(16)}`, true])) as { transactions: { hash: string }[] };
      chain.push(JSON.stringify(block));
      for (const tx of block.transactions) chain.push(JSON.stringify(await fx.provider.send("eth_getTransactionReceipt", [tx.hash])));
    }
    const chainText = chain.join("\n").toLowerCase();
    expect(chainText.includes(publicHex), "self-check: the scan finds the published public key").to.equal(true);
    const files = await Promise.all((await readdir(fx.dataDir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => readFile(join(e.parentPath, e.name))));
    expect(files.length).to.be.greaterThan(3);
    for (const secret of secrets) {
      const hex = Buffer.from(secret).toString("hex");
      const b64 = Buffer.from(secret).toString("base64url");
      expect(chainText.includes(hex), "a secret key on-chain").to.equal(false);
      for (const file of files) expect(file.toString("hex").includes(hex) || file.toString("latin1").includes(b64), "a secret key in a gateway file or log").to.equal(false);
    }
  });
});
