import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";
import { hexlify, randomBytes, ZeroHash } from "ethers";
import { pino } from "pino";

import { sha256Hex } from "../../core/hash.js";
import { FheClient } from "../../fhe/client.js";
import { openSecretKey, writeEvaluationKeysBlob } from "../../fhe/keys.js";
import { startGatewayService, type GatewayService } from "../../gateway/service.js";
import { registerPatient, type KeySetToSave, type OnboardingStep } from "../../sdk/actions/registerPatient.js";
import { rotateKeySet } from "../../sdk/actions/rotateKeySet.js";
import { createMedCipherClient, type MedCipherClient } from "../../sdk/client.js";
import { paramSetIdToBytes32 } from "../../sdk/predictions.js";
import { Category, Purpose } from "../../protocol/codes.js";
import { freshEvaluationKeys, startFixture, TEST_PARAM_SET, TEST_PARAM_SET_ID, type Actor, type Fixture } from "./fixture.js";

async function rejection(promise: Promise<unknown>): Promise<{ code?: string; message?: string; status?: number; details?: Record<string, unknown> }> {
  return promise.then(() => expect.fail("expected a rejection"), (error: unknown) => error as { code?: string });
}

describe("sdk onboarding: keys saved first, uploaded before registering, resumable; key-set rotation", function () {
  this.timeout(120_000);
  let fx: Fixture;
  let dataDir: string;

  before(async function () {
    fx = await startFixture();
    dataDir = await mkdtemp(join(tmpdir(), "medcipher-onboarding-"));
  });
  after(async function () {
    await fx?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Another gateway on the fixture's chain (same registered key), with its own block-number cache window. */
  async function gatewayWithBlockTtl(blockNumberTtlMs: number): Promise<GatewayService> {
    return startGatewayService({
      dataDir: await mkdtemp(join(dataDir, "gw-")),
      provider: fx.provider,
      addresses: fx.addresses,
      signingKey: fx.gatewayKey.signingKey,
      anchorIntervalMs: 0,
      blockNumberTtlMs,
      logger: pino({ level: "silent" }),
    });
  }

  async function clientOn(actor: Actor, gatewayUrl: string): Promise<MedCipherClient> {
    return createMedCipherClient({ account: actor.wallet, addresses: fx.addresses, gatewayUrl, encryptionKey: actor.encryptionKey });
  }

  it("registerPatient_aGatewayCallJustBeforeRegistering_noLongerFailsTheKeyUpload", async function () {
    // The gateway reuses a block number for blockNumberTtlMs and caches chain views per block: a
    // call that found "not a patient" keeps that answer for the window. Uploading after the
    // registration transaction therefore failed 403 inside the window; uploading first does not.
    const gateway = await gatewayWithBlockTtl(3_000);
    try {
      const patient = await fx.actor("patient");
      const client = await clientOn(patient, gateway.url);
      const early = await rejection(client.gateway!.put(randomBytes(64), { owner: patient.wallet.address, kind: "record", category: Category.VITAL_SIGNS }));
      expect(early.code).to.equal("GATEWAY_FORBIDDEN");
      await new Promise((resolve) => setTimeout(resolve, 500));
      const evaluationKeys = await freshEvaluationKeys();
      const result = await registerPatient(client, { encryptionPublicKey: patient.encryptionKey.publicKey, evaluationKeys, paramSetId: TEST_PARAM_SET });
      expect(result.alreadyRegistered).to.equal(false);
      expect(await fx.suite.identity.keySetOf(patient.wallet.address)).to.deep.equal([result.keysHash, TEST_PARAM_SET]);
      expect(await client.gateway!.get(result.keysHash, { purpose: Purpose.PATRQT })).to.deep.equal(evaluationKeys);
    } finally {
      await gateway.close();
    }
  });

  it("registerPatient_savesTheKeySetBeforeAnythingIsSent_andAFailedUploadLeavesTheAccountUnregistered", async function () {
    const patient = await fx.actor("patient");
    const gateway = await gatewayWithBlockTtl(0);
    const client = await clientOn(patient, gateway.url);
    await gateway.close();
    const evaluationKeys = await freshEvaluationKeys();
    const steps: OnboardingStep[] = [];
    const saved: KeySetToSave[] = [];
    const error = await rejection(registerPatient(client, {
      encryptionPublicKey: patient.encryptionKey.publicKey, evaluationKeys, paramSetId: TEST_PARAM_SET,
      saveKeySet: async (keySet) => { steps.push("save"); saved.push(keySet); },
      onProgress: (step) => { if (step !== "save") steps.push(step); },
    }));
    expect(error.code).to.equal("SDK_GATEWAY_UNAVAILABLE");
    expect(steps).to.deep.equal(["save", "upload"]);
    expect(saved[0]!.keysHash).to.equal(sha256Hex(evaluationKeys));
    expect((await fx.suite.identity.keySetOf(patient.wallet.address))[0]).to.equal(ZeroHash);

    // The retry with the saved key set, against a gateway that answers, finishes.
    const retry = await registerPatient(patient.client, { encryptionPublicKey: patient.encryptionKey.publicKey, evaluationKeys, paramSetId: TEST_PARAM_SET });
    expect(retry.keysHash).to.equal(saved[0]!.keysHash);
    expect((await fx.suite.identity.keySetOf(patient.wallet.address))[0]).to.equal(retry.keysHash);
  });

  it("registerPatient_again_isAnIdempotentResume_notPatientAlreadyRegistered", async function () {
    const patient = await fx.actor("patient");
    const evaluationKeys = await freshEvaluationKeys();
    const parameters = { encryptionPublicKey: patient.encryptionKey.publicKey, evaluationKeys, paramSetId: TEST_PARAM_SET };
    const first = await registerPatient(patient.client, parameters);
    const steps: OnboardingStep[] = [];
    const again = await registerPatient(patient.client, { ...parameters, onProgress: (step) => steps.push(step) });
    expect(again).to.deep.include({ keysHash: first.keysHash, alreadyRegistered: true });
    expect(again.transactionHash).to.equal(undefined);
    expect(steps).to.deep.equal(["upload"]);
    // Another key set for a registered patient points at rotation, the way out.
    const other = await rejection(registerPatient(patient.client, { ...parameters, evaluationKeys: (await freshEvaluationKeys()) }));
    expect(other.code).to.equal("SDK_INVALID_INPUT");
    expect(other.message).to.include("rotateKeySet");
    expect(other.details).to.include({ registeredKeysHash: first.keysHash });
  });

  it("gateway_refusesAnUnregisteredAccountAnythingButItsOwnKeySetBoundToItsHash", async function () {
    const stranger = await fx.actor("stranger");
    const gateway = stranger.client.gateway!;
    const keys = await freshEvaluationKeys();
    // Not bound to its hash (ref zero, or another value), another category, or another kind: refused.
    for (const put of [
      { kind: "he-keys" as const, category: Category.PREDICTION },
      { kind: "he-keys" as const, category: Category.PREDICTION, ref: hexlify(randomBytes(32)) },
      { kind: "he-keys" as const, category: Category.VITAL_SIGNS, ref: sha256Hex(keys) },
      { kind: "record" as const, category: Category.VITAL_SIGNS, ref: sha256Hex(keys) },
    ]) {
      expect((await rejection(gateway.put(keys, { owner: stranger.wallet.address, ...put }))).code).to.equal("GATEWAY_FORBIDDEN");
    }
    // Someone else's key set, even bound to its hash: refused.
    const patient = await fx.actor("patient");
    expect((await rejection(gateway.put(keys, { owner: patient.wallet.address, kind: "he-keys", category: Category.PREDICTION, ref: sha256Hex(keys) }))).code).to.equal("GATEWAY_FORBIDDEN");
    expect(await gateway.put(keys, { owner: stranger.wallet.address, kind: "he-keys", category: Category.PREDICTION, ref: sha256Hex(keys) })).to.equal(sha256Hex(keys));
  });

  it("rotateKeySet_savesUploadsThenRotates_andARetryDoesNotRotateTwice", async function () {
    const patient = await fx.actor("patient");
    const first = await registerPatient(patient.client, { encryptionPublicKey: patient.encryptionKey.publicKey, evaluationKeys: (await freshEvaluationKeys()), paramSetId: TEST_PARAM_SET });
    const next = await freshEvaluationKeys();
    const steps: OnboardingStep[] = [];
    const rotated = await rotateKeySet(patient.client, {
      evaluationKeys: next, paramSetId: TEST_PARAM_SET,
      saveKeySet: async () => { steps.push("save"); },
      onProgress: (step) => { if (step !== "save") steps.push(step); },
    });
    expect(steps).to.deep.equal(["save", "upload", "send", "confirm"]);
    expect(rotated).to.deep.include({ keysHash: sha256Hex(next), previousKeysHash: first.keysHash, alreadyRotated: false });
    const info = await fx.suite.identity.patientOf(patient.wallet.address);
    expect(info.keysHash).to.equal(rotated.keysHash);
    expect(info.keyVersion).to.equal(2n);
    expect(await patient.client.gateway!.get(rotated.keysHash, { purpose: Purpose.PATRQT })).to.deep.equal(next);
    const again = await rotateKeySet(patient.client, { evaluationKeys: next, paramSetId: TEST_PARAM_SET });
    expect(again.alreadyRotated).to.equal(true);
    expect(again.transactionHash).to.equal(undefined);
    expect((await fx.suite.identity.patientOf(patient.wallet.address)).keyVersion).to.equal(2n);
  });

  it("rotateKeySet_refusesAnAccountThatIsNotRegistered_namingRegistration", async function () {
    const stranger = await fx.actor("stranger");
    const error = await rejection(rotateKeySet(stranger.client, { evaluationKeys: await freshEvaluationKeys(), paramSetId: TEST_PARAM_SET }));
    expect(error.code).to.equal("SDK_INVALID_INPUT");
    expect(error.message).to.include("register");
  });

  it("registerPatient_andRotateKeySet_refuseASecretKeyPassedAsTheKeySet_beforeSavingUploadingOrSending", async function () {
    const patient = await fx.actor("patient");
    const fhe = await FheClient.generate(TEST_PARAM_SET_ID);
    try {
      const { secretKeyBytes } = await openSecretKey(await fhe.exportSecretKey("pass"), "pass");
      const mistaken = writeEvaluationKeysBlob(TEST_PARAM_SET_ID, { publicKey: secretKeyBytes });
      const steps: string[] = [];
      const error = await rejection(registerPatient(patient.client, {
        encryptionPublicKey: patient.encryptionKey.publicKey, evaluationKeys: mistaken, paramSetId: TEST_PARAM_SET,
        saveKeySet: async () => { steps.push("save"); },
        onProgress: (step) => steps.push(step),
      }));
      expect(error.code).to.equal("FHE_NOT_PUBLIC_KEYS");
      expect(steps).to.deep.equal([]);
      expect((await rejection(patient.client.gateway!.get(sha256Hex(mistaken), { purpose: Purpose.PATRQT }))).code).to.equal("GATEWAY_BLOB_NOT_FOUND");
      expect((await fx.suite.identity.keySetOf(patient.wallet.address))[0]).to.equal(ZeroHash);
      // The exported secret key, and real keys named under another parameter set: refused too.
      expect((await rejection(registerPatient(patient.client, { encryptionPublicKey: patient.encryptionKey.publicKey, evaluationKeys: await fhe.exportSecretKey("pass"), paramSetId: TEST_PARAM_SET }))).code).to.equal("FHE_NOT_PUBLIC_KEYS");
      expect((await rejection(registerPatient(patient.client, { encryptionPublicKey: patient.encryptionKey.publicKey, evaluationKeys: fhe.evaluationKeys(), paramSetId: paramSetIdToBytes32("ckks-8192-v1") }))).code).to.equal("FHE_NOT_PUBLIC_KEYS");
      // Rotation: the same check, before anything leaves the client.
      await registerPatient(patient.client, { encryptionPublicKey: patient.encryptionKey.publicKey, evaluationKeys: fhe.evaluationKeys(), paramSetId: TEST_PARAM_SET });
      expect((await rejection(rotateKeySet(patient.client, { evaluationKeys: mistaken, paramSetId: TEST_PARAM_SET }))).code).to.equal("FHE_NOT_PUBLIC_KEYS");
      expect((await fx.suite.identity.patientOf(patient.wallet.address)).keyVersion).to.equal(1n);
    } finally {
      fhe.dispose();
    }
  });
});
